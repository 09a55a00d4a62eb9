package vnode_test

import (
	"errors"
	"log/slog"
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
	return startVnodeWith(t, engine, vnode.Config{Partition: partition, Engine: engine, Minter: minter, CacheBytes: 1 << 20})
}

// startVnodeWith runs one vnode of cfg, logging nowhere.
func startVnodeWith(t *testing.T, engine persistence.Engine, cfg vnode.Config) *harness {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	pid, err := system.Root.SpawnNamed(vnode.Props(cfg), vnode.Name(partition))
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
