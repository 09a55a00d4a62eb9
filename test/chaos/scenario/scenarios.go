package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/test/chaos/harness"
	"github.com/dhtkv/dht/test/chaos/workload"
)

// Scenario is one fault schedule.
type Scenario struct {
	Name  string
	About string
	// LongOnly keeps the scenario out of the short version (CI).
	LongOnly bool
	// ReadR is the R of the clients' reads (workload.Config.ReadR); 0
	// leaves the nodes' default, R=2.
	ReadR int
	// ColdKeys adds keys written once and then only read
	// (workload.Config.ColdKeys).
	ColdKeys int
	// NoFalseNotFound fails the scenario on any read that found nothing
	// for a key acknowledged before the read began (the checker's
	// Report.FoundNothing). Every scenario reports the count; All says
	// which require it to be 0, and why the others do not.
	NoFalseNotFound bool
	// Faults injects faults until ctx is done and returns soon after. It
	// need not undo them: the runner restores the cluster afterwards. Every
	// loop in it is bounded in count as well as by ctx.
	Faults func(ctx context.Context, e *Env) error
}

// Env is what a fault schedule works with.
type Env struct {
	C     *harness.Cluster
	Rng   *rand.Rand
	Rec   *workload.Recorder
	Short bool
	Keys  []string
	Logf  func(format string, args ...any)
}

// maxSteps bounds every fault loop, whatever its duration.
const maxSteps = 500

// note logs a fault and records it in the history.
func (e *Env) note(node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.Logf("nemesis: %s", msg)
	e.Rec.Nemesis(node, msg)
}

// between returns a random duration in [lo, hi).
func (e *Env) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(e.Rng.Int64N(int64(hi-lo)))
}

// wait sleeps d or until ctx is done, and reports whether ctx is still
// live.
func wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// running returns the members whose process runs, in id order.
func (e *Env) running() []*harness.Node {
	var out []*harness.Node
	for _, n := range e.C.Members() {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

func (e *Env) pick(nodes []*harness.Node) *harness.Node { return nodes[e.Rng.IntN(len(nodes))] }

func (e *Env) shuffled(nodes []*harness.Node) []*harness.Node {
	out := slices.Clone(nodes)
	e.Rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func ids(nodes []*harness.Node) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.ID)
	}
	return "{" + strings.Join(s, " ") + "}"
}

// cut makes a and b drop each other's packets.
func cut(d harness.Drops, a, b []*harness.Node) {
	for _, x := range a {
		for _, y := range b {
			d[x.Host] = append(d[x.Host], y.Host)
			d[y.Host] = append(d[y.Host], x.Host)
		}
	}
}

// randomPartition builds one of the partition shapes over nodes and says
// which.
func (e *Env) randomPartition(nodes []*harness.Node) (harness.Drops, string) {
	d := harness.Drops{}
	s := e.shuffled(nodes)
	if len(s) < 3 {
		return d, "none (too few nodes)"
	}
	switch e.Rng.IntN(4) {
	case 0:
		cut(d, s[:1], s[1:])
		return d, fmt.Sprintf("isolate %s from %s", s[0].ID, ids(s[1:]))
	case 1:
		k := len(s) / 2
		cut(d, s[:k], s[k:])
		return d, fmt.Sprintf("minority %s | majority %s", ids(s[:k]), ids(s[k:]))
	case 2:
		// s[0] bridges two halves that cannot see each other.
		rest := s[1:]
		k := len(rest) / 2
		cut(d, rest[:k], rest[k:])
		return d, fmt.Sprintf("bridge: %s sees %s and %s, which do not see each other", s[0].ID, ids(rest[:k]), ids(rest[k:]))
	default:
		// One-way: s[0] hears nobody; everyone still hears s[0].
		for _, y := range s[1:] {
			d[s[0].Host] = append(d[s[0].Host], y.Host)
		}
		return d, fmt.Sprintf("asymmetric: %s drops what %s send; they still hear it", s[0].ID, ids(s[1:]))
	}
}

// Partitions: random partitions of every shape, each held a few seconds,
// with short heals between.
func partitions(ctx context.Context, e *Env) error {
	hold := [2]time.Duration{3 * time.Second, 10 * time.Second}
	if e.Short {
		hold = [2]time.Duration{2 * time.Second, 5 * time.Second}
	}
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		d, what := e.randomPartition(e.running())
		e.note("", "partition: %s", what)
		if err := e.C.Partition(ctx, d); err != nil {
			return err
		}
		wait(ctx, e.between(hold[0], hold[1]))
		e.note("", "heal")
		if err := e.C.Heal(context.Background()); err != nil {
			return err
		}
		wait(ctx, e.between(time.Second, 3*time.Second))
	}
	return nil
}

// restart starts a stopped node again and waits (bounded) until it is
// ready; past ctx the runner's restore finishes the job.
func (e *Env) restart(ctx context.Context, n *harness.Node) error {
	if err := n.Start(); err != nil {
		return err
	}
	e.note(n.ID, "restart %s", n.ID)
	if err := n.WaitReady(ctx, 60*time.Second); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// kills: SIGKILL a random node every few seconds and restart it.
func kills(ctx context.Context, e *Env) error {
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		n := e.pick(e.running())
		e.note(n.ID, "kill -9 %s", n.ID)
		if err := n.Kill(); err != nil {
			return err
		}
		wait(ctx, e.between(time.Second, 4*time.Second))
		if err := e.restart(ctx, n); err != nil {
			return err
		}
		wait(ctx, e.between(time.Second, 3*time.Second))
	}
	return nil
}

// killReplicas: SIGKILL two of the three replicas of one key at once, then
// restart both; writes to the key go on through fallbacks and hints.
func killReplicas(ctx context.Context, e *Env) error {
	members := e.C.Members()
	r, err := e.C.Client(members[0]).Ring(ctx)
	if err != nil {
		return err
	}
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		key := e.Keys[e.Rng.IntN(len(e.Keys))]
		p := ring.PartitionOf([]byte(key), r.Partitions)
		replicas := slices.Clone(r.Replicas[p])
		e.Rng.Shuffle(len(replicas), func(i, j int) { replicas[i], replicas[j] = replicas[j], replicas[i] })
		victims := []*harness.Node{e.C.Node(replicas[0]), e.C.Node(replicas[1])}
		e.note("", "kill -9 %s and %s at once, two of the three replicas of %s (partition %d: %v)", victims[0].ID, victims[1].ID, key, p, r.Replicas[p])
		for _, v := range victims {
			if err := v.Kill(); err != nil {
				return err
			}
		}
		wait(ctx, e.between(2*time.Second, 6*time.Second))
		for _, v := range victims {
			if err := v.Start(); err != nil {
				return err
			}
			e.note(v.ID, "restart %s", v.ID)
		}
		for _, v := range victims {
			if err := v.WaitReady(ctx, 60*time.Second); err != nil && ctx.Err() == nil {
				return err
			}
		}
		wait(ctx, e.between(2*time.Second, 4*time.Second))
	}
	return nil
}

// pauses: SIGSTOP a node (sometimes two) for 1–15 s, then SIGCONT.
func pauses(ctx context.Context, e *Env) error {
	longest := 15 * time.Second
	if e.Short {
		longest = 8 * time.Second
	}
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		victims := e.shuffled(e.running())[:1+e.Rng.IntN(2)]
		d := e.between(time.Second, longest)
		for _, v := range victims {
			e.note(v.ID, "pause (SIGSTOP) %s for %v", v.ID, d.Round(time.Millisecond))
			if err := v.Pause(); err != nil {
				return err
			}
		}
		wait(ctx, d)
		for _, v := range victims {
			e.note(v.ID, "resume (SIGCONT) %s", v.ID)
			if err := v.Resume(); err != nil {
				return err
			}
		}
		wait(ctx, e.between(time.Second, 3*time.Second))
	}
	return nil
}

// clocks: bump random nodes' data clocks by seconds to minutes, either
// way, and now and then restart a skewed node (its dot minter starts from
// the skewed clock).
func clocks(ctx context.Context, e *Env) error {
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		n := e.pick(e.C.Members())
		var d time.Duration
		if e.Rng.IntN(2) == 0 {
			d = e.between(time.Second, 60*time.Second)
		} else {
			d = e.between(time.Minute, 10*time.Minute)
		}
		if e.Rng.IntN(2) == 0 {
			d = -d
		}
		d = d.Round(time.Millisecond)
		e.note(n.ID, "clock of %s skewed by %v (was %v)", n.ID, d, n.Skew())
		if err := n.SetClock(d); err != nil {
			return err
		}
		if e.Rng.IntN(4) == 0 && n.Running() {
			e.note(n.ID, "kill -9 %s (clock skewed by %v)", n.ID, d)
			if err := n.Kill(); err != nil {
				return err
			}
			wait(ctx, e.between(500*time.Millisecond, 2*time.Second))
			if err := e.restart(ctx, n); err != nil {
				return err
			}
		}
		wait(ctx, e.between(time.Second, 3*time.Second))
	}
	return nil
}

// clockHints: a node stops answering (SIGSTOP) long enough for writes to
// time out on it and leave hints, which the other nodes then start to
// deliver to it while gossip still thinks it alive; the other nodes' data
// clocks jump back by minutes; the node is killed (the batch in flight is
// lost) and restarted. The hints must still reach it, and the cluster
// converge: hint delivery's retry timer must not run on the data clock.
func clockHints(ctx context.Context, e *Env) error {
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		x := e.pick(e.running())
		e.note(x.ID, "pause (SIGSTOP) %s: writes to it time out and leave hints", x.ID)
		if err := x.Pause(); err != nil {
			return err
		}
		wait(ctx, e.between(4*time.Second, 6*time.Second))
		back := -e.between(2*time.Minute, 5*time.Minute).Round(time.Second)
		for _, n := range e.C.Members() {
			if n != x {
				d := n.Skew() + back
				e.note(n.ID, "clock of %s jumps back by %v (skew now %v)", n.ID, -back, d)
				if err := n.SetClock(d); err != nil {
					return err
				}
			}
		}
		wait(ctx, e.between(time.Second, 2*time.Second))
		e.note(x.ID, "kill -9 %s (paused; hint batches sent to it are lost)", x.ID)
		if err := x.Kill(); err != nil {
			return err
		}
		if err := e.restart(ctx, x); err != nil {
			return err
		}
		wait(ctx, e.between(3*time.Second, 6*time.Second))
	}
	return nil
}

// wipes: stop a node, delete its data directory, start it empty. One at a
// time, well spaced: two disks lost before anti-entropy re-replicated the
// first may lose data legitimately.
func wipes(ctx context.Context, e *Env) error {
	gap := [2]time.Duration{10 * time.Second, 20 * time.Second}
	if e.Short {
		gap = [2]time.Duration{8 * time.Second, 10 * time.Second}
	}
	wait(ctx, e.between(time.Second, 3*time.Second))
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		n := e.pick(e.running())
		e.note(n.ID, "wipe %s: kill -9, delete its data directory, start it empty", n.ID)
		if err := n.Kill(); err != nil {
			return err
		}
		if err := n.Wipe(); err != nil {
			return err
		}
		wait(ctx, e.between(500*time.Millisecond, 2*time.Second))
		if err := e.restart(ctx, n); err != nil {
			return err
		}
		wait(ctx, e.between(gap[0], gap[1]))
	}
	return nil
}

// wipeRebuildColdKeys is how many keys wipe-rebuild writes once and then
// only reads: 8 per partition of the chaos ring. Its other keys are
// rewritten many times a second, and each write carries the whole object
// to every replica, so a wiped node has them back within moments of its
// restart whether or not it rebuilds; only data at rest shows whether a
// node that has not received it yet answers reads.
const wipeRebuildColdKeys = 256

// wipeRebuildTimeout bounds the wait for one wiped node's rebuild. It is a
// guard against a hang, far above what a few hundred keys take to stream;
// the fault phase, shorter still, usually ends the wait first.
const wipeRebuildTimeout = 2 * time.Minute

// wipeRebuild: nodes lose their disks one at a time (kill -9, data
// directory deleted, started empty with the same identity), in a shuffled
// order so that every node is wiped once before any is wiped twice, while
// the clients read at R=1 and no packet is dropped. The next wipe waits
// until the wiped node reports its rebuild done (nothing pending or
// rebuilding, handoffs settled), so at most one replica of a partition is
// ever without its data, and then a few seconds more, so that the clients
// read from the rebuilt node too. A rebuilding node must not answer for
// data it has not received yet: at R=1 its answer would be the client's.
func wipeRebuild(ctx context.Context, e *Env) error {
	hold := [2]time.Duration{5 * time.Second, 10 * time.Second}
	if e.Short {
		hold = [2]time.Duration{3 * time.Second, 5 * time.Second}
	}
	wait(ctx, e.between(time.Second, 3*time.Second))
	order := e.shuffled(e.C.Members())
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		n := order[step%len(order)]
		e.note(n.ID, "wipe %s: kill -9, delete its data directory, start it empty with the same identity", n.ID)
		if err := n.WipeAndStart(ctx, e.between(500*time.Millisecond, 2*time.Second)); err != nil {
			return err
		}
		e.note(n.ID, "restart %s (wiped)", n.ID)
		if err := n.WaitReady(ctx, 60*time.Second); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		took, err := e.C.WaitRebuilt(ctx, n, wipeRebuildTimeout)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// Another wipe now could lose data legitimately (two replicas
			// without it). Stop wiping; the runner's settle then says
			// whether the rebuild ever finished.
			e.note(n.ID, "%v; no more wipes", err)
			return nil
		}
		e.note(n.ID, "%s rebuilt: nothing pending or rebuilding %v after it was ready", n.ID, took.Round(time.Millisecond))
		wait(ctx, e.between(hold[0], hold[1]))
	}
	return nil
}

// membership: a sixth node joins and an original one is decommissioned,
// both while the cluster is partitioned; partitions go on around them.
func membership(ctx context.Context, e *Env) error {
	partition := func() error {
		d, what := e.randomPartition(e.running())
		e.note("", "partition: %s", what)
		return e.C.Partition(ctx, d)
	}
	heal := func() error {
		e.note("", "heal")
		return e.C.Heal(context.Background())
	}
	hold := func() { wait(ctx, e.between(2*time.Second, 5*time.Second)) }

	if err := partition(); err != nil {
		return err
	}
	e.note("n6", "join: start n6 with seeds while partitioned")
	joinCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	n6, err := e.C.Join(joinCtx, 60*time.Second)
	cancel()
	if err != nil && ctx.Err() == nil {
		e.Logf("nemesis: n6 not ready yet (%v); carrying on", err)
	}
	if n6 == nil {
		return err
	}
	hold()
	if err := heal(); err != nil {
		return err
	}
	wait(ctx, e.between(time.Second, 2*time.Second))
	if err := partition(); err != nil {
		return err
	}
	// Decommission an original node other than the seed, through another.
	candidates := e.C.Members()[1:5]
	leaving := e.pick(candidates)
	var via *harness.Node
	for _, n := range e.shuffled(e.running()) {
		if n != leaving {
			via = n
			break
		}
	}
	e.note(leaving.ID, "decommission %s (through %s) while partitioned", leaving.ID, via.ID)
	dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	_, err = e.C.Client(via).Decommission(dctx, leaving.ID)
	cancel()
	if err != nil {
		return fmt.Errorf("decommission %s through %s: %w", leaving.ID, via.ID, err)
	}
	leaving.MarkRetired()
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		hold()
		if err := heal(); err != nil {
			return err
		}
		wait(ctx, e.between(time.Second, 3*time.Second))
		if ctx.Err() != nil {
			break
		}
		if err := partition(); err != nil {
			return err
		}
	}
	return nil
}

// concurrentJoinNodes is how many nodes the joins scenario adds at once:
// with 5 nodes and N=3, three newcomers take about 3/8 of the replicas,
// so many partitions have two or three of their replicas move in one
// change.
const concurrentJoinNodes = 3

// joins: three nodes join at once, then are decommissioned at once, with
// no other fault. A partition whose replicas move two or three at a time
// has read quorums made only of new replicas: a new replica that began
// receiving before every node routed writes to it missed the writes of
// the nodes still on the old ring, and answered not-found for them (fixed
// by transfer's wait for ring agreement). No read may find nothing.
func joins(ctx context.Context, e *Env) error {
	hold := func() { wait(ctx, e.between(2*time.Second, 4*time.Second)) }
	for round := 0; round < maxSteps && ctx.Err() == nil; round++ {
		e.note("", "join: start %d nodes at once", concurrentJoinNodes)
		joined, err := e.C.JoinMany(ctx, concurrentJoinNodes, 60*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("concurrent join: %w", err)
		}
		ids := make([]string, len(joined))
		for i, n := range joined {
			ids[i] = n.ID
		}
		e.note("", "%v ready", ids)
		hold()
		if ctx.Err() != nil {
			return nil
		}
		// Decommission all of them at once, each through an original
		// node, so the ring takes their replicas back concurrently too.
		var originals []*harness.Node
		for _, n := range e.C.Members() {
			if !slices.Contains(joined, n) {
				originals = append(originals, n)
			}
		}
		via := e.pick(originals)
		for _, n := range joined {
			e.note(n.ID, "decommission %s (through %s)", n.ID, via.ID)
			dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			_, err := e.C.Client(via).Decommission(dctx, n.ID)
			cancel()
			if err != nil {
				return fmt.Errorf("decommission %s through %s: %w", n.ID, via.ID, err)
			}
			n.MarkRetired()
		}
		// The next round waits until they have handed everything over
		// and exited, so it joins to the original five again.
		for _, n := range joined {
			select {
			case <-n.Done():
			case <-ctx.Done():
				return nil
			}
		}
		hold()
	}
	return nil
}

// mixed: partitions, kills, pauses and clock bumps, at random, sometimes
// overlapping.
func mixed(ctx context.Context, e *Env) error {
	for step := 0; step < maxSteps && ctx.Err() == nil; step++ {
		switch e.Rng.IntN(4) {
		case 0:
			d, what := e.randomPartition(e.running())
			e.note("", "partition: %s", what)
			if err := e.C.Partition(ctx, d); err != nil {
				return err
			}
		case 1:
			if live := e.running(); len(live) > 3 {
				n := e.pick(live)
				e.note(n.ID, "kill -9 %s", n.ID)
				if err := n.Kill(); err != nil {
					return err
				}
			}
		case 2:
			if live := e.running(); len(live) > 0 {
				n := e.pick(live)
				if !n.Paused() {
					e.note(n.ID, "pause (SIGSTOP) %s", n.ID)
					if err := n.Pause(); err != nil {
						return err
					}
				}
			}
		default:
			n := e.pick(e.C.Members())
			d := e.between(-5*time.Minute, 5*time.Minute).Round(time.Millisecond)
			e.note(n.ID, "clock of %s skewed by %v", n.ID, d)
			if err := n.SetClock(d); err != nil {
				return err
			}
		}
		wait(ctx, e.between(2*time.Second, 6*time.Second))
		// Undo what is in force, sometimes, so faults come and go.
		if e.Rng.IntN(2) == 0 {
			e.note("", "restore: heal, resume, restart")
			if err := e.C.Restore(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			wait(ctx, e.between(time.Second, 3*time.Second))
		}
	}
	return nil
}

// All returns every scenario, in the order `make chaos` runs them.
//
// Which require no false not-found (NoFalseNotFound)? wipe-rebuild and
// joins. joins injects no fault at all: every replica stays reachable, so
// a read at R=2 of a key acknowledged at W=2 overlaps its write, and
// finds nothing only if new replicas answered before they held the data.
// A read finds nothing for an acknowledged key only if every replica that
// answered it lacks the key. The other scenarios read at the nodes' R=2
// and stop or cut off primaries: partition, membership and mixed cut them
// off; kill, kill-replicas, pause, clock, clock-hints and wipe stop them
// (kill-replicas and pause two at once). A write is then acknowledged by
// W=2 that may include a fallback keeping a hint, so the acknowledgement
// no longer names two primaries, and a read of the two primaries the hint
// has not reached yet finds nothing: a sloppy quorum promises no more,
// and the checker counts such a read neither lost nor stale, which only
// the final state decides. The wipe scenario adds to that wipes on a
// timer, not after the last rebuild. wipe-rebuild drops no packet and
// waits for each rebuild, so at most one replica of a key lacks its data
// at any time, and that one is rebuilding, which must not answer for
// data it has not received. Its reads at R=1 with W=2 of N=3 do not
// overlap the write's replicas by quorum either, but a replica the write
// has not reached yet answers the key's previous version, not nothing,
// once the key has one: the cold keys are written before the clients'
// loops, and the warmup (seconds of ops on 30 keys) writes the others
// before the first wipe.
func All() []Scenario {
	return []Scenario{
		{Name: "partition", About: "random partitions: one node isolated, minority/majority, a bridge, one-way", Faults: partitions},
		{Name: "kill", About: "kill -9 a random node every few seconds, restart it", Faults: kills},
		{Name: "kill-replicas", About: "kill -9 two of a key's three replicas at once, restart both", Faults: killReplicas},
		{Name: "pause", About: "SIGSTOP one or two nodes for 1-15 s, then SIGCONT", Faults: pauses},
		{Name: "clock", About: "data clocks bumped by seconds to minutes either way; skewed nodes restarted", Faults: clocks},
		// It found hint retries timed by the data clock (fixed in b3be2f2).
		{Name: "clock-hints", About: "a paused node collects hints, the others' clocks jump back by minutes, the node is killed and restarted", Faults: clockHints},
		{Name: "wipe", About: "a node's data directory deleted (kill, rm, start), one at a time", Faults: wipes},
		{Name: "wipe-rebuild", About: "a node's data directory deleted (kill, rm, start), one at a time, each rebuilt before the next; clients read at R=1; no partitions",
			// In chaos-short (CI) since the read gate (a481c6b) and the
			// rebuild-source fix (34322d8) closed the windows in which a
			// wiped node's empty answers counted (issue 17).
			Faults: wipeRebuild, ReadR: 1, ColdKeys: wipeRebuildColdKeys, NoFalseNotFound: true},
		{Name: "membership", About: "a sixth node joins and one is decommissioned, both during partitions", Faults: membership},
		{Name: "joins", About: "three nodes join at once, then are decommissioned at once, under load; no other fault; no read may find nothing",
			Faults: joins, NoFalseNotFound: true},
		{Name: "mixed", About: "partitions, kills, pauses and clock bumps at random, overlapping", Faults: mixed, LongOnly: true},
	}
}

// ByName returns the scenario called name.
func ByName(name string) (Scenario, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}
