package antientropy_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
	"github.com/dhtkv/dht/test/testutil"
)

// key names a (partition, peer) pair in these tests.
type key struct {
	p    uint32
	peer string
}

// fleet answers a machine's requests at once, by a rule per pair instead of
// by stored data: a pair in sync answers equal roots; a pair with diffs[k]
// > 0 answers a descent to one differing key and repairs it, one round per
// diff; a failing peer answers errors; a silent one nothing.
type fleet struct {
	m       *antientropy.Machine
	diffs   map[key]int
	failing map[string]bool
	silent  map[string]bool
	// exchanged is when each pair's last completed round started.
	exchanged map[key]time.Time
	started   []antientropy.Start
	rounds    map[string]int // rounds started, by peer
	// bound, when set, is checked for each pair at its exchange (t0:
	// when the pairs were first seen).
	t     *testing.T
	t0    time.Time
	bound time.Duration
}

func newFleet(m *antientropy.Machine) *fleet {
	return &fleet{m: m, diffs: map[key]int{}, failing: map[string]bool{}, silent: map[string]bool{},
		exchanged: map[key]time.Time{}, rounds: map[string]int{}}
}

// tick steps the machine at now and plays the round it starts to its end
// (unless the peer is silent).
func (f *fleet) tick(t *testing.T, now time.Time, view *antientropy.View, rng antientropy.Rand) {
	t.Helper()
	eff := f.m.Tick(now, view, rng)
	f.done(eff.Done, now)
	st := eff.Started
	if st == nil {
		return
	}
	f.started = append(f.started, *st)
	f.rounds[st.Peer]++
	k := key{st.Partition, st.Peer}
	queue := eff.Send
	for len(queue) > 0 {
		req := queue[0]
		queue = queue[1:]
		if f.silent[st.Peer] && req.Node == st.Peer {
			continue
		}
		e := f.answer(req, k)
		queue = append(queue, e.Send...)
		if e.Done != nil {
			if e.Done.Outcome == antientropy.Repaired {
				f.diffs[k]--
			}
			f.done(e.Done, now)
		}
	}
}

func (f *fleet) done(r *antientropy.Result, start time.Time) {
	if r != nil && r.Outcome != antientropy.Aborted {
		k := key{r.Partition, r.Peer}
		if f.bound > 0 {
			f.t.Helper()
			f.check(f.t, k, start, f.t0, f.bound)
		}
		f.exchanged[k] = start
	}
}

// check fails t when k's last exchange (or t0, never) is over bound old at
// now.
func (f *fleet) check(t *testing.T, k key, now, t0 time.Time, bound time.Duration) {
	t.Helper()
	last, ok := f.exchanged[k]
	if !ok {
		last = t0
	}
	if age := now.Sub(last); age > bound {
		t.Fatalf("at %v: p%d with %s last exchanged %v ago, over the %v sweep", now.Sub(t0), k.p, k.peer, age, bound)
	}
}

func (f *fleet) answer(req antientropy.Request, k key) antientropy.Effects {
	remote := req.Node == k.peer
	if remote && f.failing[k.peer] {
		return f.m.Failed(req.ID, "failing")
	}
	differs := f.diffs[k] > 0
	switch req.Kind {
	case antientropy.MerkleLevel:
		n := 1
		if req.Level > 0 {
			n = len(req.Parents) * simShape.Fanout
		}
		hashes := make([]uint64, n)
		if differs && remote {
			hashes[0] = 1
		}
		return f.m.Hashes(req.ID, hashes, simShape)
	case antientropy.BucketKeys:
		return f.m.Keys(req.ID, []merkle.KeyVersion{{Key: []byte("k"), ValueHash: map[bool]uint64{false: 1, true: 2}[remote]}})
	case antientropy.Get:
		actor := dvv.Actor(1)
		if remote {
			actor = 2
		}
		d := dvv.Dot{Actor: actor, Counter: 1}
		return f.m.Object(req.ID, dvv.Set{Context: dvv.NewVersionVector(d),
			Siblings: []dvv.Sibling{{Dot: d, Value: []byte("v"), Timestamp: 1}}}, 10)
	case antientropy.Merge:
		return f.m.Merged(req.ID)
	}
	panic(fmt.Sprintf("unexpected request %v", req.Kind))
}

// ringView is q partitions, every one held by self and peers, all alive.
func ringView(q int, self string, peers ...string) *antientropy.View {
	v := &antientropy.View{Members: map[string]antientropy.Liveness{self: antientropy.Alive}}
	replicas := append([]string{self}, peers...)
	v.Owners = replicas
	for _, p := range peers {
		v.Members[p] = antientropy.Alive
	}
	for range q {
		v.Partitions = append(v.Partitions, antientropy.Partition{Replicas: replicas, Primaries: replicas})
	}
	return v
}

func scheduled(sweep time.Duration) antientropy.Config {
	return antientropy.Config{Self: "a", MaxKeys: 10, Timeout: 30 * time.Second,
		SweepInterval: sweep, MinGap: 200 * time.Millisecond, RetryMin: time.Second, RetryMax: sweep / 4}
}

// TestSchedule_EveryPairWithinTheSweep: a node of a Q=256, N=3 ring with
// both peers alive (512 pairs) ticks at the rate limit for four sweep
// intervals while random rounds find differences (repeated until in sync)
// or fail. At every tick every pair's last exchange (or its first sight)
// is at most one sweep interval old, and so is Stats.MaxAge; every sweep
// completes within the interval.
func TestSchedule_EveryPairWithinTheSweep(t *testing.T) {
	rng := testutil.Rand(t)
	const sweep = 10 * time.Minute
	cfg := scheduled(sweep)
	m := antientropy.New(cfg)
	f := newFleet(m)
	view := ringView(256, "a", "b", "c")
	t0 := epoch
	f.t, f.t0, f.bound = t, t0, sweep
	var failures, repairs int
	for now := t0; now.Before(t0.Add(4 * sweep)); now = now.Add(cfg.MinGap) {
		// Before the round a tick may start: some pairs diverge, a peer
		// may fail for a while.
		if rng.IntN(50) == 0 {
			f.diffs[key{uint32(rng.IntN(256)), []string{"b", "c"}[rng.IntN(2)]}] += 1 + rng.IntN(5)
			repairs++
		}
		for _, peer := range []string{"b", "c"} {
			if f.failing[peer] {
				f.failing[peer] = rng.IntN(10) != 0
			} else if rng.IntN(500) == 0 {
				f.failing[peer] = true
				failures++
			}
		}
		f.tick(t, now, view, rng)
		// Ages only grow between exchanges: checking every pair each 5s
		// and, through f.check, each pair just before its exchange,
		// sees every age at its peak, give or take 5s.
		if now.Sub(t0)%(5*time.Second) == 0 {
			for p := range 256 {
				for _, peer := range []string{"b", "c"} {
					f.check(t, key{uint32(p), peer}, now, t0, sweep)
				}
			}
			st := m.Stats(now)
			if st.Pairs != 512 || st.MaxAge > sweep || st.LastSweep > sweep {
				t.Fatalf("at %v: %+v, want 512 pairs, max age and last sweep within %v", now.Sub(t0), st, sweep)
			}
		}
	}
	st := m.Stats(t0.Add(4 * sweep))
	t.Logf("%d rounds in %v: %d divergences, %d failure spells; stats %+v", len(f.started), 4*sweep, repairs, failures, st)
	if st.Sweeps < 4 {
		t.Fatalf("%d sweeps completed in four intervals, want at least 4", st.Sweeps)
	}
}

// TestSchedule_RepeatsARepairBackToBack: a pair whose round repaired goes
// again at the next gap, until a round finds it in sync; then the routine
// pace resumes.
func TestSchedule_RepeatsARepairBackToBack(t *testing.T) {
	cfg := scheduled(10 * time.Minute)
	m := antientropy.New(cfg)
	f := newFleet(m)
	view := ringView(4, "a", "b", "c")
	f.diffs[key{0, "b"}] = 3
	for i := 0; i <= 10; i++ {
		f.tick(t, epoch.Add(time.Duration(i)*cfg.MinGap), view, pick(0))
	}
	// The routine pace (5m / 8 pairs) starts nothing else in 2s.
	var got []string
	for _, s := range f.started {
		got = append(got, fmt.Sprintf("p%d/%s/%s", s.Partition, s.Peer, s.Why))
	}
	if want := "[p0/b/routine p0/b/repeat p0/b/repeat p0/b/repeat]"; fmt.Sprint(got) != want {
		t.Fatalf("rounds %v, want %s: three repairs, then the in-sync round", got, want)
	}
}

// TestSchedule_AFailingPeerDoesNotStarveTheOthers: c is alive to gossip
// but never answers, so each of its rounds waits out the 30s timeout. Its
// backoff keeps it to a few rounds, and every pair with b is still
// exchanged within the sweep interval; c's pairs age, which Stats shows.
func TestSchedule_AFailingPeerDoesNotStarveTheOthers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const sweep = 10 * time.Minute
	cfg := scheduled(sweep)
	m := antientropy.New(cfg)
	f := newFleet(m)
	f.silent["c"] = true
	view := ringView(64, "a", "b", "c")
	end := epoch.Add(3 * sweep)
	for now := epoch; now.Before(end); now = now.Add(cfg.MinGap) {
		f.tick(t, now, view, rng)
		for p := range 64 {
			f.check(t, key{uint32(p), "b"}, now, epoch, sweep)
		}
	}
	st := m.Stats(end)
	t.Logf("rounds with b %d, with c %d; stats %+v", f.rounds["b"], f.rounds["c"], st)
	// Backoff from 1s doubling to 2.5m, plus 30s per attempt: about 17
	// attempts in 30 minutes. Without backoff c would take one in two.
	if f.rounds["c"] < 2 || f.rounds["c"] > 25 {
		t.Fatalf("%d rounds with the silent peer in %v, want a few retries, bounded by the backoff", f.rounds["c"], 3*sweep)
	}
	if st.MaxAge <= sweep {
		t.Fatalf("stats %+v: want c's never-exchanged pairs to show their age", st)
	}
}

// TestSchedule_ForgetsPairsThatLeave: a sweep ends once every pair present
// at its start has been exchanged or has left the view.
func TestSchedule_ForgetsPairsThatLeave(t *testing.T) {
	cfg := scheduled(time.Minute)
	m := antientropy.New(cfg)
	f := newFleet(m)
	view := ringView(2, "a", "b", "c")
	now := epoch
	for range 2 {
		f.tick(t, now, view, pick(0))
		now = now.Add(cfg.SweepInterval / 2 / 4)
	}
	if st := m.Stats(now); st.Pairs != 4 || st.Sweeps != 0 || len(f.started) != 2 {
		t.Fatalf("after two routine rounds: %+v, %d started", st, len(f.started))
	}
	// pick(0) takes the first never-exchanged pair in the view's order:
	// (p0,b), then (p0,c). a stops holding p1, whose pairs are forgotten.
	if got := fmt.Sprint(f.started); got != "[{0 b routine} {0 c routine}]" {
		t.Fatalf("rounds %s, want p0 with b then c", got)
	}
	gone := ringView(2, "a", "b", "c")
	gone.Partitions[1].Replicas = []string{"b", "c"}
	f.tick(t, now, gone, pick(0))
	st := m.Stats(now)
	if st.Sweeps != 1 || st.LastSweep != now.Sub(epoch) {
		t.Fatalf("after the remaining pairs left: %+v, want the sweep done in %v", st, now.Sub(epoch))
	}
}
