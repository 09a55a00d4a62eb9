package topo

import (
	"log/slog"

	"github.com/dhtkv/dht/cluster/ring"
)

// forgetSettled drops handoff records once they decide nothing, so that
// the ring state stops growing with every transfer the cluster ever made:
// all of them for the settled register (ring.State.SettleHandoffs) when
// every member knows it, else only removed members' (ForgetHandoffs).
// With the records settled at the ring's latest change, it also compacts
// the history into a base (ring.State.Compact) when every member knows
// bases and that makes the state smaller, dropping the entries of
// members removed by then (but not of one gossip sees alive). All of it
// waits until
//
//   - this node's plan is settled (every replica received its data), the
//     one condition under which the records change no routing now or
//     after later changes (see SettleHandoffs and ForgetHandoffs);
//   - this node is a synced owner;
//   - every other owner is alive and announces this node's ring mark, and
//     so does every other live peer (a node about to join, or one still
//     draining after its decommission): every member has seen the
//     ownership the settled plan belongs to, so no change made on an
//     older ring (which would replay among the settled ones, below the
//     register) can still be on its way from a live node, and no owner is
//     down to come back with one. A change that arrives late all the same
//     (its node stopped before gossiping it) is dropped by every merge
//     and made again above the register (see remakeLateChanges).
//
// Gossip then spreads the pruned state; the registers it sets keep the
// records out of every later merge, even one with a node that still holds
// them.
func (m *Machine) forgetSettled(eff *Effects) {
	if !m.synced || !m.state.Owner(m.cfg.Self.ID) || !m.plan.Settled() {
		return
	}
	if len(m.state.Handoffs) == 0 && !m.compactable(m.state) && m.state.Halving() == 0 {
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
	for _, p := range m.peers {
		if p.ID != m.cfg.Self.ID && p.Alive && p.Ring != mark {
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
	halving := next.Halving() != 0
	settle := (len(next.Handoffs) > 0 || (halving && next.HandoffsSettled != next.Clock())) && m.everyPeerSettles()
	if settle {
		next = next.SettleHandoffs()
	}
	// A halving whose alignment has settled merges (or aligns again)
	// under what a resize asks.
	halved := false
	if halving && m.resizeWait() == nil {
		if h, ok := next.FinishHalving(m.cfg.Shape.Partitions, m.cfg.Shape.N); ok && !m.prunesLivePeer(next, h) {
			next, halved = h, true
		}
	}
	compacted := !halved && m.cfg.StateSize != nil && m.compactable(next) && m.everyPeerCompacts()
	if compacted {
		c := next.CompactIfSmaller(m.cfg.Shape.Partitions, m.cfg.Shape.N, m.cfg.StateSize)
		if c.Base == next.Base {
			m.unpaidBase = next.HandoffsSettled
		}
		compacted = c.Base != next.Base && !m.prunesLivePeer(next, c)
		if compacted {
			next = c
		}
	}
	if members == 0 && !settle && !compacted && !halved {
		return
	}
	dropped, entries := len(m.state.Handoffs)-len(next.Handoffs), len(m.state.Members)-len(next.Members)
	if !m.apply(eff, next, "forget handoffs") {
		return
	}
	eff.Publish = true
	switch {
	case halved && next.Halving() != 0:
		eff.log(slog.LevelInfo, "aligned the sibling partitions again for the halving: a change since the last align broke some pairs",
			"partitions", next.Partitions(m.cfg.Shape.Partitions), "halving_to", next.Halving(), "version", next.Base.Version)
	case halved:
		eff.log(slog.LevelInfo, "halved the ring: every pair of sibling partitions, aligned onto the same replicas, merged in place, nothing moves",
			"to", next.Partitions(m.cfg.Shape.Partitions), "version", next.Base.Version)
	}
	if compacted {
		eff.log(slog.LevelInfo, "compacted the ring's history: the claim at the settled register stands for it, and the members removed by then are dropped",
			"base", next.Base.Version, "entries_dropped", entries, "entries_left", len(next.Members))
	}
	if settle {
		eff.log(slog.LevelInfo, "settled the ring's handoff records: the plan is settled and every owner has its ring",
			"records", dropped, "settled_at", next.HandoffsSettled)
		return
	}
	eff.log(slog.LevelInfo, "forgot the handoff records of removed members: the plan is settled and every owner has its ring",
		"members", members, "records", dropped, "records_left", len(next.Handoffs))
}

// everyPeerSettles reports whether every live peer knows the settled
// register (the owners are all alive by the time it is asked): a node of
// an earlier release would count the placements it covers as not
// received, and let holders that dropped their copies stand in for them.
// A peer that is down and owns nothing has left the ring; one that comes
// back from an earlier release is a downgrade, which docs/operations.md
// rules out once the records are settled.
func (m *Machine) everyPeerSettles() bool {
	for _, p := range m.peers {
		if p.ID != m.cfg.Self.ID && !p.SettlesHandoffs && p.Alive {
			return false
		}
	}
	return true
}

// compactable reports whether s could take a new base: its records are
// settled at its latest change, above any base it has.
func (m *Machine) compactable(s ring.State) bool {
	return s.HandoffsSettled != 0 && s.HandoffsSettled == s.Clock() && s.HandoffsSettled != m.unpaidBase &&
		(s.Base == nil || s.Base.Version < s.HandoffsSettled)
}

// everyPeerCompacts reports whether every live peer knows the ring
// state's base: a node of an earlier release would ignore it and replay a
// table without the members it drops.
func (m *Machine) everyPeerCompacts() bool {
	for _, p := range m.peers {
		if p.ID != m.cfg.Self.ID && !p.CompactsRing && p.Alive {
			return false
		}
	}
	return true
}

// prunesLivePeer reports whether compacted, the base of s, drops the
// entry of a member gossip sees alive: a decommissioned node still up
// (handing over, or about to stop) reads its own removal from its entry,
// so its entry waits for a later base.
func (m *Machine) prunesLivePeer(s, compacted ring.State) bool {
	for _, ms := range s.Members {
		if _, kept := compacted.Entry(ms.ID); kept {
			continue
		}
		if p, ok := m.peer(ms.ID); ok && p.Alive {
			return true
		}
	}
	return false
}
