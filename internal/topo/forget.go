package topo

import "log/slog"

// forgetSettled drops the handoff records of removed members
// (ring.State.ForgetHandoffs) once they decide nothing, so that the ring
// state stops growing with every member the cluster ever had:
//
//   - this node's plan is settled (every replica received its data), the
//     one condition under which a removed member's records change no
//     routing now or after later changes (see ForgetHandoffs);
//   - this node is a synced owner;
//   - every other owner is alive and announces this node's ring mark:
//     every member has seen the ownership the settled plan belongs to,
//     so no change made on an older ring (which would replay in another
//     order) can still be on its way from a live owner, and none is down
//     to come back with one.
//
// Gossip then spreads the pruned state; the register it sets keeps the
// records out of every later merge, even one with a node that still holds
// them.
func (m *Machine) forgetSettled(eff *Effects) {
	if !m.synced || !m.state.Owner(m.cfg.Self.ID) || !m.plan.Settled() {
		return
	}
	mark := MarkOf(m.state).String()
	for _, o := range m.state.Owners() {
		if o.ID == m.cfg.Self.ID {
			continue
		}
		p, ok := m.peer(o.ID)
		if !ok || !p.Alive || p.Ring != mark {
			return
		}
	}
	next, members := m.state, 0
	for _, ms := range m.state.Members {
		if ms.Removed() {
			if pruned := next.ForgetHandoffs(ms.ID); len(pruned.Handoffs) != len(next.Handoffs) {
				members++
				next = pruned
			}
		}
	}
	if members == 0 {
		return
	}
	dropped := len(m.state.Handoffs) - len(next.Handoffs)
	if m.apply(eff, next, "forget handoffs") {
		eff.Publish = true
		eff.log(slog.LevelInfo, "forgot the handoff records of removed members: the plan is settled and every owner has its ring",
			"members", members, "records", dropped, "records_left", len(next.Handoffs))
	}
}
