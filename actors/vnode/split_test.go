package vnode_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

// spawnVnode runs a vnode of cfg in an actor system of its own and returns
// it with a function that stops it.
func spawnVnode(t *testing.T, cfg vnode.Config) (*harness, func()) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	pid, err := system.Root.SpawnNamed(vnode.Props(cfg), vnode.Name(cfg.Partition))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = system.Root.StopFuture(pid).Wait()
			system.Shutdown()
		}
	}
	t.Cleanup(stop)
	return &harness{t: t, engine: cfg.Engine, system: system, pid: pid}, stop
}

// TestVnode_SplitPartitionsServeAndAdoptTheirParentsKeys: partition 7 of
// a ring of 8 stores 600 keys through its vnode (badger with sync writes,
// so writes take the asynchronous path). The ring doubles to 16: the
// vnodes of 14 and 15, 7's halves, answer every key of theirs at once,
// list exactly their keys in order, and take writes that replace the
// inherited objects (no sibling left behind); meanwhile they adopt 7's
// keys into their own prefixes, until 7's prefix is empty. Restarted,
// they hold the same.
func TestVnode_SplitPartitionsServeAndAdoptTheirParentsKeys(t *testing.T) {
	engine := openSyncBadger(t)
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(p uint32, q int) vnode.Config {
		return vnode.Config{Partition: p, Partitions: q, InitialPartitions: 8, Engine: engine, Minter: minter, CacheBytes: 1 << 20}
	}
	parent, stop := spawnVnode(t, cfg(7, 8))
	var keys []string
	for i := 0; len(keys) < 600; i++ {
		if k := fmt.Sprintf("user/%05d", i); ring.PartitionOf([]byte(k), 8) == 7 {
			keys = append(keys, k)
			parent.put(k, "v1", nil)
		}
	}
	stop()

	children := map[uint32]*harness{}
	stops := map[uint32]func(){}
	for _, p := range []uint32{14, 15} {
		children[p], stops[p] = spawnVnode(t, cfg(p, 16))
	}
	owner := func(k string) *harness { return children[ring.PartitionOf([]byte(k), 16)] }
	for _, k := range keys {
		if got := values(owner(k).get(k)); !got["v1"] || len(got) != 1 {
			t.Fatalf("%s after the split: %v, want v1", k, got)
		}
	}
	// Listings: each child exactly its keys, in order, across pages.
	listed := 0
	for p, h := range children {
		var got []string
		after := ""
		for range 100 {
			r := h.list("user/", after, 97, false)
			for _, e := range r.GetEntries() {
				got = append(got, string(e.GetKey()))
			}
			if !r.GetMore() {
				break
			}
			after = got[len(got)-1]
		}
		var want []string
		for _, k := range keys {
			if ring.PartitionOf([]byte(k), 16) == p {
				want = append(want, k)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("partition %d lists %d keys, want its %d in order", p, len(got), len(want))
		}
		listed += len(got)
	}
	if listed != len(keys) {
		t.Fatalf("%d keys listed, want %d", listed, len(keys))
	}
	// Writes with the inherited context replace the object.
	for _, k := range keys[:200] {
		h := owner(k)
		h.put(k, "v2", h.get(k).Context)
	}

	// Adoption ends: nothing left under 7's prefix (bounded wait).
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := 0
		_ = engine.Scan(persistence.DataPrefix(7), nil, func(_, _ []byte) bool { left++; return true })
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys still under the parent's prefix after 20 s", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range []uint32{14, 15} {
		stops[p]()
		children[p], _ = spawnVnode(t, cfg(p, 16))
	}
	own := 0
	for _, p := range []uint32{14, 15} {
		_ = engine.Scan(persistence.DataPrefix(persistence.DataID(p, 16, 8)), nil, func(_, _ []byte) bool { own++; return true })
	}
	if own != len(keys) {
		t.Fatalf("the halves' own prefixes hold %d keys, want %d", own, len(keys))
	}
	for i, k := range keys {
		want := "v1"
		if i < 200 {
			want = "v2"
		}
		if v := values(owner(k).get(k)); !v[want] || len(v) != 1 {
			t.Fatalf("%s after adoption and a restart: %v, want only %s", k, v, want)
		}
	}
}

// TestVnode_RefusesKeysOfAnotherPartition: a vnode that knows Q and has
// no sibling to forward to (no node actor above it) refuses, as not ready,
// a put, get, merge or merge batch of a key outside its partition (what a
// peer routing by a ring of another size would send), storing nothing,
// and serves its own keys. (A merge batch is refused under a node actor
// too: its keys may be of several partitions.)
func TestVnode_RefusesKeysOfAnotherPartition(t *testing.T) {
	engine := openMemory(t)
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, _ := spawnVnode(t, vnode.Config{Partition: 3, Partitions: 16, InitialPartitions: 16, Engine: engine, Minter: minter})
	var mine, other string
	for i := 0; mine == "" || other == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		if ring.PartitionOf([]byte(k), 16) == 3 {
			mine = k
		} else if other == "" {
			other = k
		}
	}
	if r := h.put(mine, "v", nil); r.GetPutReply() == nil {
		t.Fatalf("put of its own key: %v", r)
	}
	obj := h.get(mine)
	for name, body := range map[string]*messages.Envelope{
		"put": {Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{Partition: 3, Key: []byte(other), Value: &messages.Sibling{Value: []byte("v")}}}},
		"get": {Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Partition: 3, Key: []byte(other)}}},
		"merge": {Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{Partition: 3, Key: []byte(other),
			Object: wire.ObjectToProto(obj)}}},
		"merge batch": {Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: &messages.MergeBatchRequest{Partition: 3,
			Entries: []*messages.KeyObject{{Key: []byte(mine), Object: wire.ObjectToProto(obj)}, {Key: []byte(other), Object: wire.ObjectToProto(obj)}}}}},
	} {
		r := h.ask(body)
		if e := r.GetErrorReply(); e.GetCode() != messages.ErrorCode_ERROR_CODE_NOT_READY || !strings.Contains(e.GetMessage(), "not 3") {
			t.Errorf("%s of a key of another partition: %v, want not ready naming the partitions", name, r)
		}
	}
	left := 0
	_ = engine.Scan(persistence.DataPrefix(3), nil, func(k, _ []byte) bool {
		if _, key, _ := persistence.SplitDataKey(k); string(key) != mine {
			t.Errorf("stored %q, a key of another partition", key)
		}
		left++
		return true
	})
	if left != 1 {
		t.Fatalf("%d keys stored, want its own one", left)
	}
}

// TestVnode_ForwardsAKeyToItsSibling: under a node actor (the vnodes'
// parent), a put or get of a key sent to a vnode of another partition —
// what a peer routing by a ring of another size sends — is answered by
// the vnode of the key's partition, which stores it under its own prefix.
func TestVnode_ForwardsAKeyToItsSibling(t *testing.T) {
	engine := openMemory(t)
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(system.Shutdown)
	children := make(chan *actor.PID, 16)
	parent, err := system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			for p := range uint32(16) {
				pid, err := ctx.SpawnNamed(vnode.Props(vnode.Config{Partition: p, Partitions: 16, InitialPartitions: 16, Engine: engine, Minter: minter,
					Logger: slog.New(slog.DiscardHandler)}), vnode.Name(p))
				if err != nil {
					panic(err)
				}
				children <- pid
			}
		}
	}), "node")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = system.Root.StopFuture(parent).Wait() })
	var pids []*actor.PID
	for range 16 {
		pids = append(pids, <-children)
	}
	key := "some/key"
	home := ring.PartitionOf([]byte(key), 16)
	wrong := (home + 5) % 16
	h := &harness{t: t, engine: engine, system: system, pid: pids[wrong]}
	if r := h.put(key, "v", nil); r.GetPutReply() == nil {
		t.Fatalf("put through partition %d of a key of %d: %v", wrong, home, r)
	}
	if v := values(h.get(key)); !v["v"] {
		t.Fatalf("get through partition %d: %v", wrong, v)
	}
	if _, err := engine.Get(persistence.DataKey(home, []byte(key))); err != nil {
		t.Fatalf("the key is not under its partition %d: %v", home, err)
	}
	if _, err := engine.Get(persistence.DataKey(wrong, []byte(key))); err == nil {
		t.Fatalf("the key is under partition %d, the one it was sent to", wrong)
	}
}
