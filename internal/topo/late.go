package topo

import (
	"log/slog"
	"slices"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// remakeLateChanges handles a merge that dropped changes of this node's
// state: they were late, at or below the settled register of the ring it
// merged, which the cluster settled without them (see ring's late.go).
// Replayed there, their placements would count as received. This node's
// own join (a first join, a rejoin or a zone change) and its own loss are
// made again above the register, with transfers like any other; a
// command this node relayed for another is lost, and the log says so.
func (m *Machine) remakeLateChanges(eff *Effects, merged ring.State) ring.State {
	self := m.cfg.Self.ID
	mine, ok := m.state.Entry(self)
	now, found := merged.Entry(self)
	if ok && !mine.Removed() && !found && merged.Base != nil && mine.JoinVersion <= merged.Base.Version &&
		!slices.ContainsFunc(merged.Base.Nodes, func(nd ring.BaseNode) bool { return nd.ID == self }) {
		// The base stands for this node's join and does not hold it: the
		// cluster removed this node (decommissioned or force-removed
		// while it was down) and compacted its entry away, or, far more
		// rarely, the join never reached it. Either way an operator
		// decides: joining again on its own would undo a removal.
		m.warnRemoved(eff)
		return merged
	}
	eff.log(slog.LevelWarn, "ring changes made on an older ring were dropped: the cluster settled a concurrent change without them",
		"settled_at", merged.HandoffsSettled)
	if !ok || mine.Removed() {
		return merged
	}
	if !found || now.Removed() || now.JoinVersion != mine.JoinVersion || now.Zone != mine.Zone {
		eff.log(slog.LevelWarn, "this node's join was late: joining again", "late_join", mine.JoinVersion)
		return merged.Join(m.cfg.Self)
	}
	if lost := mine.RebuildVersion; lost > max(merged.RebuildVersion(self), merged.Base.VersionOrZero()) {
		eff.log(slog.LevelWarn, "this node's loss was announced late: announcing it again", "late_loss", lost)
		return merged.MarkRebuild(self)
	}
	return merged
}

// logLate logs, at most once per refusedLogInterval, that a peer's ring
// held late changes this node dropped: the peer makes its own again, but
// a command it relayed for another node is lost and must be given again.
func (m *Machine) logLate(eff *Effects, peer string, now time.Time) {
	if now.Sub(m.lateLogged) < refusedLogInterval {
		return
	}
	m.lateLogged = now
	eff.log(slog.LevelWarn, "dropped ring changes a peer made on an older ring, below the settled register: "+
		"a change of its own it makes again; a decommission or force-remove it relayed must be given again",
		"peer", peer, "settled_at", m.state.HandoffsSettled)
}
