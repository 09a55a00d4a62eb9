package antientropy

import (
	"cmp"
	"slices"
	"time"
)

// The schedule decides which (partition, peer) pair the next round takes,
// and when. It keeps, per pair, when its last completed exchange started,
// so that every pair is exchanged at least once per Config.SweepInterval:
//
//   - a round never starts sooner than Config.MinGap after the previous
//     one started (the rate limit, for repairs and retries too);
//   - a pair whose age (since its last exchange, or since the machine first
//     saw it) reached half the sweep interval is due and goes first;
//   - then a pair whose last round repaired goes again, back to back, until
//     a round finds it in sync;
//   - then a pair whose last round was aborted is retried, once its peer's
//     backoff has passed;
//   - then, paced so that all the pairs fit in half the sweep interval, the
//     pair exchanged longest ago (never-exchanged first, ties broken by the
//     caller's Rand so that the nodes spread over pairs).
//
// Half the interval is the routine target; the other half is the slack
// repairs, retries and slow rounds may take without breaking the bound. A
// peer whose round was aborted is left alone for a backoff that doubles
// with each failure in a row (Config.RetryMin up to Config.RetryMax), so a
// dead peer that gossip still calls alive costs one round per backoff, not
// one per tick; its pairs age meanwhile, which Stats shows. Pairs that
// leave the view (the peer is down, the partition moved) are forgotten.

// pairState is what the schedule knows of one pair.
type pairState struct {
	// seen is when the machine first saw the pair in its view.
	seen time.Time
	// last is when the pair's last completed exchange started; zero for
	// never.
	last time.Time
	// dirty is set when the last round repaired: it goes again.
	dirty bool
	// failed is set when the last round was aborted, at failedAt (its start).
	failed   bool
	failedAt time.Time
}

// since is the time the pair's age counts from.
func (s *pairState) since() time.Time {
	if s.last.IsZero() {
		return s.seen
	}
	return s.last
}

// peerState is the backoff of a peer whose rounds fail.
type peerState struct {
	failures int
	retryAt  time.Time
}

// sweep is one pass over the pairs present at its start.
type sweep struct {
	active bool
	start  time.Time
	left   map[pair]bool
}

// schedule is the machine's part that picks rounds.
type schedule struct {
	pairs map[pair]*pairState
	order []pair // the pairs in the view's order, for reproducible picks
	peers map[string]*peerState

	started     bool
	lastStart   time.Time
	lastRoutine time.Time

	sweep     sweep
	lastSweep time.Duration
	sweeps    int
}

// Stats is what the schedule's metrics read.
type Stats struct {
	// Pairs counts the (partition, peer) pairs in the view.
	Pairs int
	// MaxAge is the longest time any current pair has gone without an
	// exchange (counted from its last exchange's start, or, never
	// exchanged, from when the machine first saw it).
	MaxAge time.Duration
	// LastSweep is how long the last completed sweep took: from its start
	// until every pair present then (and still present) had been
	// exchanged. Zero until one completes.
	LastSweep time.Duration
	// Sweeps counts completed sweeps.
	Sweeps int
	// Backoff counts peers left alone after failures.
	Backoff int
}

// Stats reports the schedule's state at now.
func (m *Machine) Stats(now time.Time) Stats {
	s := &m.sched
	st := Stats{Pairs: len(s.order), LastSweep: s.lastSweep, Sweeps: s.sweeps}
	for _, p := range s.order {
		st.MaxAge = max(st.MaxAge, now.Sub(s.pairs[p].since()))
	}
	for _, ps := range s.peers {
		if ps.retryAt.After(now) {
			st.Backoff++
		}
	}
	return st
}

// refresh brings the pairs up to date with the view: new ones are seen at
// now, gone ones forgotten.
func (s *schedule) refresh(now time.Time, view *View, self string) {
	if s.pairs == nil {
		s.pairs, s.peers = map[pair]*pairState{}, map[string]*peerState{}
	}
	s.order = view.pairs(self)
	present := make(map[pair]bool, len(s.order))
	peers := map[string]bool{}
	for _, p := range s.order {
		present[p], peers[p.peer] = true, true
		if s.pairs[p] == nil {
			s.pairs[p] = &pairState{seen: now}
		}
	}
	for p := range s.pairs {
		if !present[p] {
			delete(s.pairs, p)
			delete(s.sweep.left, p)
		}
	}
	for id := range s.peers {
		if !peers[id] {
			delete(s.peers, id)
		}
	}
}

// turnSweep ends the running sweep when every pair it began with has been
// exchanged, and begins the next over the pairs present now.
func (s *schedule) turnSweep(now time.Time) {
	if s.sweep.active && len(s.sweep.left) == 0 {
		s.lastSweep, s.sweeps = now.Sub(s.sweep.start), s.sweeps+1
		s.sweep.active = false
	}
	if !s.sweep.active && len(s.order) > 0 {
		s.sweep = sweep{active: true, start: now, left: make(map[pair]bool, len(s.order))}
		for _, p := range s.order {
			s.sweep.left[p] = true
		}
	}
}

// backingOff reports whether peer is left alone at now.
func (s *schedule) backingOff(peer string, now time.Time) bool {
	ps := s.peers[peer]
	return ps != nil && ps.retryAt.After(now)
}

// next picks the pair of the round to start at now, and why; ok is false
// when none should start yet.
func (m *Machine) next(now time.Time, rng Rand) (p pair, why string, ok bool) {
	s := &m.sched
	if len(s.order) == 0 || (s.started && now.Sub(s.lastStart) < m.cfg.MinGap) {
		return pair{}, "", false
	}
	var eligible []pair
	for _, p := range s.order {
		if !s.backingOff(p.peer, now) {
			eligible = append(eligible, p)
		}
	}
	target := m.cfg.SweepInterval / 2
	// A due pair goes before repairs: the bound is what the schedule
	// promises, and a repair loop resumes right after.
	if due := m.lowest(eligible, func(ps *pairState) (bool, time.Time) { return false, ps.since() }); target > 0 &&
		len(due) > 0 && now.Sub(s.pairs[due[0]].since()) >= target {
		s.lastRoutine = now
		return due[rng.IntN(len(due))], "due", true
	}
	var dirty, failed []pair
	for _, p := range eligible {
		switch ps := s.pairs[p]; {
		case ps.dirty:
			dirty = append(dirty, p)
		case ps.failed:
			failed = append(failed, p)
		}
	}
	if len(dirty) > 0 {
		// The most recently exchanged: the one whose repair just ran.
		return slices.MaxFunc(dirty, func(a, b pair) int { return s.pairs[a].last.Compare(s.pairs[b].last) }), "repeat", true
	}
	if len(failed) > 0 {
		return slices.MinFunc(failed, func(a, b pair) int { return s.pairs[a].failedAt.Compare(s.pairs[b].failedAt) }), "retry", true
	}
	if len(eligible) == 0 || (target > 0 && now.Sub(s.lastRoutine) < target/time.Duration(len(s.order))) {
		return pair{}, "", false
	}
	// Never-exchanged pairs first, then the one exchanged longest ago.
	oldest := m.lowest(eligible, func(ps *pairState) (bool, time.Time) { return !ps.last.IsZero(), ps.since() })
	s.lastRoutine = now
	return oldest[rng.IntN(len(oldest))], "routine", true
}

// lowest lists the pairs of eligible whose key is least (false before
// true, then the earlier time), in eligible's order.
func (m *Machine) lowest(eligible []pair, key func(*pairState) (bool, time.Time)) []pair {
	s := &m.sched
	var out []pair
	var b0 bool
	var t0 time.Time
	for _, p := range eligible {
		b1, t1 := key(s.pairs[p])
		c := cmp.Or(compareBool(b1, b0), t1.Compare(t0))
		switch {
		case len(out) == 0 || c < 0:
			out, b0, t0 = append(out[:0], p), b1, t1
		case c == 0:
			out = append(out, p)
		}
	}
	return out
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// ended records how the round r ended, at end: an exchange (in sync or
// repaired) counts from the round's start; an aborted round backs its peer
// off from end.
func (s *schedule) ended(r *round, o Outcome, end time.Time, cfg Config) {
	p := pair{r.partition, r.peer}
	ps := s.pairs[p]
	if ps == nil {
		return // forgotten meanwhile
	}
	peer := s.peers[r.peer]
	if peer == nil {
		peer = &peerState{}
		s.peers[r.peer] = peer
	}
	if o == Aborted {
		ps.failed, ps.failedAt, ps.dirty = true, r.start, false
		peer.failures++
		if cfg.RetryMin > 0 {
			backoff := cfg.RetryMin << min(peer.failures-1, 30)
			if cfg.RetryMax > 0 && (backoff > cfg.RetryMax || backoff <= 0) {
				backoff = cfg.RetryMax
			}
			peer.retryAt = end.Add(backoff)
		}
		return
	}
	ps.last, ps.failed, ps.dirty = r.start, false, o == Repaired
	*peer = peerState{}
	if s.sweep.active && !r.start.Before(s.sweep.start) {
		delete(s.sweep.left, p)
	}
}
