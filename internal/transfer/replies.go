package transfer

import (
	"fmt"
	"time"
)

// Pulled hands the machine the batch answering pull id: a receive merges it
// into this node's vnode, a drain into every target's. A reply to an
// aborted transfer is ignored.
func (m *Machine) Pulled(now time.Time, id uint64, b Batch) Effects {
	var eff Effects
	r := m.take(id)
	if r == nil || r.mode == comparing {
		return eff
	}
	if r.mode == sending {
		if b.Answered == 0 {
			// The source predates keyed pulls and answered the page
			// after the cursor instead: stream the partition whole
			// from there.
			r.mode, r.toSend, r.note = stream, nil, "sent whole: the source cannot pull by key"
			r.total = int64(b.Total)
		} else {
			r.sent += b.Answered
			b.Done = r.sent >= len(r.toSend)
		}
	}
	if r.kind == Drain && !r.generationSet {
		// The drop must not lose a write that arrives after this read.
		r.generation, r.generationSet = b.Generation, true
	}
	if r.total == 0 {
		r.total = int64(b.Total)
	}
	r.batchDone = b.Done
	if b.Keys == 0 {
		m.landed(now, r, &eff)
		return eff
	}
	r.batchLast, r.batchKeys, r.batchSize = b.Last, b.Keys, b.Bytes
	targets := r.targets
	if r.kind == Receive {
		targets = []string{m.cfg.Self}
	}
	r.awaiting = len(targets)
	for _, node := range targets {
		eff.Merges = append(eff.Merges, Merge{ID: m.request(now, r), Node: node, Partition: r.p, Deadline: r.deadline})
	}
	return eff
}

// Merged records that merge id was acknowledged. Once every target has the
// batch, the transfer moves on: the next pull, the drop, or done.
func (m *Machine) Merged(now time.Time, id uint64) Effects {
	var eff Effects
	r := m.take(id)
	if r == nil {
		return eff
	}
	r.awaiting--
	if r.awaiting > 0 {
		return eff
	}
	r.keys += int64(r.batchKeys)
	r.bytes += int64(r.batchSize)
	m.moved += int64(r.batchKeys)
	eff.Moved = append(eff.Moved, Moved{Kind: r.kind, Keys: r.batchKeys, Bytes: r.batchSize})
	eff.Active = m.progress()
	if r.mode == stream {
		// Keys sent after a comparison are not in key order from the
		// cursor: a restart compares again instead, and finds them sent.
		r.cursor = r.batchLast
		if r.kind == Receive {
			m.saveCursor(Cursor{Partition: r.p, Since: r.since, After: r.cursor}, &eff)
		}
	}
	m.landed(now, r, &eff)
	return eff
}

// Failed records that request id was answered with an error: the transfer
// stops and starts again on a later tick. An error to a comparison's
// request (a vnode without a tree, a peer that does not know the request)
// only gives up the comparison: the partition is streamed whole.
func (m *Machine) Failed(now time.Time, id uint64, reason string) Effects {
	var eff Effects
	r := m.take(id)
	switch {
	case r == nil:
	case r.mode == comparing:
		m.fullStream(now, r, "the trees could not be compared: "+reason, &eff)
	default:
		m.abort(r, reason, &eff)
	}
	return eff
}

// Dropped records the vnode's answer to the Drop of partition p. An answer
// no drain waits for is ignored.
func (m *Machine) Dropped(now time.Time, p uint32, res DropResult) Effects {
	var eff Effects
	r := m.active[p]
	if r == nil || r.kind != Drain {
		return eff
	}
	switch {
	case res.Err != nil:
		m.abort(r, res.Err.Error(), &eff)
	case !res.Done:
		// A write arrived after the push began: push again next time.
		m.stop(r)
		eff.Ended = append(eff.Ended, m.end(r, Retry))
	default:
		m.stop(r)
		eff.Recheck = true
		eff.Ended = append(eff.Ended, m.end(r, Done))
		eff.event(DroppedData, "", p, fmt.Sprintf("pushed %d keys to %v and dropped the partition%s", r.keys, r.targets, noteOf(r)))
	}
	return eff
}

// take returns the running transfer request id belongs to, or nil for a
// straggler of an aborted one.
func (m *Machine) take(id uint64) *run {
	p, ok := m.inflight[id]
	if !ok {
		return nil
	}
	delete(m.inflight, id)
	return m.active[p]
}

// landed moves on once a batch is merged everywhere it goes.
func (m *Machine) landed(now time.Time, r *run, eff *Effects) {
	if !r.batchDone {
		node := r.peer
		if r.kind == Drain {
			node = m.cfg.Self
		}
		m.pull(now, r, node, eff)
		return
	}
	if r.kind == Drain {
		r.deadline = now.Add(m.cfg.Timeout)
		eff.Drops = append(eff.Drops, Drop{Partition: r.p, Generation: r.generation})
		return
	}
	m.stop(r)
	m.received[r.p] = r.since
	delete(m.cursors, r.p)
	eff.Cursors = append(eff.Cursors, CursorOp{Cursor: Cursor{Partition: r.p, Since: r.since}, Delete: true})
	eff.Done = append(eff.Done, Placement{Partition: r.p, Since: r.since})
	eff.Recheck = true // a slot is free: start the next transfer now
	eff.Ended = append(eff.Ended, m.end(r, Done))
	eff.event(Finished, r.peer, r.p, fmt.Sprintf("received %d keys, %d bytes from %s in %s%s",
		r.keys, r.bytes, r.peer, now.Sub(r.started).Round(time.Millisecond), noteOf(r)))
}

// noteOf is what r's comparison found, as the tail of an event's detail.
func noteOf(r *run) string {
	if r.note == "" {
		return ""
	}
	return "; " + r.note
}

func (m *Machine) saveCursor(c Cursor, eff *Effects) {
	m.cursors[c.Partition] = c
	eff.Cursors = append(eff.Cursors, CursorOp{Cursor: c})
}

// abort stops r before it is done.
func (m *Machine) abort(r *run, why string, eff *Effects) {
	m.stop(r)
	end := m.end(r, Aborted)
	end.Reason = why
	eff.Ended = append(eff.Ended, end)
}

// stop forgets r, however it ended: the answers to its requests are
// stragglers from now on. (A drain can end with a pull still out: a late
// Dropped of an earlier drain of the partition ends it. Its answer must not
// reach the next drain of the partition, which would take it for its own.)
func (m *Machine) stop(r *run) {
	for id, p := range m.inflight {
		if p == r.p {
			delete(m.inflight, id)
		}
	}
	delete(m.active, r.p)
}

func (m *Machine) end(r *run, res Result) End {
	return End{Kind: r.kind, Partition: r.p, Peer: r.peerOrTargets(), Result: res, Keys: r.keys}
}
