package vnode_test

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/resolve"
	"github.com/dhtkv/dht/wire"
)

// startResolvingVnode runs one vnode over the memory engine that resolves
// on write with resolver r for every key.
func startResolvingVnode(t *testing.T, r resolve.Resolver) *harness {
	t.Helper()
	engine, err := persistence.Open(persistence.Options{Engine: "memory", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	sel, err := resolve.NewSelector(resolve.Config{Default: "r", Custom: map[string]resolve.Resolver{"r": r}})
	if err != nil {
		t.Fatal(err)
	}
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	pid, err := system.Root.SpawnNamed(vnode.Props(vnode.Config{
		Partition: partition, Engine: engine, Minter: minter, CacheBytes: 1 << 20, ResolveOnWrite: sel,
		Logger: slog.New(slog.DiscardHandler),
	}), vnode.Name(partition))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, engine: engine, system: system, pid: pid}
	t.Cleanup(func() { _ = system.Root.StopFuture(pid).Wait(); system.Shutdown() })
	return h
}

func putObject(t *testing.T, r *messages.Envelope) dvv.Set {
	t.Helper()
	obj, err := wire.ObjectFromProto(r.GetPutReply().GetObject())
	if err != nil {
		t.Fatalf("put: %v (%v)", err, r)
	}
	return obj
}

func concat(_ []byte, sibs []resolve.Sibling) (resolve.Resolution, error) {
	var v []byte
	for _, s := range sibs {
		v = append(v, s.Value...)
	}
	return resolve.Resolution{Value: v}, nil
}

// The write that leaves two siblings is answered with, and stores, one
// resolution whose context covers both writes, under a dot of its own.
func TestVnode_ResolveOnWriteStoresResolution(t *testing.T) {
	h := startResolvingVnode(t, resolve.Func(concat))
	a := putObject(t, h.put("k", "a", nil))
	if len(a.Siblings) != 1 {
		t.Fatalf("first write left %d siblings", len(a.Siblings))
	}
	b := putObject(t, h.put("k", "b", nil)) // blind: concurrent with a
	if len(b.Siblings) != 1 || b.Siblings[0].Tombstone {
		t.Fatalf("the write leaving two siblings answered %+v, want one resolution", b.Siblings)
	}
	if v := string(b.Siblings[0].Value); v != "ab" && v != "ba" {
		t.Errorf("resolution %q, want a and b concatenated", v)
	}
	if !b.Context.Covers(a.Siblings[0].Dot) || !b.Context.Covers(b.Siblings[0].Dot) {
		t.Errorf("context %v does not cover the first write %v and the resolution %v", b.Context, a.Siblings[0].Dot, b.Siblings[0].Dot)
	}
	// The resolution is a write of its own: a second dot after b's.
	if b.Siblings[0].Dot.Counter <= a.Siblings[0].Dot.Counter+1 {
		t.Errorf("resolution dot %v, want one minted after the client write's", b.Siblings[0].Dot)
	}
	st, _ := h.stored("k")
	if !st.Equal(b) {
		t.Errorf("stored %+v, answered %+v", st, b)
	}
}

// Replica merges never resolve: two replicas resolving the same siblings
// would mint two different resolutions, themselves concurrent siblings.
func TestVnode_MergeDoesNotResolve(t *testing.T) {
	var called atomic.Bool
	h := startResolvingVnode(t, resolve.Func(func(k []byte, s []resolve.Sibling) (resolve.Resolution, error) {
		called.Store(true)
		return concat(k, s)
	}))
	x, _ := dvv.Set{}.Update(nil, dvv.Sibling{Value: []byte("x")}, dvv.Dot{Actor: 1, Counter: 1}, 0)
	xy, _ := x.Update(nil, dvv.Sibling{Value: []byte("y")}, dvv.Dot{Actor: 2, Counter: 1}, 0)
	r := h.ask(&messages.Envelope{Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{
		Partition: partition, Key: []byte("k"), Object: wire.ObjectToProto(xy),
	}}})
	if r.GetMergeReply() == nil {
		t.Fatalf("merge: %v", r)
	}
	if got := values(h.get("k")); len(got) != 2 || !got["x"] || !got["y"] || called.Load() {
		t.Errorf("after a merge the vnode holds %v (resolver called: %v), want x and y untouched", got, called.Load())
	}
}

// A resolver that panics costs nothing: the write is acknowledged and
// both siblings are stored.
func TestVnode_FailingResolverOnWriteStoresSiblings(t *testing.T) {
	h := startResolvingVnode(t, resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) { panic("boom") }))
	putObject(t, h.put("k", "a", nil))
	b := putObject(t, h.put("k", "b", nil))
	st, _ := h.stored("k")
	if got := values(st); len(b.Siblings) != 2 || len(got) != 2 || !got["a"] || !got["b"] {
		t.Errorf("answered %d siblings, stored %v: want a and b both", len(b.Siblings), got)
	}
}
