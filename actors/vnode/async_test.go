package vnode_test

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

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
