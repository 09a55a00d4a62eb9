package hints

import (
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/testutil"
)

// fixture is a queue actor in a real actor system, on a memory engine, with
// one fake vnode actor per target node.
type fixture struct {
	t      *testing.T
	sys    *actor.ActorSystem
	engine persistence.Engine
	logs   *testutil.SyncBuffer
	fakes  map[string]*fakeVnode
	pids   map[string]*actor.PID
	// clock is added to the wall clock the queue sees.
	clock atomic.Int64

	mu struct {
		sync.Mutex
		alive      map[string]bool
		aliveCalls map[string]int
		vnodeCalls map[string]int
	}

	cfg   Config
	queue *actor.PID
	req   uint64
}

// newFixture starts an actor system with a fake vnode for each target, all
// of them down. tune adjusts the queue's config before spawn is called.
func newFixture(t *testing.T, targets []string, tune func(*Config)) *fixture {
	t.Helper()
	engine, err := persistence.Open(persistence.Options{Engine: "memory"})
	if err != nil {
		t.Fatalf("open the memory engine: %v", err)
	}
	f := &fixture{t: t, sys: actor.NewActorSystem(), engine: engine, logs: &testutil.SyncBuffer{},
		fakes: map[string]*fakeVnode{}, pids: map[string]*actor.PID{}}
	f.mu.alive, f.mu.aliveCalls, f.mu.vnodeCalls = map[string]bool{}, map[string]int{}, map[string]int{}
	for _, id := range targets {
		fake := newFakeVnode()
		f.fakes[id] = fake
		f.pids[id] = f.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return fake }))
	}
	f.cfg = Config{
		Stats:     &Stats{},
		Engine:    engine,
		MaxHints:  1000,
		MaxBytes:  1 << 20,
		Interval:  testInterval,
		BatchSize: 64,
		Alive:     f.alive,
		VnodePID:  f.vnodePID,
		Now:       func() time.Time { return time.Now().Add(time.Duration(f.clock.Load())) },
		Logger:    slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tune != nil {
		tune(&f.cfg)
	}
	t.Cleanup(func() {
		f.stop()
		f.sys.Shutdown()
		_ = engine.Close()
		if t.Failed() {
			t.Logf("hint queue log:\n%s", f.logs.String())
		}
	})
	return f
}

// spawn starts a queue actor on the fixture's engine.
func (f *fixture) spawn() {
	f.t.Helper()
	f.queue = f.sys.Root.Spawn(Props(f.cfg))
}

// stop stops the queue actor and waits until it has stopped.
func (f *fixture) stop() {
	f.t.Helper()
	if f.queue == nil {
		return
	}
	if err := f.sys.Root.StopFuture(f.queue).Wait(); err != nil {
		f.t.Errorf("stopping the hint queue: %v", err)
	}
	f.queue = nil
}

func (f *fixture) alive(node string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.aliveCalls[node]++
	return f.mu.alive[node]
}

func (f *fixture) vnodePID(node string, p uint32) *actor.PID {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.vnodeCalls[node]++
	pid, ok := f.pids[node]
	if !ok {
		f.t.Errorf("the queue asked for the vnode %d of %q, which is no target of this test", p, node)
	}
	return pid
}

func (f *fixture) setAlive(node string, alive bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.alive[node] = alive
}

func (f *fixture) aliveCalls(node string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.aliveCalls[node]
}

// hint sends a HintRequest as a coordinator does and returns the reply.
func (f *fixture) hint(target string, p uint32, key, value string) *messages.HintReply {
	f.t.Helper()
	return f.send(&messages.HintRequest{Target: target, Partition: p, Key: []byte(key), Object: object(value)})
}

func (f *fixture) send(req *messages.HintRequest) *messages.HintReply {
	f.t.Helper()
	f.req++
	res, err := f.sys.Root.RequestFuture(f.queue, &messages.Envelope{
		RequestId: f.req, Body: &messages.Envelope_HintRequest{HintRequest: req},
	}, 5*time.Second).Result()
	if err != nil {
		f.t.Fatalf("hint for %q key %q: no reply: %v", req.GetTarget(), req.GetKey(), err)
	}
	env, ok := res.(*messages.Envelope)
	if !ok || env.GetHintReply() == nil {
		f.t.Fatalf("hint for %q key %q: reply %T %v, want an Envelope with a HintReply", req.GetTarget(), req.GetKey(), res, res)
	}
	if env.GetRequestId() != f.req {
		f.t.Errorf("hint reply carries request id %d, want %d", env.GetRequestId(), f.req)
	}
	return env.GetHintReply()
}

// mustStore sends a hint and fails the test unless it is stored.
func (f *fixture) mustStore(target string, p uint32, key, value string) {
	f.t.Helper()
	if r := f.hint(target, p, key, value); !r.GetStored() {
		f.t.Fatalf("hint for %s key %s refused: %q", target, key, r.GetReason())
	}
}

// stored returns the hints in the engine: count per target, and total
// bytes.
func (f *fixture) stored() (map[string]int, int64) {
	f.t.Helper()
	counts := map[string]int{}
	var total int64
	err := f.engine.Scan(persistence.HintPrefix(), nil, func(key, value []byte) bool {
		target, _, ok := persistence.SplitHintKey(key)
		if !ok {
			f.t.Errorf("malformed hint key %x in the engine", key)
			return true
		}
		counts[target]++
		total += int64(len(value))
		return true
	})
	if err != nil {
		f.t.Fatalf("scanning the hints: %v", err)
	}
	return counts, total
}

// storedHints decodes every hint in the engine, by key.
func (f *fixture) storedHints() map[string]*messages.Hint {
	f.t.Helper()
	out := map[string]*messages.Hint{}
	err := f.engine.Scan(persistence.HintPrefix(), nil, func(key, value []byte) bool {
		var h messages.Hint
		if err := proto.Unmarshal(value, &h); err != nil {
			f.t.Errorf("hint %x: %v", key, err)
			return true
		}
		out[string(h.GetKey())] = &h
		return true
	})
	if err != nil {
		f.t.Fatalf("scanning the hints: %v", err)
	}
	return out
}

// waitFor retries check until it returns nil, failing the test with its
// last error after waitTimeout.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	if err := testutil.Wait(waitTimeout, 5*time.Millisecond, check); err != nil {
		t.Fatalf("%s: not done after %v: %v", what, waitTimeout, err)
	}
}

// waitTicks waits until the queue has asked n more times whether target is
// alive: n delivery rounds have considered it.
func (f *fixture) waitTicks(target string, n int) {
	f.t.Helper()
	from := f.aliveCalls(target)
	waitFor(f.t, fmt.Sprintf("%d delivery rounds considering %s", n, target), func() error {
		if got := f.aliveCalls(target) - from; got < n {
			return fmt.Errorf("%d rounds so far", got)
		}
		return nil
	})
}

// waitDrained waits until every hint is delivered: none left in the engine
// and none in the stats.
func (f *fixture) waitDrained(stats *Stats) {
	f.t.Helper()
	waitFor(f.t, "every hint delivered", func() error {
		if counts, _ := f.stored(); len(counts) > 0 {
			return fmt.Errorf("the engine still holds hints %v", counts)
		}
		if pending, b := stats.Pending(); len(pending) > 0 || b != 0 {
			return fmt.Errorf("stats still show %v (%d bytes)", pending, b)
		}
		return nil
	})
}

// wantPending fails the test unless stats show exactly want, with the
// engine's byte total.
func (f *fixture) wantPending(stats *Stats, want map[string]int) {
	f.t.Helper()
	pending, b := stats.Pending()
	counts, total := f.stored()
	if !maps.Equal(pending, want) || b != total || !maps.Equal(counts, want) {
		f.t.Fatalf("stats show %v (%d bytes), the engine holds %v (%d bytes); want %v in both", pending, b, counts, total, want)
	}
}
