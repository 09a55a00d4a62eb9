package hintq

import (
	"fmt"
	"slices"
	"time"
)

// Queue is the hint queue machine. See the package doc for its protocol.
type Queue struct {
	cfg     Config
	targets map[string]*target
	// count and bytes are the totals over all targets, the bounds' measure.
	count int
	bytes int64
	// inflight holds the deliveries awaiting an answer, by request id.
	inflight map[uint64]Delivery
	nextReq  uint64
}

// target is what the queue tracks per target node.
type target struct {
	count   int
	bytes   int64
	nextSeq uint64
	// inflight counts the current batch's unanswered deliveries; sentAt is
	// when the batch went out, to tell when it is lost.
	inflight int
	sentAt   time.Time
}

// New returns an empty queue. A BatchSize below 1 means 1: a round must be
// able to send something.
func New(cfg Config) *Queue {
	cfg.BatchSize = max(cfg.BatchSize, 1)
	return &Queue{cfg: cfg, targets: map[string]*target{}, inflight: map[uint64]Delivery{}, nextReq: cfg.FirstRequest}
}

func (q *Queue) target(id string) *target {
	st, ok := q.targets[id]
	if !ok {
		// Sequence numbers start at 1, as the stored keys always have.
		st = &target{nextSeq: 1}
		q.targets[id] = st
	}
	return st
}

// Load records one hint found in storage when the queue starts, so that the
// counts cover it and a new hint for its target is numbered after it (a
// reused number would overwrite, and lose, the stored hint).
func (q *Queue) Load(ref Ref) {
	st := q.target(ref.Target)
	st.count++
	st.bytes += ref.Size
	st.nextSeq = max(st.nextSeq, ref.Seq+1)
	q.count++
	q.bytes += ref.Size
}

// Loaded ends loading: the gauges of every target found.
func (q *Queue) Loaded() Effects {
	var eff Effects
	for _, id := range q.sorted() {
		eff.Gauges = append(eff.Gauges, q.gauge(id))
	}
	return eff
}

// Offer decides on a hint a coordinator offers: refused without a target or
// a key, refused when it would take the queue past either bound (the
// coordinator then does not count it toward W, so the client learns the write
// has fewer copies), otherwise to be persisted under the target's next
// sequence number.
func (q *Queue) Offer(o Offer) Effects {
	if o.Target == "" || len(o.Key) == 0 {
		return Effects{Reply: &Reply{Reason: "hint without target or key"}}
	}
	if q.count+1 > q.cfg.MaxHints || q.bytes+o.Size > q.cfg.MaxBytes {
		return Effects{Count: ResultRefusedFull, Reply: &Reply{Reason: fmt.Sprintf(
			"hint queue full (%d hints, %d bytes; handoff.max_hints=%d, handoff.max_hint_bytes=%d)",
			q.count, q.bytes, q.cfg.MaxHints, q.cfg.MaxBytes)}}
	}
	st := q.target(o.Target)
	return Effects{Persist: &Ref{Target: o.Target, Seq: st.nextSeq, Size: o.Size}}
}

// Persisted records the outcome of persisting an offered hint: stored, or
// refused with the storage error as the reason.
func (q *Queue) Persisted(ref Ref, err error) Effects {
	if err != nil {
		return Effects{Count: ResultRefusedStorage, Reply: &Reply{Reason: err.Error()}}
	}
	st := q.target(ref.Target)
	st.nextSeq = max(st.nextSeq, ref.Seq+1)
	st.count++
	st.bytes += ref.Size
	q.count++
	q.bytes += ref.Size
	return Effects{Count: ResultStored, Gauges: []Gauge{q.gauge(ref.Target)}, Reply: &Reply{Stored: true}}
}

// Deleted records the outcome of a Removal. A hint whose delete failed is
// still stored, so it still counts (a failed delete of a delivered hint means
// it is delivered again, which is harmless). A delivered hint's batch shrinks
// either way, and when the batch is done with more hints waiting, the next
// round starts now.
func (q *Queue) Deleted(rm Removal, ok bool) Effects {
	var eff Effects
	if ok {
		st := q.target(rm.Target)
		st.count--
		st.bytes -= rm.Size
		q.count--
		q.bytes -= rm.Size
		eff.Gauges = []Gauge{q.gauge(rm.Target)}
	}
	if rm.Why == WhyDelivered {
		eff.Count = ResultDelivered
		st := q.targets[rm.Target]
		if st != nil && st.inflight > 0 {
			st.inflight--
		}
		eff.Wake = st != nil && st.inflight == 0 && st.count > 0
	}
	return eff
}

func (q *Queue) gauge(id string) Gauge {
	return Gauge{Target: id, Pending: q.targets[id].count, TotalBytes: q.bytes}
}

// sorted returns the known targets in order, so rounds are reproducible.
func (q *Queue) sorted() []string {
	ids := make([]string, 0, len(q.targets))
	for id := range q.targets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Targets returns the targets with hints kept, in order: the ones the shell
// must describe (Reach) to Tick.
func (q *Queue) Targets() []string {
	var ids []string
	for _, id := range q.sorted() {
		if q.targets[id].count > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// Pending returns the hints kept for target.
func (q *Queue) Pending(target string) int {
	if st := q.targets[target]; st != nil {
		return st.count
	}
	return 0
}

// Totals returns the hints kept and their bytes, over all targets.
func (q *Queue) Totals() (int, int64) { return q.count, q.bytes }
