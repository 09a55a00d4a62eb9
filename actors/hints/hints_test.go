package hints

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

// testInterval is the queue's delivery interval in these tests.
const testInterval = 20 * time.Millisecond

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// fakeVnode stands in for a target node's vnodes: it answers MergeRequests
// and records what it got. Its fields are read by the test and written by
// the actor, hence the lock.
type fakeVnode struct {
	mu struct {
		sync.Mutex
		// attempts counts the MergeRequests received per key, answered or
		// not; merged holds the objects acknowledged with a MergeReply.
		attempts map[string]int
		merged   map[string]*messages.MergeRequest
		// fail makes it answer ErrorReply; drop makes it ignore the next
		// drop requests, as if they were lost.
		fail bool
		drop int
	}
}

func newFakeVnode() *fakeVnode {
	f := &fakeVnode{}
	f.mu.attempts = map[string]int{}
	f.mu.merged = map[string]*messages.MergeRequest{}
	return f
}

func (f *fakeVnode) Receive(ctx actor.Context) {
	env, ok := ctx.Message().(*messages.Envelope)
	if !ok {
		return
	}
	req := env.GetMergeRequest()
	if req == nil {
		ctx.Respond(&messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_ErrorReply{
			ErrorReply: &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE, Message: fmt.Sprintf("fake vnode: unexpected %T", env.GetBody())}}})
		return
	}
	f.mu.Lock()
	key := string(req.GetKey())
	f.mu.attempts[key]++
	drop, fail := f.mu.drop > 0, f.mu.fail
	switch {
	case drop:
		f.mu.drop--
	case !fail:
		f.mu.merged[key] = req
	}
	f.mu.Unlock()
	switch {
	case drop:
	case fail:
		ctx.Respond(&messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_ErrorReply{
			ErrorReply: &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_STORAGE, Message: "fake vnode: disk on fire"}}})
	default:
		ctx.Respond(&messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_MergeReply{MergeReply: &messages.MergeReply{}}})
	}
}

func (f *fakeVnode) setFail(fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.fail = fail
}

func (f *fakeVnode) setDrop(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.drop = n
}

// attempts returns how many MergeRequests arrived per key.
func (f *fakeVnode) attempts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.mu.attempts)
}

// merged returns the acknowledged merges by key.
func (f *fakeVnode) merged() map[string]*messages.MergeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.mu.merged)
}

// fixture is a queue actor in a real actor system, on a memory engine, with
// one fake vnode actor per target node.
type fixture struct {
	t      *testing.T
	sys    *actor.ActorSystem
	engine persistence.Engine
	logs   *syncBuffer
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
	f := &fixture{t: t, sys: actor.NewActorSystem(), engine: engine, logs: &syncBuffer{},
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
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not done after %v: %v", what, waitTimeout, err)
		case <-tick.C:
		}
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

func object(value string) *messages.Object {
	return &messages.Object{Siblings: []*messages.Sibling{{
		Dot: &messages.Dot{Actor: 7, Counter: 1}, Value: []byte(value), ContentType: "text/plain",
	}}}
}

// wantMerged fails the test unless fake acknowledged exactly the keys of
// want, each with its partition and value.
func wantMerged(t *testing.T, fake *fakeVnode, want map[string]uint32) {
	t.Helper()
	got := fake.merged()
	if len(got) != len(want) {
		t.Errorf("the target acknowledged %d keys, want %d", len(got), len(want))
	}
	for key, p := range want {
		req, ok := got[key]
		switch {
		case !ok:
			t.Errorf("key %s never reached the target", key)
		case req.GetPartition() != p:
			t.Errorf("key %s reached the target for partition %d, want %d", key, req.GetPartition(), p)
		case !proto.Equal(req.GetObject(), object("value-"+key)):
			t.Errorf("key %s reached the target as %v, want %v", key, req.GetObject(), object("value-"+key))
		}
	}
}

// TestQueue_HintsSurviveARestart stores hints for a down node, stops the
// queue and starts a new one on the same engine: the new one finds the
// hints, numbers new ones after them, and delivers all once the node is up.
func TestQueue_HintsSurviveARestart(t *testing.T) {
	const target = "n2"
	f := newFixture(t, []string{target}, nil)
	f.spawn()

	want := map[string]uint32{}
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		want[key] = uint32(10 + i)
		f.mustStore(target, want[key], key, "value-"+key)
	}
	f.wantPending(f.cfg.Stats, map[string]int{target: 5})
	f.waitTicks(target, 3)
	if got := f.fakes[target].attempts(); len(got) != 0 {
		t.Fatalf("the down target got deliveries %v", got)
	}
	before := f.storedHints()
	for key, h := range before {
		if h.GetTarget() != target || h.GetPartition() != want[key] || !proto.Equal(h.GetObject(), object("value-"+key)) || h.GetCreatedUnixMs() == 0 {
			t.Errorf("stored hint for %s: %v; want target %s, partition %d, the object and a timestamp", key, h, target, want[key])
		}
	}

	f.stop()
	f.cfg.Stats = &Stats{} // a new process starts with empty stats
	f.spawn()
	waitFor(t, "the restarted queue's stats", func() error {
		if pending, _ := f.cfg.Stats.Pending(); pending[target] != 5 {
			return fmt.Errorf("stats show %v, want %s: 5", pending, target)
		}
		return nil
	})
	f.wantPending(f.cfg.Stats, map[string]int{target: 5})

	// A hint stored after the restart must not reuse a stored hint's
	// sequence number: that would overwrite, and lose, the older hint.
	want["k5"] = 15
	f.mustStore(target, 15, "k5", "value-k5")
	f.wantPending(f.cfg.Stats, map[string]int{target: 6})

	f.setAlive(target, true)
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, f.fakes[target], want)
	t.Logf("5 hints survived a restart of the queue; 6 delivered after the target came up: %v", f.fakes[target].attempts())
}

// TestQueue_BoundedByCount fills a queue of 3 hints: the 4th is refused,
// whatever its target, with a reason naming the config key, and there is
// room again once the hints are delivered.
func TestQueue_BoundedByCount(t *testing.T) {
	f := newFixture(t, []string{"a", "b"}, func(c *Config) { c.MaxHints = 3 })
	f.spawn()
	f.mustStore("a", 1, "k1", "value-k1")
	f.mustStore("a", 2, "k2", "value-k2")
	f.mustStore("b", 3, "k3", "value-k3")
	for _, target := range []string{"a", "b"} {
		r := f.hint(target, 4, "k4", "value-k4")
		if r.GetStored() || !strings.Contains(r.GetReason(), "handoff.max_hints") {
			t.Errorf("4th hint (for %s) into a queue of max 3: stored=%v reason %q; want refused naming handoff.max_hints", target, r.GetStored(), r.GetReason())
		}
		t.Logf("4th hint for %s refused: %s", target, r.GetReason())
	}
	f.wantPending(f.cfg.Stats, map[string]int{"a": 2, "b": 1})

	f.setAlive("a", true)
	waitFor(t, "a's hints delivered", func() error {
		if counts, _ := f.stored(); counts["a"] != 0 {
			return fmt.Errorf("%d left", counts["a"])
		}
		return nil
	})
	f.mustStore("b", 4, "k4", "value-k4")
	f.wantPending(f.cfg.Stats, map[string]int{"b": 2})
}

// TestQueue_BoundedByBytes fills a queue bounded to two and a half hints'
// bytes: the third is refused with a reason naming the config key.
func TestQueue_BoundedByBytes(t *testing.T) {
	value := strings.Repeat("x", 200)
	fixed := time.UnixMilli(1_750_000_000_000)
	size, err := proto.Marshal(&messages.Hint{Target: "a", Partition: 1, Key: []byte("k1"), Object: object(value), CreatedUnixMs: fixed.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, []string{"a"}, func(c *Config) {
		c.MaxBytes = int64(len(size)*5/2) + 1
		c.Now = func() time.Time { return fixed }
	})
	f.spawn()
	f.mustStore("a", 1, "k1", value)
	f.mustStore("a", 1, "k2", value)
	r := f.hint("a", 1, "k3", value)
	if r.GetStored() || !strings.Contains(r.GetReason(), "handoff.max_hint_bytes") {
		t.Fatalf("3rd hint of %d bytes into %d: stored=%v reason %q; want refused naming handoff.max_hint_bytes", len(size), f.cfg.MaxBytes, r.GetStored(), r.GetReason())
	}
	t.Logf("hints of %d bytes, bound %d: 3rd refused: %s", len(size), f.cfg.MaxBytes, r.GetReason())
	f.wantPending(f.cfg.Stats, map[string]int{"a": 2})
	if _, b := f.cfg.Stats.Pending(); b != int64(2*len(size)) {
		t.Errorf("stats show %d bytes, want %d", b, 2*len(size))
	}
	// A small hint still fits.
	f.mustStore("a", 1, "k4", "v")
}

// TestQueue_RefusesMalformedHints checks that a hint without a target or a
// key is refused, not stored.
func TestQueue_RefusesMalformedHints(t *testing.T) {
	f := newFixture(t, []string{"a"}, nil)
	f.spawn()
	for _, tc := range []struct {
		name string
		req  *messages.HintRequest
	}{
		{"no target", &messages.HintRequest{Partition: 1, Key: []byte("k"), Object: object("v")}},
		{"no key", &messages.HintRequest{Target: "a", Partition: 1, Object: object("v")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.send(tc.req); r.GetStored() || r.GetReason() == "" {
				t.Errorf("stored=%v reason %q; want refused with a reason", r.GetStored(), r.GetReason())
			}
		})
	}
	f.wantPending(f.cfg.Stats, map[string]int{})
}

// TestQueue_DeliversOnlyToLiveTargets keeps two targets' hints: only the
// live one's are delivered, however many rounds pass, and the other's go
// out, and are deleted, once it is alive.
func TestQueue_DeliversOnlyToLiveTargets(t *testing.T) {
	// One hint per batch: draining a takes a round per hint, and every
	// round considers b too.
	f := newFixture(t, []string{"a", "b"}, func(c *Config) { c.BatchSize = 1 })
	f.spawn()
	wantA, wantB := map[string]uint32{}, map[string]uint32{}
	for i := range 4 {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		wantA[a], wantB[b] = uint32(i), uint32(100+i)
		f.mustStore("a", wantA[a], a, "value-"+a)
		f.mustStore("b", wantB[b], b, "value-"+b)
	}
	f.wantPending(f.cfg.Stats, map[string]int{"a": 4, "b": 4})

	f.setAlive("a", true)
	waitFor(t, "a's hints delivered", func() error {
		if counts, _ := f.stored(); counts["a"] != 0 {
			return fmt.Errorf("%d left", counts["a"])
		}
		return nil
	})
	wantMerged(t, f.fakes["a"], wantA)
	f.waitTicks("b", 5)
	if got := f.fakes["b"].attempts(); len(got) != 0 {
		t.Fatalf("the down target b got deliveries %v", got)
	}
	f.wantPending(f.cfg.Stats, map[string]int{"b": 4})

	f.setAlive("b", true)
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, f.fakes["b"], wantB)
	if got := f.fakes["a"].attempts(); len(got) != 4 {
		t.Errorf("a got deliveries %v, want each of its 4 keys", got)
	}
	t.Logf("a's 4 hints delivered one per round; b's kept through %d rounds while down, then delivered", f.aliveCalls("b"))
}

// TestQueue_RefusedDeliveryIsRetried makes the target answer every
// delivery with an ErrorReply: the hints stay, are offered again, and are
// deleted only once the target acknowledges them.
func TestQueue_RefusedDeliveryIsRetried(t *testing.T) {
	f := newFixture(t, []string{"a"}, nil)
	fake := f.fakes["a"]
	fake.setFail(true)
	f.spawn()
	want := map[string]uint32{"k1": 1, "k2": 2, "k3": 3}
	for key, p := range want {
		f.mustStore("a", p, key, "value-"+key)
	}
	f.setAlive("a", true)
	waitFor(t, "each hint refused at least 3 times", func() error {
		got := fake.attempts()
		for key := range want {
			if got[key] < 3 {
				return fmt.Errorf("attempts %v", got)
			}
		}
		return nil
	})
	f.wantPending(f.cfg.Stats, map[string]int{"a": 3})
	if got := fake.merged(); len(got) != 0 {
		t.Fatalf("the failing fake acknowledged %v", got)
	}

	fake.setFail(false)
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, fake, want)
	t.Logf("deliveries per key, refusals included: %v", fake.attempts())
}

// TestQueue_UnansweredBatchIsOfferedAgain loses the first batch: the queue
// offers it again once five intervals have passed on its retry clock, not
// before — even though the data clock jumped back an hour meanwhile (the
// fault-injection suite's clock scenario once stalled the batch for as long
// as the jump, when retries ran on the data clock).
func TestQueue_UnansweredBatchIsOfferedAgain(t *testing.T) {
	f := newFixture(t, []string{"a"}, nil)
	fake := f.fakes["a"]
	// The queue's retry clock stands still, so only the test moves it on.
	start := time.Now()
	f.cfg.RetryClock = func() time.Time { return start.Add(time.Duration(f.clock.Load())) }
	var dataSkew atomic.Int64
	f.cfg.Now = func() time.Time { return time.Now().Add(time.Duration(dataSkew.Load())) }
	f.spawn()
	want := map[string]uint32{"k1": 1, "k2": 2}
	for key, p := range want {
		f.mustStore("a", p, key, "value-"+key)
	}
	fake.setDrop(2)
	f.setAlive("a", true)
	waitFor(t, "the first batch sent", func() error {
		if got := fake.attempts(); len(got) != 2 {
			return fmt.Errorf("attempts %v", got)
		}
		return nil
	})
	f.waitTicks("a", 10)
	if got := fake.attempts(); got["k1"] != 1 || got["k2"] != 1 {
		t.Fatalf("the lost batch was offered again before its time: attempts %v", got)
	}
	f.wantPending(f.cfg.Stats, map[string]int{"a": 2})

	dataSkew.Store(int64(-time.Hour))
	f.clock.Add(int64(5 * testInterval))
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, fake, want)
	t.Logf("attempts after the lost batch: %v", fake.attempts())
}

// TestQueue_HintsFor counts the hints kept for one key, across targets, as
// the tombstone reaper asks before it reaps: a key with a hint pending must
// not look hint-free, and a delivered hint no longer counts.
func TestQueue_HintsFor(t *testing.T) {
	f := newFixture(t, []string{"a", "b"}, nil)
	f.spawn()
	f.mustStore("a", 1, "k", "value-k")
	f.mustStore("b", 1, "k", "value-k")
	f.mustStore("a", 1, "k", "value-k") // a second write of the key
	f.mustStore("a", 2, "k", "value-k") // same key bytes, other partition
	f.mustStore("a", 1, "other", "value-other")
	hintsFor := func(p uint32, key string) uint32 {
		t.Helper()
		f.req++
		res, err := f.sys.Root.RequestFuture(f.queue, &messages.Envelope{RequestId: f.req, Body: &messages.Envelope_HintsForRequest{
			HintsForRequest: &messages.HintsForRequest{Partition: p, Key: []byte(key)}}}, 5*time.Second).Result()
		if err != nil {
			t.Fatalf("hints for %d/%s: no reply: %v", p, key, err)
		}
		env, ok := res.(*messages.Envelope)
		if !ok || env.GetHintsForReply() == nil || env.GetRequestId() != f.req {
			t.Fatalf("hints for %d/%s: reply %v, want a HintsForReply to request %d", p, key, res, f.req)
		}
		return env.GetHintsForReply().GetCount()
	}
	for _, tc := range []struct {
		p    uint32
		key  string
		want uint32
	}{{1, "k", 3}, {2, "k", 1}, {1, "other", 1}, {1, "none", 0}, {3, "k", 0}} {
		if got := hintsFor(tc.p, tc.key); got != tc.want {
			t.Errorf("hints for partition %d key %q: %d, want %d", tc.p, tc.key, got, tc.want)
		}
	}
	f.setAlive("a", true)
	waitFor(t, "a's hints delivered", func() error {
		if counts, _ := f.stored(); counts["a"] != 0 {
			return fmt.Errorf("%d left", counts["a"])
		}
		return nil
	})
	if got := hintsFor(1, "k"); got != 1 {
		t.Errorf("hints for partition 1 key k after a's delivery: %d, want b's 1", got)
	}
}

// TestQueue_SupervisorRestartStopsItsTicker makes the queue panic once, so
// its supervisor restarts it: the old incarnation's ticker must stop, or
// every restart adds one more goroutine ticking the queue, which outlives
// even the queue's stop.
func TestQueue_SupervisorRestartStopsItsTicker(t *testing.T) {
	var panicked atomic.Bool
	f := newFixture(t, []string{"a"}, func(c *Config) {
		c.Alive = func(string) bool {
			if panicked.CompareAndSwap(false, true) {
				panic("hints test: one panic to make the supervisor restart the queue")
			}
			return true
		}
	})
	f.spawn()
	f.mustStore("a", 1, "k1", "value-k1")
	f.waitDrained(f.cfg.Stats) // delivered by the restarted queue
	if !panicked.Load() {
		t.Fatal("the queue never asked whether a is alive")
	}
	waitFor(t, "one ticker left after the restart", func() error {
		if n := tickerGoroutines(); n > 1 {
			return fmt.Errorf("%d ticker goroutines", n)
		}
		return nil
	})
	f.stop()
	waitFor(t, "no ticker left after the stop", func() error {
		if n := tickerGoroutines(); n > 0 {
			return fmt.Errorf("%d ticker goroutines", n)
		}
		return nil
	})
}

// tickerGoroutines counts the goroutines running a queue's ticker.
func tickerGoroutines() int {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), "actorsys/ticker.Start.func")
}

// syncBuffer is a log sink for many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
