package handoff

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

// cluster is a handoff actor among fake vnodes and a fake topology actor,
// all in one actor system. The fakes answer as the real actors do: pulls
// page through sorted keys, merges store, Drop drops unless told to refuse.
type cluster struct {
	system  *actor.ActorSystem
	engine  persistence.Engine
	keys    []atomic.Int64 // the handoff node's vnodes' key counts
	vnodes  map[string][]*fakeVnode
	pids    map[string][]*actor.PID
	done    *recorder[topology.HandoffDone]
	events  *recorder[string]
	retired atomic.Int32
	view    fixedView
}

// fixedView hands the actor whatever snapshot the test set.
type fixedView struct {
	p atomic.Pointer[topology.Snapshot]
}

func (v *fixedView) Load() *topology.Snapshot { return v.p.Load() }

func newCluster(t *testing.T, partitions int, nodes ...string) *cluster {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(system.Shutdown)
	engine, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	c := &cluster{system: system, engine: engine, keys: make([]atomic.Int64, partitions),
		vnodes: map[string][]*fakeVnode{}, pids: map[string][]*actor.PID{}, done: &recorder[topology.HandoffDone]{}, events: &recorder[string]{}}
	for _, n := range nodes {
		for p := range partitions {
			v := &fakeVnode{p: uint32(p), data: map[string][]byte{}}
			if n == nodes[0] {
				v.count = &c.keys[p] // the handoff node's own vnode
			}
			c.vnodes[n] = append(c.vnodes[n], v)
			c.pids[n] = append(c.pids[n], system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return v })))
		}
	}
	return c
}

// start spawns the handoff actor of the first node with cfg's limits.
func (c *cluster) start(cfg Config) *actor.PID {
	topo := c.system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if d, ok := ctx.Message().(*topology.HandoffDone); ok {
			c.done.add(*d)
		}
	}))
	cfg.View, cfg.Engine, cfg.Keys, cfg.TopologyPID = &c.view, c.engine, c.keys, topo
	cfg.VnodePID = func(node string, p uint32) *actor.PID { return c.pids[node][p] }
	cfg.OnEvent = func(kind, subject string, p uint32, detail string) {
		c.events.add(fmt.Sprintf("%s p=%d %s: %s", kind, p, subject, detail))
	}
	cfg.OnRetired = func() { c.retired.Add(1) }
	return c.system.Root.Spawn(Props(cfg))
}

// fill gives node's vnode of p keys k0..k(n-1).
func (c *cluster) fill(node string, p uint32, n int) {
	v := c.vnodes[node][p]
	for i := range n {
		v.put(fmt.Sprintf("k%d", i), []byte("v"))
	}
}

type recorder[T any] struct {
	mu  sync.Mutex
	got []T
}

func (r *recorder[T]) add(v T) { r.mu.Lock(); r.got = append(r.got, v); r.mu.Unlock() }

func (r *recorder[T]) all() []T { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.got) }

// fakeVnode is one partition's replica.
type fakeVnode struct {
	p     uint32
	count *atomic.Int64 // mirrors len(data), for the handoff node's own
	mu    sync.Mutex
	data  map[string][]byte
	// failPulls answers that many pulls with a storage error first.
	failPulls int
	pulls     [][]byte // the after-keys asked for
	gen       uint64
}

func (v *fakeVnode) put(k string, val []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.data[k] = val
	v.gen++
	if v.count != nil {
		v.count.Store(int64(len(v.data)))
	}
}

func (v *fakeVnode) snapshot() (map[string][]byte, [][]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := make(map[string][]byte, len(v.data))
	for k, val := range v.data {
		m[k] = val
	}
	return m, slices.Clone(v.pulls)
}

func (v *fakeVnode) Receive(ctx actor.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch msg := ctx.Message().(type) {
	case *vnode.Drop:
		done := msg.Generation == v.gen
		if done {
			clear(v.data)
			v.count.Store(0)
		}
		ctx.Respond(&vnode.Dropped{Partition: v.p, Done: done})
	case *messages.Envelope:
		reply := &messages.Envelope{RequestId: msg.GetRequestId()}
		switch {
		case msg.GetHandoffPullRequest() != nil:
			if r, e := v.pull(msg.GetHandoffPullRequest()); e != nil {
				reply.Body = &messages.Envelope_ErrorReply{ErrorReply: e}
			} else {
				reply.Body = &messages.Envelope_HandoffPullReply{HandoffPullReply: r}
			}
		case msg.GetMergeBatchRequest() != nil:
			for _, e := range msg.GetMergeBatchRequest().GetEntries() {
				v.data[string(e.GetKey())] = e.GetObject().GetSiblings()[0].GetValue()
				v.gen++
			}
			if v.count != nil {
				v.count.Store(int64(len(v.data)))
			}
			reply.Body = &messages.Envelope_MergeBatchReply{MergeBatchReply: &messages.MergeBatchReply{}}
		}
		ctx.Respond(reply)
	}
}

func (v *fakeVnode) pull(r *messages.HandoffPullRequest) (*messages.HandoffPullReply, *messages.ErrorReply) {
	v.pulls = append(v.pulls, r.GetAfterKey())
	if v.failPulls > 0 {
		v.failPulls--
		return nil, &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_STORAGE, Message: "disk I/O error"}
	}
	keys := make([]string, 0, len(v.data))
	for k := range v.data {
		if bytes.Compare([]byte(k), r.GetAfterKey()) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	reply := &messages.HandoffPullReply{TotalKeys: uint64(len(v.data)), Generation: v.gen, Done: len(keys) <= int(r.GetMaxKeys())}
	for _, k := range keys[:min(len(keys), int(r.GetMaxKeys()))] {
		reply.Entries = append(reply.Entries, &messages.KeyObject{Key: []byte(k),
			Object: &messages.Object{Siblings: []*messages.Sibling{{Value: v.data[k]}}}})
	}
	return reply, nil
}
