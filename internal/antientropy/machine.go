package antientropy

import (
	"fmt"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
)

// DefaultReapLimit bounds the tombstones one reap phase examines.
const DefaultReapLimit = 100

// Config is what the machine is told once.
type Config struct {
	// Self is this node's id.
	Self string
	// MaxKeys bounds the keys one round repairs, which bounds its load on
	// foreground traffic.
	MaxKeys int
	// Timeout bounds one round, from its start.
	Timeout time.Duration
	// Grace is the least age of a tombstone before it may be reaped; 0
	// turns reaping off.
	Grace time.Duration
	// ReapLimit bounds the tombstones one reap phase examines; 0 means
	// DefaultReapLimit.
	ReapLimit int
	// MergeSize, when set, gives the wire size of a merge request, which
	// ae_bytes_total counts (the machine knows no encoding).
	MergeSize func(partition uint32, key []byte, obj dvv.Set) int
	// SweepInterval is the bound: every pair is exchanged at least once
	// per SweepInterval, while MinGap lets the rounds fit. Routine rounds
	// are paced to sweep all the pairs in half of it. Zero paces nothing:
	// a round starts at every idle Tick MinGap allows.
	SweepInterval time.Duration
	// MinGap is the rate limit: the least time between the starts of two
	// rounds, repairs and retries included.
	MinGap time.Duration
	// RetryMin and RetryMax bound the backoff of a peer after an aborted
	// round: RetryMin, doubled with each failure in a row, at most
	// RetryMax. Zero RetryMin retries at once.
	RetryMin, RetryMax time.Duration
}

// side names one of the two replicas in a round.
type side int

const (
	local side = iota
	remote
)

// pending is what an outstanding request was for.
type pending struct {
	kind Kind
	side side
	key  string
	node string
	// reap is set for the requests of the reap phase.
	reap bool
}

// round is the state of the running round.
type round struct {
	partition uint32
	peer      string
	start     time.Time
	deadline  time.Time
	ex        *merkle.Exchange // nil until both roots are in
	shapes    [2]merkle.Shape
	hashes    [2][]uint64
	keys      [2][]merkle.KeyVersion
	answered  [2]bool
	objects   map[string]*[2]*dvv.Set
	pending   map[uint64]pending
	// wantView is set between the descent finding the replicas in sync
	// and Reap.
	wantView bool
	reap     *reapPhase
	repaired int
	reaped   int
	bytes    int
}

// Rand is the random source a round's pair is picked with: a *rand.Rand of
// math/rand/v2, seeded by the caller (pure packages may not import the
// package, which also offers the hidden global source).
type Rand interface {
	IntN(n int) int
}

// Machine runs one anti-entropy round at a time. See the package doc.
type Machine struct {
	cfg    Config
	r      *round
	nextID uint64
	sched  schedule
}

// New returns an idle machine.
func New(cfg Config) *Machine {
	if cfg.ReapLimit <= 0 {
		cfg.ReapLimit = DefaultReapLimit
	}
	return &Machine{cfg: cfg}
}

// Running reports whether a round is in progress.
func (m *Machine) Running() bool { return m.r != nil }

// Tick is the scheduler's clock: it aborts a round past its deadline,
// brings the schedule up to date with view, then, when idle, starts the
// round the schedule picks (see schedule.go): a due pair, a repair again, a
// retry, or the pair exchanged longest ago, never sooner than MinGap after
// the last start. rng breaks ties between equally old pairs. A nil view (no
// ring yet) or no pair starts nothing. The caller ticks at least every
// MinGap, and again as soon as a round ends, so that repairs run back to
// back.
func (m *Machine) Tick(now time.Time, view *View, rng Rand) Effects {
	var eff Effects
	if m.r != nil && now.After(m.r.deadline) {
		eff.add(m.finishAt(Aborted, ErrTimeout, now))
	}
	if view == nil {
		return eff
	}
	m.sched.refresh(now, view, m.cfg.Self)
	if m.r != nil && m.sched.pairs[pair{m.r.partition, m.r.peer}] == nil {
		// The peer is down or no longer holds the partition: its answers
		// may never come, and waiting out the deadline would stall the
		// sweep.
		eff.add(m.finishAt(Aborted, ErrPeerGone, now))
	}
	m.sched.turnSweep(now)
	if m.r != nil {
		return eff
	}
	pick, why, ok := m.next(now, rng)
	if !ok {
		return eff
	}
	m.sched.started, m.sched.lastStart = true, now
	m.r = &round{partition: pick.partition, peer: pick.peer, start: now, deadline: now.Add(m.cfg.Timeout),
		objects: map[string]*[2]*dvv.Set{}, pending: map[uint64]pending{}}
	eff.Started = &Start{Partition: pick.partition, Peer: pick.peer, Why: why}
	eff.add(m.askLevel(merkle.Request{Level: 0}))
	return eff
}

// node is the node of side sd in the running round.
func (m *Machine) node(sd side) string {
	if sd == local {
		return m.cfg.Self
	}
	return m.r.peer
}

// send records req as pending and returns it stamped with an id and the
// round's deadline.
func (m *Machine) send(p pending, req Request) Request {
	m.nextID++
	m.r.pending[m.nextID] = p
	req.ID, req.Node, req.Partition, req.Deadline = m.nextID, p.node, m.r.partition, m.r.deadline
	req.Kind = p.kind
	return req
}

// take returns the pending request id, removing it; ok is false for a
// reply of no running round's request (a straggler of an ended round).
func (m *Machine) take(id uint64) (pending, bool) {
	if m.r == nil {
		return pending{}, false
	}
	p, ok := m.r.pending[id]
	delete(m.r.pending, id)
	return p, ok
}

// finish ends the round on a reply and returns its result. The round's
// start stands for its end in the schedule: replies come soon after.
func (m *Machine) finish(o Outcome, err error) Effects {
	if m.r == nil {
		return Effects{}
	}
	return m.finishAt(o, err, m.r.start)
}

// finishAt ends the round at end and returns its result.
func (m *Machine) finishAt(o Outcome, err error, end time.Time) Effects {
	r := m.r
	m.r = nil
	if r == nil {
		return Effects{}
	}
	m.sched.ended(r, o, end, m.cfg)
	return Effects{Done: &Result{Outcome: o, Partition: r.partition, Peer: r.peer,
		Repaired: r.repaired, Reaped: r.reaped, Bytes: r.bytes, Err: err}}
}

// Failed records that the request id was answered with an error. A round
// aborts on it, except that a primary that cannot say what it holds for a
// tombstone ends only the reap phase: unknown is not reapable.
func (m *Machine) Failed(id uint64, msg string) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind == Get && p.reap {
		return m.finish(InSync, ErrNotReapable)
	}
	return m.finish(Aborted, wrap(ErrPeerFailed, p, msg))
}

// wrap says which request failed, and how.
func wrap(base error, p pending, msg string) error {
	return fmt.Errorf("%w: %s to %s: %s", base, p.kind, p.node, msg)
}
