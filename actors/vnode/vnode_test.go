package vnode_test

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

const partition = 7

// failingEngine is a badger engine with sync writes whose asynchronous
// puts fail while failPuts is set, to test what a vnode does with a write
// the engine refuses after the vnode moved on.
type failingEngine struct {
	persistence.Engine
	failPuts atomic.Bool
}

func (f *failingEngine) AsyncPuts() bool { return true }

func (f *failingEngine) PutAsync(key, value []byte, done func(error)) bool {
	if f.failPuts.Load() {
		go done(errors.New("injected: disk full"))
		return true
	}
	return f.Engine.(persistence.AsyncPutter).PutAsync(key, value, done)
}

type harness struct {
	t      *testing.T
	engine persistence.Engine
	system *actor.ActorSystem
	pid    *actor.PID
}

// startVnode runs one vnode over engine, with the object cache on.
func startVnode(t *testing.T, engine persistence.Engine) *harness {
	t.Helper()
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	pid, err := system.Root.SpawnNamed(vnode.Props(vnode.Config{
		Partition: partition, Engine: engine, Minter: minter, CacheBytes: 1 << 20,
		Logger: slog.New(slog.DiscardHandler),
	}), vnode.Name(partition))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, engine: engine, system: system, pid: pid}
	t.Cleanup(func() { _ = system.Root.StopFuture(pid).Wait(); system.Shutdown() })
	return h
}

func (h *harness) ask(body *messages.Envelope) *messages.Envelope {
	h.t.Helper()
	res, err := h.system.Root.RequestFuture(h.pid, body, 30*time.Second).Result()
	if err != nil {
		h.t.Fatalf("vnode did not answer: %v", err)
	}
	return res.(*messages.Envelope)
}

func (h *harness) put(key, value string, ctx dvv.VersionVector) *messages.Envelope {
	return h.ask(&messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
		Partition: partition, Key: []byte(key), Context: wire.VVToProto(ctx), Value: &messages.Sibling{Value: []byte(value)},
	}}})
}

func (h *harness) get(key string) dvv.Set {
	h.t.Helper()
	reply := h.ask(&messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Partition: partition, Key: []byte(key)}}})
	set, err := wire.ObjectFromProto(reply.GetGetReply().GetObject())
	if err != nil {
		h.t.Fatalf("get %s: %v (reply %v)", key, err, reply)
	}
	return set
}

// stored reads key straight from the engine, as a restarted node would.
func (h *harness) stored(key string) (dvv.Set, bool) {
	h.t.Helper()
	raw, err := h.engine.Get(persistence.DataKey(partition, []byte(key)))
	if errors.Is(err, persistence.ErrNotFound) {
		return dvv.Set{}, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	set, err := wire.DecodeObject(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	return set, true
}

func values(s dvv.Set) map[string]bool {
	out := map[string]bool{}
	for _, sib := range s.Siblings {
		out[string(sib.Value)] = true
	}
	return out
}

func openSyncBadger(t *testing.T) persistence.Engine {
	t.Helper()
	e, err := persistence.Open(persistence.Options{Dir: t.TempDir(), SyncWrites: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// With sync_writes on the vnode answers writes once the engine confirms
// them, while taking further requests. Concurrent blind writes to one key
// must all survive as siblings, each answered only once it is stored.
func TestVnode_AsyncWritesKeepEveryConcurrentWrite(t *testing.T) {
	h := startVnode(t, openSyncBadger(t))
	const writers = 40
	var wg sync.WaitGroup
	replies := make([]*messages.Envelope, writers)
	for i := range writers {
		wg.Go(func() { replies[i] = h.put("hot", fmt.Sprintf("v%d", i), nil) })
	}
	wg.Wait()
	for i, r := range replies {
		if r.GetPutReply() == nil {
			t.Fatalf("write %d: %v", i, r)
		}
	}
	got := values(h.get("hot"))
	st, ok := h.stored("hot")
	if !ok {
		t.Fatal("the key is not in the engine after every write was acknowledged")
	}
	onDisk := values(st)
	for i := range writers {
		v := fmt.Sprintf("v%d", i)
		if !got[v] || !onDisk[v] {
			t.Errorf("acknowledged concurrent write %s: read %v, stored %v", v, got[v], onDisk[v])
		}
	}
}

// A read-modify-write chain on one key, each write with the context of
// the previous answer, must supersede as it goes: the vnode's reads see
// its unconfirmed writes.
func TestVnode_AsyncWritesChainOnOneKey(t *testing.T) {
	h := startVnode(t, openSyncBadger(t))
	var ctx dvv.VersionVector
	for i := range 50 {
		r := h.put("chain", fmt.Sprintf("v%d", i), ctx)
		obj, err := wire.ObjectFromProto(r.GetPutReply().GetObject())
		if err != nil {
			t.Fatalf("write %d: %v (%v)", i, err, r)
		}
		ctx = obj.Context
	}
	st, _ := h.stored("chain")
	if got := values(st); len(got) != 1 || !got["v49"] {
		t.Fatalf("stored %v, want only the last write v49", got)
	}
}

// A write the engine fails after the vnode moved on is answered with a
// storage error, and leaves no trace: not in reads, not in the Merkle
// tree's view, and the next write builds on what is stored.
func TestVnode_FailedAsyncWriteIsForgotten(t *testing.T) {
	engine := &failingEngine{Engine: openSyncBadger(t)}
	h := startVnode(t, engine)
	r := h.put("k", "kept", nil)
	kept, err := wire.ObjectFromProto(r.GetPutReply().GetObject())
	if err != nil {
		t.Fatalf("first write: %v (%v)", err, r)
	}
	engine.failPuts.Store(true)
	r = h.put("k", "failed", kept.Context)
	if e := r.GetErrorReply(); e == nil || e.GetCode() != vnode.CodeStorage {
		t.Fatalf("a write the engine failed answered %v, want a %s error", r, vnode.CodeStorage)
	}
	engine.failPuts.Store(false)
	if got := values(h.get("k")); len(got) != 1 || !got["kept"] {
		t.Fatalf("after a failed write the vnode reads %v, want only %q", got, "kept")
	}
	r = h.put("k", "next", kept.Context)
	if r.GetPutReply() == nil {
		t.Fatalf("write after the failure: %v", r)
	}
	st, _ := h.stored("k")
	if got := values(st); len(got) != 1 || !got["next"] {
		t.Fatalf("stored %v, want only %q", got, "next")
	}
}

// earlyPut sends an early PutRequest and returns its answers in order,
// failing unless there are exactly want.
func (h *harness) earlyPut(key, value string, ctx dvv.VersionVector, want int) []*messages.Envelope {
	h.t.Helper()
	answers := make(chan *messages.Envelope, 4)
	collector := h.system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if env, ok := c.Message().(*messages.Envelope); ok {
			answers <- env
		}
	}))
	defer h.system.Root.Stop(collector)
	h.system.Root.RequestWithCustomSender(h.pid, &messages.Envelope{RequestId: 42, Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
		Partition: partition, Key: []byte(key), Context: wire.VVToProto(ctx), Value: &messages.Sibling{Value: []byte(value)}, Early: true,
	}}}, collector)
	var got []*messages.Envelope
	for len(got) < want {
		select {
		case env := <-answers:
			got = append(got, env)
		case <-time.After(30 * time.Second):
			h.t.Fatalf("%d answers to an early put, want %d: %v", len(got), want, got)
		}
	}
	// Nothing more may follow. The last answer came from the write's
	// completion, or from the vnode's handling of the put; a read sent now
	// is handled after it, so its answer comes after any stray one.
	h.system.Root.RequestWithCustomSender(h.pid, &messages.Envelope{RequestId: 43, Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{
		Partition: partition, Key: []byte(key),
	}}}, collector)
	for {
		select {
		case env := <-answers:
			if env.GetRequestId() == 43 {
				return got
			}
			h.t.Fatalf("an answer beyond the %d expected: %v", want, env)
		case <-time.After(30 * time.Second):
			h.t.Fatal("the read after the early put was not answered")
		}
	}
}

// An early put to a vnode with durable asynchronous writes is answered
// twice: the minted object, then its durability. A vnode that writes
// synchronously answers once, with the object.
func TestVnode_EarlyPut(t *testing.T) {
	t.Run("durable later: minted, then confirmed", func(t *testing.T) {
		h := startVnode(t, openSyncBadger(t))
		got := h.earlyPut("k", "v1", nil, 2)
		first, second := got[0], got[1]
		if first.GetRequestId() != 42 || second.GetRequestId() != 42 {
			t.Errorf("request ids %d, %d; want 42 on both", first.GetRequestId(), second.GetRequestId())
		}
		if !first.GetPutReply().GetMinted() {
			t.Fatalf("first answer %v, want a minted PutReply", first)
		}
		obj, err := wire.ObjectFromProto(first.GetPutReply().GetObject())
		if err != nil || !values(obj)["v1"] {
			t.Fatalf("minted object %v (%v), want one holding v1", obj, err)
		}
		if r := second.GetPutReply(); r == nil || r.GetMinted() || r.GetObject() != nil {
			t.Fatalf("second answer %v, want a bare PutReply confirming durability", second)
		}
		if st, ok := h.stored("k"); !ok || !st.Equal(obj) {
			t.Fatalf("stored %v (found %v) after the confirmation, want the minted %v", st, ok, obj)
		}
	})
	t.Run("durable later, but the write fails: minted, then a storage error", func(t *testing.T) {
		engine := &failingEngine{Engine: openSyncBadger(t)}
		h := startVnode(t, engine)
		engine.failPuts.Store(true)
		got := h.earlyPut("k", "v1", nil, 2)
		if !got[0].GetPutReply().GetMinted() {
			t.Fatalf("first answer %v, want a minted PutReply", got[0])
		}
		if e := got[1].GetErrorReply(); e == nil || e.GetCode() != vnode.CodeStorage {
			t.Fatalf("second answer %v, want a %s error", got[1], vnode.CodeStorage)
		}
	})
	t.Run("synchronous: one answer with the object", func(t *testing.T) {
		engine, err := persistence.Open(persistence.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = engine.Close() })
		h := startVnode(t, engine)
		got := h.earlyPut("k", "v1", nil, 1)
		r := got[0].GetPutReply()
		if r == nil || r.GetMinted() {
			t.Fatalf("answer %v, want one PutReply, not minted", got[0])
		}
		if obj, err := wire.ObjectFromProto(r.GetObject()); err != nil || !values(obj)["v1"] {
			t.Fatalf("object %v (%v), want one holding v1", obj, err)
		}
	})
}

// TestVnode_ContextsAheadOfTheMinter: a client context can name this
// replica beyond its minter (a restored backup, or a context forged on a
// cluster without a context secret). The write must still be stored, with a
// dot above it, or the key would stay unwritable here. A counter no replica
// can have minted by now is refused as a bad context.
func TestVnode_ContextsAheadOfTheMinter(t *testing.T) {
	engine, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	h := startVnode(t, engine)
	if r := h.put("probe", "x", nil); r.GetErrorReply() != nil {
		t.Fatalf("put: %v", r.GetErrorReply())
	}
	self := h.get("probe").Siblings[0].Dot

	ahead := dvv.NewVersionVector(dvv.Dot{Actor: self.Actor, Counter: self.Counter + 5_000_000})
	if r := h.put("k", "v1", ahead); r.GetErrorReply() != nil {
		t.Fatalf("a context ahead of the minter: %v, want the write stored", r.GetErrorReply())
	}
	got := h.get("k")
	if len(got.Siblings) != 1 || got.Siblings[0].Dot.Counter <= ahead.Get(self.Actor) {
		t.Fatalf("stored %v, want one sibling with a dot above %d", got, ahead.Get(self.Actor))
	}
	// And the next write, with the context it read, supersedes it.
	if r := h.put("k", "v2", got.Context); r.GetErrorReply() != nil {
		t.Fatalf("the next write: %v", r.GetErrorReply())
	}
	if v := values(h.get("k")); len(v) != 1 || !v["v2"] {
		t.Fatalf("after the next write: %v, want only v2", v)
	}

	forged := dvv.NewVersionVector(dvv.Dot{Actor: self.Actor + 1, Counter: 1 << 62})
	r := h.put("k", "v3", forged)
	if e := r.GetErrorReply(); e == nil || e.GetCode() != vnode.CodeBadContext {
		t.Fatalf("a counter beyond any minted by now: %v, want %s", r, vnode.CodeBadContext)
	}
	if v := values(h.get("k")); len(v) != 1 || !v["v2"] {
		t.Fatalf("the refused write changed the key: %v", v)
	}
}
