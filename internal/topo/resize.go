package topo

import (
	"errors"
	"fmt"
	"log/slog"
)

// ErrResizeNotYet refuses a resize the cluster cannot take now; the error
// wrapping it names what to wait for. The ring's own rules (a larger power
// of two, records settled) refuse with ring's *ResizeError.
var ErrResizeNotYet = errors.New("topo: the cluster cannot resize yet")

func resizeNotYet(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrResizeNotYet, fmt.Sprintf(format, args...))
}

// Resize applies an operator's resize of the ring to `to` partitions on
// this node (ring.State.Resize) and publishes it; gossip carries it to
// every node. A resize takes a base at a version above every change, and
// counts every placement as received, so it asks what settling and
// compacting ask (forgetSettled), and more, since it cannot wait for a
// better moment on its own:
//   - this node applies a resize (Config.ResizesRing);
//   - this node has merged a live peer's ring since it started;
//   - the plan is settled: every transfer done;
//   - every owner is alive, and every live node announces this node's
//     ring, so that every live node holds every change it holds (a change
//     made concurrently elsewhere is late, and made again above);
//   - every live node announces that it applies a resize (Peer.ResizesRing),
//     and knows the settled register and bases, which an earlier release
//     would misread;
//   - no member the resize's base drops (one removed) is still alive: it
//     reads its removal from its entry.
//
// The records are settled first when they are not yet. A refusal wraps
// ErrUnsynced, ErrResizeNotYet or ring's rules.
func (m *Machine) Resize(to int) (Effects, error) {
	var eff Effects
	if !m.cfg.ResizesRing {
		return eff, resizeNotYet("this node's release cannot apply a resize")
	}
	if !m.synced && m.alivePeer() {
		return eff, ErrUnsynced
	}
	state, q, n := m.state, m.cfg.Shape.Partitions, m.cfg.Shape.N
	if to == state.Partitions(q) {
		return eff, nil
	}
	if m.plan.Settled() {
		if why := m.resizeWait(); why != nil {
			return eff, why
		}
		state = state.SettleHandoffs()
	}
	next, err := state.Resize(q, n, to)
	if err != nil {
		return eff, err
	}
	if m.prunesLivePeer(state, next) {
		return eff, resizeNotYet("a removed member is still up; resize once it has handed over and left")
	}
	if !m.apply(&eff, next, "resize") {
		return eff, nil
	}
	eff.Publish = true
	switch {
	case to > state.Partitions(q):
		eff.log(slog.LevelInfo, "resized the ring: every partition split into its halves in place, nothing moves",
			"from", state.Partitions(q), "to", to, "version", next.Base.Version, "rebalance", next.Base.Rebalance != 0)
	case next.Halving() != 0:
		eff.log(slog.LevelInfo, "halving the ring: each pair of sibling partitions aligns onto the same replicas first, by transfers; they merge once those have settled",
			"from", state.Partitions(q), "to", to, "version", next.Base.Version)
	default:
		eff.log(slog.LevelInfo, "halved the ring: every pair of sibling partitions held the same replicas and merged in place, nothing moves",
			"from", state.Partitions(q), "to", to, "version", next.Base.Version)
	}
	return eff, nil
}

// resizeWait returns why the cluster cannot resize now, nil when it can
// (see Resize).
func (m *Machine) resizeWait() error {
	mark := MarkOf(m.state).String()
	for _, o := range m.state.Owners() {
		if o.ID == m.cfg.Self.ID {
			continue
		}
		if p, ok := m.peer(o.ID); !ok || !p.Alive {
			return resizeNotYet("owner %s is down; resize once every owner is up", o.ID)
		}
	}
	for _, p := range m.peers {
		switch {
		case p.ID == m.cfg.Self.ID || !p.Alive:
		case p.Ring != mark:
			return resizeNotYet("%s does not route by this node's ring yet; retry in a few seconds", p.ID)
		case !p.ResizesRing || !p.SettlesHandoffs || !p.CompactsRing:
			return resizeNotYet("%s runs a release that cannot apply a resize; upgrade every node first", p.ID)
		}
	}
	return nil
}
