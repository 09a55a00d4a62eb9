package transfer

import "time"

// The rules of a tick, one predicate each: the tick reads as their
// composition, and each is tested on its own.

// timedOut: the transfer's last request has gone unanswered past its
// deadline. Delivery between nodes is at most once, so it never will be.
func timedOut(r *run, now time.Time) bool { return now.After(r.deadline) }

// peerDown: a node the transfer talks to is down (a receive's source, any
// of a drain's targets).
func peerDown(r *run, alive map[string]bool) bool {
	if r.kind == Receive {
		return !alive[r.peer]
	}
	for _, id := range r.targets {
		if !alive[id] {
			return true
		}
	}
	return false
}

// full: Concurrency transfers run; nothing more starts.
func (m *Machine) full() bool { return len(m.active) >= m.cfg.Concurrency }

// busy: a transfer of partition p runs.
func (m *Machine) busy(p uint32) bool { _, ok := m.active[p]; return ok }

// justReceived: this node finished receiving w, and the snapshot does not
// show the record yet.
func (m *Machine) justReceived(w Want) bool {
	since, ok := m.received[w.Partition]
	return ok && since == w.Since
}

// drainable: this node holds data of a partition it has no part in, by a
// ring it has synced with a peer (a ring it knew alone could be stale and
// say it has no part where it has one).
func drainable(h Held, s Snapshot) bool { return !h.Needed && s.Synced }

// delayPassed: the partition has been unneeded for the drop delay, long
// enough for every node to route by the new ring.
func delayPassed(since, now time.Time, delay time.Duration) bool { return now.Sub(since) >= delay }

// tookPart: this node has a part in the ring or data to hand over. Once
// that was true in this run, being removed with nothing left means a
// decommission finished; a removed node restarted on an empty store never
// took part, and stays up idle until joined again.
func tookPart(s Snapshot, draining int) bool { return s.Owner || draining > 0 || s.Involved }

// decommissioned: a ring synced with a peer records this node as removed.
func decommissioned(s Snapshot) bool { return !s.Owner && s.Synced && s.Removed }

// nothingLeft: nothing to receive, drain or hold, and no transfer running.
func nothingLeft(s Snapshot, draining, active int) bool {
	return len(s.Wanted) == 0 && draining == 0 && active == 0 && !s.Involved
}

// mostDiffer: more than half of a partition's leaf buckets differ. Listing
// their keys would cost nearly as much as the keys themselves, so the
// partition is streamed whole instead.
func mostDiffer(differ, leaves int) bool { return 2*differ > leaves }
