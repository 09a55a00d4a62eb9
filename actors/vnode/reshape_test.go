package vnode_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

// grow asks the test's node actor to resize from 2 partitions to 4 as a
// node does: spawn the vnodes of 2 and 3, then reshape 0 and 1 in place.
// started asks it whether it has spawned its first vnodes.
type (
	grow    struct{}
	started struct{}
)

// TestVnode_ReshapesInPlaceHoldingItsRequests: the vnodes of a ring of 2
// partitions (badger with sync writes, so puts take the asynchronous
// path) are quiesced while puts are in flight: every put is answered, and
// only then does each vnode answer Quiesced. Gets sent while they are
// quiesced are held, not answered and not lost; once the ring is 4
// partitions (2 and 3 spawned, 0 and 1 reshaped in place) every held get
// is answered with its value, by the reshaped vnode or the sibling it
// forwards the key to, and every key is served by its partition on the
// new ring. A Drop computed against an old partition empties no new one.
func TestVnode_ReshapesInPlaceHoldingItsRequests(t *testing.T) {
	engine, minter, system := reshapeFixture(t)
	cfg := func(p uint32, q int) vnode.Config {
		return vnode.Config{Partition: p, Partitions: q, InitialPartitions: 2, Engine: engine, Minter: minter,
			CacheBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)}
	}
	vnodes := make([]*actor.PID, 4)
	node, err := system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		spawn := func(p uint32, q int) {
			pid, err := ctx.SpawnNamed(vnode.Props(cfg(p, q)), vnode.Name(p))
			if err != nil {
				panic(err)
			}
			vnodes[p] = pid
		}
		switch ctx.Message().(type) {
		case *actor.Started:
			spawn(0, 2)
			spawn(1, 2)
		case grow:
			spawn(2, 4)
			spawn(3, 4)
			ctx.Send(vnodes[0], &vnode.Reshape{Partitions: 4})
			ctx.Send(vnodes[1], &vnode.Reshape{Partitions: 4})
			ctx.Respond(grow{})
		case started:
			ctx.Respond(started{})
		}
	}), "node")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = system.Root.StopFuture(node).Wait() })
	vnodeOf := func(key string, q int) *actor.PID {
		// vnodes is written by the node actor; the futures below order
		// every read after the write it needs.
		return vnodes[ring.PartitionOf([]byte(key), q)]
	}
	ask := func(pid *actor.PID, body *messages.Envelope) *actor.Future {
		return system.Root.RequestFuture(pid, body, 30*time.Second)
	}
	putBody := func(k string) *messages.Envelope {
		return &messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
			Key: []byte(k), Value: &messages.Sibling{Value: []byte("v-" + k)}}}}
	}
	getBody := func(k string) *messages.Envelope {
		return &messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Key: []byte(k)}}}
	}
	if _, err := system.Root.RequestFuture(node, started{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}

	// What a handoff of partition 0 that pulled before any write would
	// drop with.
	staleGeneration := (&harness{t: t, engine: engine, system: system, pid: vnodes[0]}).pull(1).GetGeneration()

	var keys []string
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("key/%03d", i))
	}
	var puts []*actor.Future
	for _, k := range keys {
		puts = append(puts, ask(vnodeOf(k, 2), putBody(k)))
	}
	quiesced := []*actor.Future{
		system.Root.RequestFuture(vnodes[0], &vnode.Quiesce{}, 30*time.Second),
		system.Root.RequestFuture(vnodes[1], &vnode.Quiesce{}, 30*time.Second),
	}
	for i, f := range puts {
		res, err := f.Result()
		if err != nil || res.(*messages.Envelope).GetPutReply() == nil {
			t.Fatalf("put of %s, in flight as the vnodes quiesced: %v, %v", keys[i], res, err)
		}
	}
	for _, f := range quiesced {
		if res, err := f.Result(); err != nil {
			t.Fatalf("quiesce: %v", err)
		} else if _, ok := res.(*vnode.Quiesced); !ok {
			t.Fatalf("quiesce answered %T", res)
		}
	}

	// Held while quiesced, addressed as by the old ring: no answer comes
	// until the reshape.
	answers := make(chan *messages.Envelope, len(keys))
	collector := system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if env, ok := ctx.Message().(*messages.Envelope); ok {
			answers <- env
		}
	}))
	for i, k := range keys {
		body := getBody(k)
		body.RequestId = uint64(i + 1)
		system.Root.RequestWithCustomSender(vnodeOf(k, 2), body, collector)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(answers); n > 0 {
		t.Fatalf("%d gets answered by quiesced vnodes, want them held", n)
	}
	if _, err := system.Root.RequestFuture(node, grow{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	answered := map[uint64]bool{}
	for range keys {
		var env *messages.Envelope
		select {
		case env = <-answers:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d held gets answered after the reshape", len(answered), len(keys))
		}
		i := int(env.GetRequestId()) - 1
		if i < 0 || i >= len(keys) || answered[env.GetRequestId()] {
			t.Fatalf("an answer to request %d", env.GetRequestId())
		}
		answered[env.GetRequestId()] = true
		set, err := wire.ObjectFromProto(env.GetGetReply().GetObject())
		if err != nil || !values(set)["v-"+keys[i]] {
			t.Fatalf("held get of %s: %v, %v; want v-%s", keys[i], env, err, keys[i])
		}
	}
	check := func(what string, k string, f *actor.Future) {
		t.Helper()
		res, err := f.Result()
		if err != nil {
			t.Fatalf("%s %s: %v", what, k, err)
		}
		set, err := wire.ObjectFromProto(res.(*messages.Envelope).GetGetReply().GetObject())
		if err != nil || !values(set)["v-"+k] {
			t.Fatalf("%s %s: %v, %v; want v-%s", what, k, res, err, k)
		}
	}
	// A Drop computed against old partition 0 does not empty the new one.
	res, err := system.Root.RequestFuture(vnodes[0], &vnode.Drop{Generation: staleGeneration}, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := res.(*vnode.Dropped); d.Done {
		t.Fatalf("a Drop at generation %d, from before the reshape, emptied the new partition 0 (%d keys)", staleGeneration, d.Keys)
	}
	for _, k := range keys {
		check("get on the new ring of", k, ask(vnodeOf(k, 4), getBody(k)))
	}
}

// halve and regrow ask the test's node actor of
// TestVnode_HalvesAndGrowsBack to reshape every vnode for 4 partitions,
// then for 8 again.
type (
	halve  struct{}
	regrow struct{}
)

// TestVnode_HalvesAndGrowsBack: the 8 vnodes of a ring that started with
// 8 partitions are quiesced and reshaped for 4: vnodes 0 … 3 become the
// merged partitions, each serving the keys of its two halves, and 4 … 7
// retire. Gets held while quiesced, addressed by the ring of 8, are all
// answered with their values; a get sent to a retired vnode by the old
// ring is forwarded to the vnode that has its key; a batch sent to one is
// refused as not ready, not lost. Writes made on the halved ring, and the
// keys from before, are all served again once the ring grows back to 8
// and the retired vnodes return.
func TestVnode_HalvesAndGrowsBack(t *testing.T) {
	engine, minter, system := reshapeFixture(t)
	const initial = 8
	vnodes := make([]*actor.PID, initial)
	reshapeAll := func(ctx actor.Context, q int) {
		for _, pid := range vnodes {
			ctx.Send(pid, &vnode.Reshape{Partitions: q, Layouts: []int{4, 8}})
		}
	}
	node, err := system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *actor.Started:
			for p := range uint32(initial) {
				cfg := vnode.Config{Partition: p, Partitions: initial, InitialPartitions: initial, Engine: engine, Minter: minter,
					CacheBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)}
				pid, err := ctx.SpawnNamed(vnode.Props(cfg), vnode.Name(p))
				if err != nil {
					panic(err)
				}
				vnodes[p] = pid
			}
		case halve:
			reshapeAll(ctx, 4)
			ctx.Respond(halve{})
		case regrow:
			reshapeAll(ctx, 8)
			ctx.Respond(regrow{})
		case started:
			ctx.Respond(started{})
		}
	}), "node")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = system.Root.StopFuture(node).Wait() })
	if _, err := system.Root.RequestFuture(node, started{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	vnodeOf := func(key string, q int) *actor.PID { return vnodes[ring.PartitionOf([]byte(key), q)] }
	ask := func(pid *actor.PID, body *messages.Envelope) (*messages.Envelope, error) {
		res, err := system.Root.RequestFuture(pid, body, 30*time.Second).Result()
		if err != nil {
			return nil, err
		}
		return res.(*messages.Envelope), nil
	}
	put := func(k, v string, q int) {
		t.Helper()
		res, err := ask(vnodeOf(k, q), &messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
			Key: []byte(k), Value: &messages.Sibling{Value: []byte(v)}}}})
		if err != nil || res.GetPutReply() == nil {
			t.Fatalf("put %s on the ring of %d: %v, %v", k, q, res, err)
		}
	}
	getBody := func(k string) *messages.Envelope {
		return &messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Key: []byte(k)}}}
	}
	want := map[string]string{}
	check := func(when string, q int) {
		t.Helper()
		for k, v := range want {
			res, err := ask(vnodeOf(k, q), getBody(k))
			if err != nil {
				t.Fatalf("%s: get %s: %v", when, k, err)
			}
			set, err := wire.ObjectFromProto(res.GetGetReply().GetObject())
			if err != nil || !values(set)[v] {
				t.Fatalf("%s: get %s: %v, %v; want %s", when, k, res, err, v)
			}
		}
	}
	for i := range 200 {
		k := fmt.Sprintf("key/%03d", i)
		want[k] = "v-" + k
		put(k, want[k], initial)
	}
	var quiesced []*actor.Future
	for _, pid := range vnodes {
		quiesced = append(quiesced, system.Root.RequestFuture(pid, &vnode.Quiesce{}, 30*time.Second))
	}
	for _, f := range quiesced {
		if _, err := f.Result(); err != nil {
			t.Fatal(err)
		}
	}
	answers := make(chan *messages.Envelope, len(want))
	collector := system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if env, ok := ctx.Message().(*messages.Envelope); ok {
			answers <- env
		}
	}))
	var held []string
	for k := range want {
		body := getBody(k)
		body.RequestId = uint64(len(held) + 1)
		held = append(held, k)
		system.Root.RequestWithCustomSender(vnodeOf(k, initial), body, collector)
	}
	if _, err := system.Root.RequestFuture(node, halve{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	for range held {
		var env *messages.Envelope
		select {
		case env = <-answers:
		case <-time.After(30 * time.Second):
			t.Fatal("held gets unanswered after the halving")
		}
		k := held[env.GetRequestId()-1]
		set, err := wire.ObjectFromProto(env.GetGetReply().GetObject())
		if err != nil || !values(set)[want[k]] {
			t.Fatalf("held get of %s: %v, %v", k, env, err)
		}
	}
	check("on the halved ring", 4)
	// By the old ring, through the retired vnodes: forwarded.
	for k, v := range want {
		if ring.PartitionOf([]byte(k), initial) < 4 {
			continue
		}
		res, err := ask(vnodeOf(k, initial), getBody(k))
		set, _ := wire.ObjectFromProto(res.GetGetReply().GetObject())
		if err != nil || !values(set)[v] {
			t.Fatalf("get of %s through retired vnode %d: %v, %v", k, ring.PartitionOf([]byte(k), initial), res, err)
		}
	}
	batch := &messages.Envelope{RequestId: 77, Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: &messages.MergeBatchRequest{}}}
	if res, err := ask(vnodes[6], batch); err != nil || res.GetErrorReply().GetCode() != vnode.CodeNotReady || res.GetRequestId() != 77 {
		t.Fatalf("a batch to a retired vnode: %v, %v; want not ready", res, err)
	}
	for i := range 50 {
		k := fmt.Sprintf("new/%03d", i)
		want[k] = "w-" + k
		put(k, want[k], 4)
	}
	check("after writes on the halved ring", 4)

	for _, pid := range vnodes {
		if _, err := system.Root.RequestFuture(pid, &vnode.Quiesce{}, 30*time.Second).Result(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := system.Root.RequestFuture(node, regrow{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	check("grown back to 8", initial)
}

// reshapeFixture returns the storage (badger with sync writes, so puts take
// the asynchronous path), the minter and the actor system of a reshape
// test.
func reshapeFixture(t *testing.T) (persistence.Engine, *vnode.Minter, *actor.ActorSystem) {
	t.Helper()
	engine := openSyncBadger(t)
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(system.Shutdown)
	return engine, minter, system
}
