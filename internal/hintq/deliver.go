package hintq

import "time"

// Round is one target's delivery round: the shell reads the target's stored
// hints in order and hands each to Consider until it says stop, then ends
// the round with Scanned.
type Round struct {
	// Target is the node whose stored hints the shell reads.
	Target string
	// Redirect is set when the target was removed from the ring: the shell
	// must name, for each hint's partition, a live serving replica to take
	// it ("" while there is none).
	Redirect bool
	now      time.Time
	sent     int
}

// Tick starts a delivery round for every target with hints kept that can
// take them now (alive, or removed so that its hints go elsewhere) and has no
// batch in flight. A batch unanswered for LostAfter intervals is lost: its
// deliveries are forgotten, so a late answer is ignored, and it is offered
// again. reach describes each of Targets(); a target missing from it is
// neither alive nor removed. now is the retry clock's reading, which must
// not jump (a data clock skewed back would make a batch look sent in the
// future and never lost).
func (q *Queue) Tick(now time.Time, reach map[string]Reach) []*Round {
	var rounds []*Round
	for _, id := range q.sorted() {
		st, r := q.targets[id], reach[id]
		if st.count == 0 || (!r.Removed && !r.Alive) {
			continue
		}
		if st.inflight > 0 {
			if now.Sub(st.sentAt) < LostAfter*q.cfg.Interval {
				continue
			}
			q.forget(id)
		}
		rounds = append(rounds, &Round{Target: id, Redirect: r.Removed, now: now})
	}
	return rounds
}

// forget drops the in-flight records of target, so its hints are offered
// again.
func (q *Queue) forget(id string) {
	for req, d := range q.inflight {
		if d.Target == id {
			delete(q.inflight, req)
		}
	}
	q.targets[id].inflight = 0
}

// Consider decides on one stored hint of r's target during its round: drop
// it when unreadable, skip it when its target was removed and redirect (the
// serving replica for its partition) is "", otherwise send it. more is false
// once the round has sent a batch.
func (q *Queue) Consider(r *Round, h Hint, redirect string) (eff Effects, more bool) {
	if !h.Readable {
		return Effects{Delete: &Removal{Ref: h.Ref, Why: WhyUnreadable}}, true
	}
	node := r.Target
	if r.Redirect {
		if redirect == "" {
			return Effects{}, true // no serving replica is alive yet
		}
		node = redirect
	}
	q.nextReq++
	d := Delivery{Req: q.nextReq, Ref: h.Ref, Partition: h.Partition, Node: node}
	q.inflight[d.Req] = d
	r.sent++
	return Effects{Send: &d}, r.sent < q.cfg.BatchSize
}

// Scanned ends r's round. ok is false when reading the target's hints
// failed: no batch is recorded then, so the next tick tries again (answers
// to what was sent still count).
func (q *Queue) Scanned(r *Round, ok bool) {
	if !ok {
		return
	}
	st := q.target(r.Target)
	st.inflight, st.sentAt = r.sent, r.now
}

// Acked records a delivery its node acknowledged: the hint is to be deleted
// (then Deleted counts it delivered). An answer to a request the queue no
// longer waits for (its batch was counted lost) changes nothing.
func (q *Queue) Acked(req uint64) Effects {
	d, ok := q.inflight[req]
	if !ok {
		return Effects{}
	}
	delete(q.inflight, req)
	return Effects{Delete: &Removal{Ref: d.Ref, Why: WhyDelivered}}
}

// Refused records a delivery its node refused: the hint stays and is offered
// again on a later round.
func (q *Queue) Refused(req uint64) Effects {
	d, ok := q.inflight[req]
	if !ok {
		return Effects{}
	}
	delete(q.inflight, req)
	if st := q.targets[d.Target]; st != nil && st.inflight > 0 {
		st.inflight--
	}
	return Effects{Retry: &d}
}

// InFlight returns how many deliveries await an answer.
func (q *Queue) InFlight() int { return len(q.inflight) }
