package vnode_test

import (
	"testing"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/persistence"
)

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
