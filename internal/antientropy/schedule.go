package antientropy

import (
	"cmp"
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
	// gen is the refresh that last found the pair in the view.
	gen uint64
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
	pairs  map[pair]*pairState
	order  []pair       // the pairs in the view's order, for reproducible picks
	states []*pairState // order's states
	gen    uint64
	peers  map[string]*peerState
	// eligible and ties are next's scratch space.
	eligible, ties []int

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
	for _, ps := range s.states {
		st.MaxAge = max(st.MaxAge, now.Sub(ps.since()))
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
	s.states = s.states[:0]
	s.gen++
	for _, p := range s.order {
		ps := s.pairs[p]
		if ps == nil {
			ps = &pairState{seen: now}
			s.pairs[p] = ps
		}
		ps.gen = s.gen
		s.states = append(s.states, ps)
	}
	if len(s.pairs) == len(s.order) {
		return
	}
	peers := map[string]bool{}
	for _, p := range s.order {
		peers[p.peer] = true
	}
	for p, ps := range s.pairs {
		if ps.gen != s.gen {
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
	// The indexes into s.order of the pairs whose peer is not backed off.
	eligible := s.eligible[:0]
	for i, p := range s.order {
		if !s.backingOff(p.peer, now) {
			eligible = append(eligible, i)
		}
	}
	s.eligible = eligible
	target := m.cfg.SweepInterval / 2
	// A due pair goes before repairs: the bound is what the schedule
	// promises, and a repair loop resumes right after.
	if due := s.lowest(eligible, func(ps *pairState) (bool, time.Time) { return false, ps.since() }); target > 0 &&
		len(due) > 0 && now.Sub(s.states[due[0]].since()) >= target {
		s.lastRoutine = now
		return s.order[due[rng.IntN(len(due))]], "due", true
	}
	// The dirty pair most recently exchanged (the one whose repair just
	// ran), else the failed pair that failed first.
	dirty, failed := -1, -1
	for _, i := range eligible {
		switch ps := s.states[i]; {
		case ps.dirty && (dirty < 0 || ps.last.After(s.states[dirty].last)):
			dirty = i
		case !ps.dirty && ps.failed && (failed < 0 || ps.failedAt.Before(s.states[failed].failedAt)):
			failed = i
		}
	}
	if dirty >= 0 {
		return s.order[dirty], "repeat", true
	}
	if failed >= 0 {
		return s.order[failed], "retry", true
	}
	if len(eligible) == 0 || (target > 0 && now.Sub(s.lastRoutine) < target/time.Duration(len(s.order))) {
		return pair{}, "", false
	}
	// Never-exchanged pairs first, then the one exchanged longest ago.
	oldest := s.lowest(eligible, func(ps *pairState) (bool, time.Time) { return !ps.last.IsZero(), ps.since() })
	s.lastRoutine = now
	return s.order[oldest[rng.IntN(len(oldest))]], "routine", true
}

// lowest lists the indexes of eligible whose pair's key is least (false
// before true, then the earlier time), in order.
func (s *schedule) lowest(eligible []int, key func(*pairState) (bool, time.Time)) []int {
	out := s.ties[:0]
	var b0 bool
	var t0 time.Time
	for _, i := range eligible {
		b1, t1 := key(s.states[i])
		c := cmp.Or(compareBool(b1, b0), t1.Compare(t0))
		switch {
		case len(out) == 0 || c < 0:
			out, b0, t0 = append(out[:0], i), b1, t1
		case c == 0:
			out = append(out, i)
		}
	}
	s.ties = out
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
