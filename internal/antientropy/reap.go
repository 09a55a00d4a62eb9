package antientropy

import (
	"fmt"
	"math"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

// reapPhase reaps old tombstones of the partition just found in sync.
type reapPhase struct {
	primaries []string
	holders   []string
	cutoff    int64
	keys      map[string]*candidate
}

// candidate gathers, for one tombstoned key, every primary's copy and every
// node's count of hints for it.
type candidate struct {
	copies  map[string]dvv.Set
	hints   uint32
	answers int
}

// inSync follows a descent that found the replicas in sync: with reaping
// off the round ends; otherwise the machine needs the cluster's current
// view, and the wall clock, to decide whether it may reap.
func (m *Machine) inSync() Effects {
	if m.cfg.Grace <= 0 {
		return m.finish(InSync, nil)
	}
	m.r.wantView = true
	return Effects{NeedView: true}
}

// Reap answers NeedView: view is the cluster now (nil when unknown) and
// wall the clock tombstone ages are measured by (every node's sibling
// timestamps come from the same clock). When every partition-wide reap rule
// holds it asks this node's replica for tombstones older than the grace
// period; otherwise the round ends in sync, with Skipped saying why.
func (m *Machine) Reap(view *View, wall time.Time) Effects {
	if m.r == nil || !m.r.wantView {
		return Effects{}
	}
	m.r.wantView = false
	skip := func(why string) Effects {
		eff := m.finish(InSync, nil)
		eff.Skipped = why
		return eff
	}
	if view == nil {
		return skip("no view of the cluster")
	}
	// A down node may keep a hint that would resurrect what a tombstone
	// deleted.
	holders := view.hintHolders()
	for _, id := range holders {
		if !view.Alive(m.cfg.Self, id) {
			return skip(fmt.Sprintf("node %s is down", id))
		}
	}
	if int(m.r.partition) >= len(view.Partitions) {
		return skip("partition not in the ring")
	}
	// While a handoff of the partition runs, a replica may still lack the
	// tombstone it would be reaped from: wait until every slot has its data.
	part := view.Partitions[m.r.partition]
	if part.Handoff {
		return skip("a handoff of the partition is running")
	}
	phase := &reapPhase{primaries: part.Primaries, holders: holders,
		cutoff: wall.Add(-m.cfg.Grace).UnixMilli(), keys: map[string]*candidate{}}
	m.r.reap = phase
	return Effects{Send: []Request{m.send(pending{kind: Tombstones, node: m.cfg.Self, reap: true},
		Request{OlderThanUnixMs: phase.cutoff, Limit: m.cfg.ReapLimit})}}
}

// Tombstones records this node's list of keys holding only tombstones older
// than the cutoff, and asks every primary for its copy of each and every
// node that could keep a hint how many it keeps for it.
func (m *Machine) Tombstones(id uint64, keys [][]byte) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind != Tombstones {
		return m.finish(Aborted, wrap(ErrBadReply, p, "a tombstone listing answered"))
	}
	phase := m.r.reap
	if phase == nil || len(keys) == 0 {
		return m.finish(InSync, nil)
	}
	var eff Effects
	for _, key := range keys {
		phase.keys[string(key)] = &candidate{copies: map[string]dvv.Set{}}
		for _, node := range phase.primaries {
			eff.Send = append(eff.Send, m.send(pending{kind: Get, key: string(key), node: node, reap: true},
				Request{Key: key}))
		}
		for _, node := range phase.holders {
			eff.Send = append(eff.Send, m.send(pending{kind: HintsFor, key: string(key), node: node, reap: true},
				Request{Key: key}))
		}
	}
	return eff
}

// Hints records how many hints a node keeps for a tombstoned key.
func (m *Machine) Hints(id uint64, count uint32) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind != HintsFor {
		return m.finish(Aborted, wrap(ErrBadReply, p, "a hint count answered"))
	}
	return m.reapAnswer(p, nil, count)
}

// Reaped records a primary's answer to a reap: whether it deleted the key
// (it does not when a write landed since it was read).
func (m *Machine) Reaped(id uint64, reaped bool) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind != Reap {
		return m.finish(Aborted, wrap(ErrBadReply, p, "a reap answered"))
	}
	if reaped {
		m.r.reaped++
	}
	return m.maybeEndReap()
}

// reapAnswer records one primary's copy (obj) or one node's hint count;
// once a key has every answer, it is reaped on every primary if no node
// keeps a hint for it and dvv.Reapable agrees.
func (m *Machine) reapAnswer(p pending, obj *dvv.Set, hints uint32) Effects {
	phase := m.r.reap
	c := phase.keys[p.key]
	if c == nil {
		return Effects{}
	}
	if obj != nil {
		c.copies[p.node] = *obj
	}
	c.hints += hints
	c.answers++
	if c.answers < len(phase.primaries)+len(phase.holders) {
		return Effects{}
	}
	delete(phase.keys, p.key)
	copies := make([]dvv.Set, 0, len(phase.primaries))
	for _, node := range phase.primaries {
		if cp, ok := c.copies[node]; ok {
			copies = append(copies, cp)
		}
	}
	var eff Effects
	if c.hints == 0 && dvv.Reapable(copies, len(phase.primaries), phase.cutoff) {
		eff.Verdicts = []Verdict{{Key: p.key, Reap: true}}
		for _, node := range phase.primaries {
			eff.Send = append(eff.Send, m.send(pending{kind: Reap, key: p.key, node: node, reap: true},
				Request{Key: []byte(p.key), Object: copies[0]}))
		}
	} else {
		eff.Verdicts = []Verdict{{Key: p.key, Why: whyKept(phase, c, copies)}}
	}
	eff.add(m.maybeEndReap())
	return eff
}

// maybeEndReap ends the round, in sync, once nothing is outstanding.
func (m *Machine) maybeEndReap() Effects {
	if m.r != nil && len(m.r.pending) == 0 {
		return m.finish(InSync, nil)
	}
	return Effects{}
}

// whyKept names the first reap rule a kept key fails, for tests and logs;
// the decision itself is dvv.Reapable's and the hint count's.
func whyKept(phase *reapPhase, c *candidate, copies []dvv.Set) string {
	if c.hints > 0 {
		return fmt.Sprintf("%d hints kept for it", c.hints)
	}
	if len(phase.primaries) == 0 || len(copies) != len(phase.primaries) {
		return "a primary's copy is missing"
	}
	for i, cp := range copies {
		switch {
		case cp.IsEmpty():
			return fmt.Sprintf("primary %s holds nothing", phase.primaries[i])
		case !dvv.Reapable([]dvv.Set{cp}, 1, math.MaxInt64):
			// Not even at the end of time: a value without an expiry.
			return fmt.Sprintf("primary %s holds a live value", phase.primaries[i])
		case !cp.Equal(copies[0]):
			return fmt.Sprintf("primary %s holds another tombstone", phase.primaries[i])
		}
	}
	// Every copy is the same set of tombstones and expired or perishable
	// values, so what is left is age: a tombstone, or an expiry, within the
	// grace period.
	return "younger than the grace period"
}
