package transfer

import (
	"fmt"
	"slices"
)

// check holds the effects of one event against the reference's books and
// brings the books up to date. due, for a tick, lists the partitions whose
// drop delay has passed.
func (r *reference) check(e Effects, due map[uint32]bool) error {
	alive := r.snap.alive("a")
	// Ends first: a tick aborts before it starts, and a transfer that
	// starts again in the same tick ends and starts in one Effects.
	for _, end := range e.Ended {
		if _, ok := r.running[end.Partition]; !ok {
			return fmt.Errorf("end of p=%d, which does not run", end.Partition)
		}
		r.forget(end.Partition)
	}
	for _, pl := range e.Done {
		if _, ok := r.running[pl.Partition]; ok && !r.lastDone[pl.Partition] {
			return fmt.Errorf("done p=%d before its last batch", pl.Partition)
		}
		if due == nil {
			r.forget(pl.Partition)
			continue
		}
		if !slices.ContainsFunc(r.snap.Wanted, func(w Want) bool { return w.Partition == pl.Partition && w.Since == pl.Since && len(w.Sources) == 0 }) {
			return fmt.Errorf("a tick reported p=%d since=%d done, not a wanted placement without sources", pl.Partition, pl.Since)
		}
	}
	for _, ev := range e.Events {
		if ev.Kind != Started {
			continue
		}
		if _, ok := r.running[ev.Partition]; ok {
			return fmt.Errorf("p=%d started twice", ev.Partition)
		}
		if ev.Subject == "" {
			if !due[ev.Partition] {
				return fmt.Errorf("drain of p=%d started before its drop delay passed, or not drainable", ev.Partition)
			}
			r.running[ev.Partition] = Drain
		} else {
			if !alive[ev.Subject] || ev.Subject == "a" {
				return fmt.Errorf("receive of p=%d from %s, which is down or self", ev.Partition, ev.Subject)
			}
			r.running[ev.Partition] = Receive
		}
	}
	for _, p := range e.Pulls {
		if err := r.sent(p.ID, request{p: p.Partition}); err != nil {
			return err
		}
		if r.running[p.Partition] == Drain && p.Node != "a" {
			return fmt.Errorf("a drain of p=%d pulls from %s", p.Partition, p.Node)
		}
	}
	for _, mg := range e.Merges {
		if err := r.sent(mg.ID, request{merge: true, p: mg.Partition}); err != nil {
			return err
		}
		r.unacked[mg.Partition]++
	}
	for _, d := range e.Drops {
		switch {
		case r.running[d.Partition] != Drain:
			return fmt.Errorf("drop of p=%d, which is not draining", d.Partition)
		case r.unacked[d.Partition] != 0 || !r.lastDone[d.Partition]:
			return fmt.Errorf("drop of p=%d with %d merges unacknowledged (last batch done: %t)", d.Partition, r.unacked[d.Partition], r.lastDone[d.Partition])
		case r.firstGen[d.Partition] == nil || *r.firstGen[d.Partition] != d.Generation:
			return fmt.Errorf("drop of p=%d at generation %d, not its first batch's", d.Partition, d.Generation)
		}
		r.dropAsked[d.Partition] = true
	}
	if len(r.running) != len(r.m.active) || len(r.running) > r.cfg.Concurrency {
		return fmt.Errorf("%d running by the books, %d by the machine, concurrency %d", len(r.running), len(r.m.active), r.cfg.Concurrency)
	}
	if e.Retire {
		s := r.snap
		if r.retired || !r.tookPart || !decommissioned(s) || !nothingLeft(s, 0, len(r.running)) || len(r.since) > 0 {
			return fmt.Errorf("retired (before: %t, took part: %t) with %+v", r.retired, r.tookPart, s)
		}
		r.retired = true
	}
	return nil
}

func (r *reference) sent(id uint64, req request) error {
	if id <= r.nextID {
		return fmt.Errorf("request id %d reused (last %d)", id, r.nextID)
	}
	r.nextID = id
	r.out[id] = req
	return nil
}

// forget ends p's transfer: its requests' answers are stragglers now.
func (r *reference) forget(p uint32) {
	for id, req := range r.out {
		if req.p == p {
			delete(r.out, id)
			r.stale = append(r.stale, id)
		}
	}
	delete(r.running, p)
	delete(r.firstGen, p)
	delete(r.unacked, p)
	delete(r.lastDone, p)
	delete(r.dropAsked, p)
}
