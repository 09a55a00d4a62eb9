package transfer

import (
	"fmt"
	"slices"
	"time"
)

// Machine is the ownership transfer machine of one node. Create it with New.
type Machine struct {
	cfg      Config
	active   map[uint32]*run
	inflight map[uint64]uint32 // request id → partition
	nextID   uint64
	// unneeded records since when each partition this node holds data of
	// has had no part of it in the plan: the drop delay counts from there.
	unneeded map[uint32]time.Time
	// received holds the placements (partition → since) this node finished
	// receiving whose record the snapshot may not show yet, so they are not
	// pulled again meanwhile.
	received map[uint32]uint64
	// cursors are the receives' saved progress, by partition.
	cursors map[uint32]Cursor
	// wantedSince records when each placement to receive was first seen
	// while the peers had not agreed on the ring: AgreementWait counts
	// from there.
	wantedSince map[Placement]time.Time
	// handingOver is set once this run of the node had a part in the ring
	// or held data: only then does being removed with nothing left mean a
	// decommission just finished. A removed node restarted on an empty
	// store stays up, idle, until dhtctl join.
	handingOver bool
	retired     bool
	moved       int64 // keys merged since the start, for the estimate
	eta         estimator
}

// run is one running transfer of a partition.
type run struct {
	kind Kind
	p    uint32
	// since is the placement a receive fills.
	since uint64
	// peer is the source of a receive; targets the replicas a drain
	// pushes to.
	peer    string
	targets []string
	// mode says how the partition moves: streamed whole, compared first,
	// or sent by key after the comparison.
	mode mode
	cmp  *comparison
	// toSend are the keys a comparison found to send, in key order; sent
	// how many of them were pulled.
	toSend [][]byte
	sent   int
	// note says what the comparison found, for the finishing event.
	note string
	// cursor is the last key merged (receive) or pushed (drain) by a
	// stream.
	cursor []byte
	// The pending batch: its last key, size and whether it ends the
	// partition.
	batchLast []byte
	batchDone bool
	batchKeys int
	batchSize int
	// awaiting counts the merge acknowledgements the batch still needs.
	awaiting int
	// generation is the drained vnode's write count when the drain began.
	generation    uint64
	generationSet bool
	keys, bytes   int64
	total         int64
	started       time.Time
	deadline      time.Time
}

// New returns an idle machine.
func New(cfg Config) *Machine {
	return &Machine{cfg: cfg, active: map[uint32]*run{}, inflight: map[uint64]uint32{},
		unneeded: map[uint32]time.Time{}, received: map[uint32]uint64{}, cursors: map[uint32]Cursor{},
		wantedSince: map[Placement]time.Time{}}
}

// Restore tells the machine where an earlier run's receive of a placement
// stopped. A cursor of another placement than the one wanted is ignored.
func (m *Machine) Restore(c Cursor) { m.cursors[c.Partition] = c }

// Tick looks at the ring as s shows it at now: it stops transfers that can
// no longer finish, starts receives and drains up to the concurrency limit,
// reports progress and decides whether this node retires.
func (m *Machine) Tick(now time.Time, s Snapshot) Effects {
	var eff Effects
	if !s.known() {
		return eff
	}
	alive := s.alive(m.cfg.Self)
	for _, r := range m.running() {
		switch {
		case timedOut(r, now):
			m.abort(r, "timed out waiting for "+r.peerOrTargets(), &eff)
		case peerDown(r, alive):
			// Requests to a node that died are never answered: stop now
			// rather than at the deadline, and start over with live peers.
			m.abort(r, "a peer is down: "+r.peerOrTargets(), &eff)
		case r.kind == Receive && !s.wants(r.p, r.since):
			m.abort(r, "the ring changed", &eff)
		}
	}
	for p, since := range m.received {
		if !s.wants(p, since) {
			delete(m.received, p) // the record has reached the snapshot
		}
	}
	m.forgetWaits(s)
	for _, w := range s.Wanted {
		if m.full() {
			break
		}
		if m.busy(w.Partition) || m.justReceived(w) || m.awaitingAgreement(now, w, s) {
			continue
		}
		m.startReceive(now, w, alive, !s.Agreed && m.cfg.AgreementWait > 0, &eff)
	}
	draining := m.drains(now, s, alive, &eff)

	eff.Report = m.report(now, s, draining)
	if tookPart(s, draining) {
		m.handingOver = true
	}
	if m.handingOver && !m.retired && decommissioned(s) && nothingLeft(s, draining, len(m.active)) {
		m.retired = true
		eff.Retire = true
	}
	eff.Report.Leaving = m.handingOver && decommissioned(s)
	return eff
}

// awaitingAgreement reports whether receiving w must wait for the peers to
// route by this node's ring (Snapshot.Agreed): they do not yet, and w has
// waited less than AgreementWait. A placement nobody else holds data for
// never waits: there is nothing a stale peer could have written elsewhere.
func (m *Machine) awaitingAgreement(now time.Time, w Want, s Snapshot) bool {
	if s.Agreed || m.cfg.AgreementWait <= 0 || len(w.Sources) == 0 {
		return false
	}
	key := Placement{Partition: w.Partition, Since: w.Since}
	since, seen := m.wantedSince[key]
	if !seen {
		m.wantedSince[key] = now
		return true
	}
	return now.Sub(since) < m.cfg.AgreementWait
}

// forgetWaits drops the wait of every placement s no longer asks for.
func (m *Machine) forgetWaits(s Snapshot) {
	for pl := range m.wantedSince {
		if !s.wants(pl.Partition, pl.Since) {
			delete(m.wantedSince, pl)
		}
	}
}

// drains starts the drains that are due and returns how many partitions
// are to be drained.
func (m *Machine) drains(now time.Time, s Snapshot, alive map[string]bool, eff *Effects) int {
	draining := 0
	unneeded := map[uint32]bool{}
	for _, h := range s.held() {
		if !drainable(h, s) {
			continue
		}
		draining++
		unneeded[h.Partition] = true
		since, seen := m.unneeded[h.Partition]
		if !seen {
			m.unneeded[h.Partition] = now
			continue
		}
		if m.busy(h.Partition) || !delayPassed(since, now, m.cfg.DropDelay) || m.full() {
			continue
		}
		m.startDrain(now, h, alive, eff)
	}
	for p := range m.unneeded {
		if !unneeded[p] {
			delete(m.unneeded, p) // needed again, emptied, or not synced
		}
	}
	return draining
}

// startReceive begins receiving w. unagreed says the peers still route by
// another ring (the wait for them ran out): the start event says so.
func (m *Machine) startReceive(now time.Time, w Want, alive map[string]bool, unagreed bool, eff *Effects) {
	if len(w.Sources) == 0 {
		// Nobody else has the partition: this node has every key there is.
		m.received[w.Partition] = w.Since
		eff.Done = append(eff.Done, Placement{Partition: w.Partition, Since: w.Since})
		return
	}
	source := ""
	for _, s := range w.Sources {
		if s != m.cfg.Self && alive[s] {
			source = s
			break
		}
	}
	if source == "" {
		return // every holder is down; try again when one is back
	}
	r := &run{kind: Receive, p: w.Partition, since: w.Since, peer: source, started: now}
	if c, ok := m.cursors[w.Partition]; ok && c.Since == w.Since {
		r.cursor = c.After
	}
	m.active[w.Partition] = r
	note := resumeNote(r.cursor)
	if unagreed {
		note += fmt.Sprintf(", before every live peer routes by this node's ring (waited %v)", m.cfg.AgreementWait)
	}
	eff.event(Started, source, w.Partition, fmt.Sprintf("receiving from %s%s", source, note))
	m.begin(now, r, eff)
}

func resumeNote(cursor []byte) string {
	if len(cursor) == 0 {
		return ""
	}
	return fmt.Sprintf(", resuming after key %q", cursor)
}

func (m *Machine) startDrain(now time.Time, h Held, alive map[string]bool, eff *Effects) {
	var targets []string
	for _, id := range h.Replicas {
		if id != m.cfg.Self && alive[id] && !slices.Contains(targets, id) {
			targets = append(targets, id)
		}
	}
	if len(targets) == 0 {
		return
	}
	r := &run{kind: Drain, p: h.Partition, targets: targets, started: now}
	m.active[h.Partition] = r
	eff.event(Started, "", h.Partition, fmt.Sprintf("draining to %v before dropping", targets))
	m.begin(now, r, eff)
}

// pull asks node's vnode for the batch after r's cursor, or, sending what a
// comparison found, for the next keys of it.
func (m *Machine) pull(now time.Time, r *run, node string, eff *Effects) {
	var keys [][]byte
	if r.mode == sending {
		keys = r.toSend[r.sent:min(r.sent+m.cfg.BatchKeys, len(r.toSend))]
	}
	eff.Pulls = append(eff.Pulls, Pull{ID: m.request(now, r), Node: node, Partition: r.p, After: r.cursor, Keys: keys,
		MaxKeys: m.cfg.BatchKeys, MaxBytes: m.cfg.BatchBytes, Deadline: r.deadline})
}

// request allocates the id of a request of r and restarts r's deadline.
func (m *Machine) request(now time.Time, r *run) uint64 {
	m.nextID++
	m.inflight[m.nextID] = r.p
	r.deadline = now.Add(m.cfg.Timeout)
	return m.nextID
}

// running returns the active transfers in partition order, so that the
// effects of one tick come out in the same order every time.
func (m *Machine) running() []*run {
	out := make([]*run, 0, len(m.active))
	for _, r := range m.active {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *run) int { return cmpUint32(a.p, b.p) })
	return out
}

func (r *run) peerOrTargets() string {
	if r.kind == Receive {
		return r.peer
	}
	return fmt.Sprint(r.targets)
}

func (m *Machine) progress() []Progress {
	out := make([]Progress, 0, len(m.active))
	for _, r := range m.running() {
		out = append(out, Progress{Partition: r.p, Kind: r.kind, Peer: r.peerOrTargets(),
			Keys: r.keys, TotalKeys: r.total, Bytes: r.bytes, StartedAt: r.started})
	}
	return out
}

func (m *Machine) report(now time.Time, s Snapshot, draining int) *Report {
	active := m.progress()
	rebuilding := 0
	for _, w := range s.Wanted {
		if w.Rebuild {
			rebuilding++
		}
	}
	return &Report{Version: s.Version, Settled: s.Settled, Pending: len(s.Wanted), Draining: draining, Rebuilding: rebuilding,
		Active: active, ETASeconds: m.eta.update(now, m.moved, active, len(s.Wanted), draining)}
}
