package vnode_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
)

func openMemory(t *testing.T) persistence.Engine {
	t.Helper()
	e, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func (h *harness) pull(maxKeys uint32) *messages.HandoffPullReply {
	h.t.Helper()
	r := h.ask(&messages.Envelope{Body: &messages.Envelope_HandoffPullRequest{HandoffPullRequest: &messages.HandoffPullRequest{
		Partition: partition, MaxKeys: maxKeys, MaxBytes: 1 << 20,
	}}})
	if r.GetHandoffPullReply() == nil {
		h.t.Fatalf("pull: %v", r)
	}
	return r.GetHandoffPullReply()
}

func (h *harness) drop(generation uint64) *vnode.Dropped {
	h.t.Helper()
	res, err := h.system.Root.RequestFuture(h.pid, &vnode.Drop{Generation: generation}, 30*time.Second).Result()
	if err != nil {
		h.t.Fatalf("drop not answered: %v", err)
	}
	return res.(*vnode.Dropped)
}

// A Drop deletes the partition only if no write arrived since the pull
// whose generation it carries.
func TestVnode_DropHonoursTheGeneration(t *testing.T) {
	for _, engine := range []struct {
		name string
		open func(*testing.T) persistence.Engine
	}{{"memory", openMemory}, {"badger sync writes", openSyncBadger}} {
		t.Run(engine.name, func(t *testing.T) {
			h := startVnode(t, engine.open(t))
			h.put("a", "1", nil)
			h.put("b", "2", nil)
			p := h.pull(10)
			if len(p.GetEntries()) != 2 || !p.GetDone() || p.GetTotalKeys() != 2 {
				t.Fatalf("pull: %d entries, done %v, total %d; want 2, true, 2", len(p.GetEntries()), p.GetDone(), p.GetTotalKeys())
			}
			h.put("c", "3", nil)
			if d := h.drop(p.GetGeneration()); d.Done || d.Partition != partition || d.Err != nil {
				t.Fatalf("a drop after a later write: %+v, want refused", d)
			}
			p = h.pull(10)
			if d := h.drop(p.GetGeneration()); !d.Done || d.Keys != 3 {
				t.Fatalf("a drop at the current generation: %+v, want done with 3 keys", d)
			}
			if _, ok := h.stored("a"); ok || len(h.get("c").Siblings) != 0 {
				t.Fatal("keys survived the drop")
			}
		})
	}
}

// Requests the vnode does not know, and malformed ones, are answered with
// an error rather than left to time out; the ops metric counts them as
// before.
func TestVnode_RefusesWhatItCannotRead(t *testing.T) {
	engine := openMemory(t)
	m := metrics.New()
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := startVnodeWith(t, engine, vnode.Config{Partition: partition, Engine: engine, Minter: minter, Metrics: m})
	if e := h.ask(&messages.Envelope{}).GetErrorReply(); e.GetCode() != vnode.CodeUnknown {
		t.Errorf("an empty envelope: %v, want %s", e, vnode.CodeUnknown)
	}
	bad := &messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
		Key: []byte("k"), Context: []*messages.Dot{{Actor: 1, Counter: 2}, {Actor: 1, Counter: 3}},
	}}}
	if e := h.ask(bad).GetErrorReply(); e.GetCode() != vnode.CodeBadRequest {
		t.Errorf("a malformed context: %v, want %s", e, vnode.CodeBadRequest)
	}
	h.put("k", "v", nil)
	h.get("k")
	for _, c := range []struct {
		op, result string
		want       float64
	}{{"put", "ok", 1}, {"put", vnode.CodeBadRequest.String(), 1}, {"get", "ok", 1}} {
		if got := vnodeOps(t, m, c.op, c.result); got != c.want {
			t.Errorf("vnode ops %s/%s = %v, want %v", c.op, c.result, got, c.want)
		}
	}
}

// vnodeOps reads the vnode operations counter of op and result.
func vnodeOps(t *testing.T, m *metrics.Metrics, op, result string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if f.GetName() == "dht_vnode_operations_total" && labels["kind"] == op && labels["result"] == result {
				return metric.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestFromConfig(t *testing.T) {
	c := config.Default()
	c.Ring.Partitions = 64
	if got := vnode.FromConfig(c); got.CacheBytes != vnode.ObjectCacheBytes/64 {
		t.Errorf("CacheBytes = %d, want %d", got.CacheBytes, vnode.ObjectCacheBytes/64)
	}
}

// A closed read gate refuses replica reads with CodeNotReady, naming the
// partition and the reason, and takes writes all the same: a node that
// lost its data is written to at once but not read from. Once the gate
// opens the vnode answers with what it has received meanwhile.
func TestVnode_ReadGateRefusesReadsButTakesWrites(t *testing.T) {
	engine := openMemory(t)
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var closed atomic.Bool
	closed.Store(true)
	h := startVnodeWith(t, engine, vnode.Config{Partition: partition, Engine: engine, Minter: minter,
		ReadGate: func(p uint32, _ int) string {
			if p != partition {
				t.Errorf("the gate was asked about partition %d, want %d", p, partition)
			}
			if closed.Load() {
				return "rebuilding"
			}
			return ""
		}})
	if r := h.put("k", "v", nil); r.GetPutReply() == nil {
		t.Fatalf("a write through a closed read gate: %v, want stored", r)
	}
	reply := h.ask(&messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Partition: partition, Key: []byte("k")}}})
	e := reply.GetErrorReply()
	if e.GetCode() != vnode.CodeNotReady || !strings.Contains(e.GetMessage(), "rebuilding") ||
		!strings.Contains(e.GetMessage(), fmt.Sprintf("partition %d", partition)) {
		t.Fatalf("a read through a closed gate: %v, want %s naming the partition and the reason", reply, vnode.CodeNotReady)
	}
	closed.Store(false)
	if got := values(h.get("k")); !got["v"] || len(got) != 1 {
		t.Fatalf("a read once the gate opened: %v, want the write taken while it was closed", got)
	}
}

// A client write that arrives after its envelope's deadline is refused with
// CodeExpired and stores nothing: its coordinator has handed it to another
// replica, and a dot minted here too would be a sibling the client's
// context never covers. One within its deadline, or without one, is taken.
func TestVnode_RefusesAWriteAfterItsDeadline(t *testing.T) {
	engine := openMemory(t)
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	h := startVnodeWith(t, engine, vnode.Config{Partition: partition, Engine: engine, Minter: minter,
		Clock: func() time.Time { return now }})
	put := func(key string, deadline time.Time) *messages.Envelope {
		env := &messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
			Partition: partition, Key: []byte(key), Value: &messages.Sibling{Value: []byte("v")},
		}}}
		if !deadline.IsZero() {
			env.DeadlineUnixMs = deadline.UnixMilli()
		}
		return h.ask(env)
	}
	reply := put("late", now.Add(-time.Millisecond))
	if e := reply.GetErrorReply(); e.GetCode() != vnode.CodeExpired || !strings.Contains(e.GetMessage(), "after its deadline") {
		t.Fatalf("a write past its deadline: %v, want %s", reply, vnode.CodeExpired)
	}
	if _, ok := h.stored("late"); ok {
		t.Fatal("a write refused as expired was stored")
	}
	for _, tc := range []struct {
		key      string
		deadline time.Time
	}{{"in-time", now.Add(time.Second)}, {"no-deadline", time.Time{}}} {
		if r := put(tc.key, tc.deadline); r.GetPutReply() == nil {
			t.Fatalf("%s: %v, want stored", tc.key, r)
		}
		if _, ok := h.stored(tc.key); !ok {
			t.Fatalf("%s: not stored", tc.key)
		}
	}
}
