package node

import (
	"time"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/events"
)

// startMembership starts gossip and, when seeds are configured, joins them
// in the background: the node serves while it looks for its cluster.
func (n *Node) startMembership(fast bool) error {
	cfg := n.cfg
	self := n.self()
	if mark := n.ringMark.Load(); mark != nil {
		self.Ring = *mark
	}
	n.gossipStarted = n.now()
	agent, err := membership.Start(membership.Config{
		NodeID: cfg.Node.ID, BindAddr: cfg.Cluster.GossipListen, AdvertiseAddr: cfg.Cluster.GossipAdvertise,
		Key: cfg.Cluster.GossipKey, DataDir: cfg.Node.DataDir, Self: self, Fast: fast, Logger: n.logger,
	}, n.onMembershipEvent)
	if err != nil {
		return err
	}
	n.agent.Store(agent)
	// The topology actor may have announced a newer ring between the
	// tags above and the Store; announceRing stores the mark before it
	// loads the agent, so one of the two sees the other's.
	if mark := n.ringMark.Load(); mark != nil {
		n.announceRing(*mark)
	}
	seeds := cfg.SeedList()
	if len(seeds) == 0 {
		n.joined.Store(true)
		return nil
	}
	n.joining.Add(1)
	go func() {
		defer n.joining.Done()
		if _, err := agent.Join(n.joinCtx, seeds, 2*time.Second); err == nil {
			n.joined.Store(true)
			n.logger.Info("joined the cluster", "seeds", seeds)
			if !n.hasAlivePeer() {
				// The seeds were only this node: start the ring alone.
				n.system.Root.Send(n.topologyPID(), topology.JoinAlone{})
			}
		}
	}()
	return nil
}

// announceRing tells the peers, in gossip's tags, the mark of the ring this
// node now routes by. The topology actor calls it after it published that
// ring; before membership runs, the mark waits in ringMark for the first
// tags.
func (n *Node) announceRing(mark string) {
	n.ringMark.Store(&mark)
	if agent := n.agent.Load(); agent != nil {
		if err := agent.SetRing(mark); err != nil {
			// Peers' readiness waits for the mark (at most their
			// agreement wait); the next ring change announces again.
			n.logger.Warn("announcing the ring to gossip", "err", err)
		}
	}
}

// onMembershipEvent turns one gossip event into actor messages and events.
// It runs on membership's single event goroutine and touches no actor state:
// members go to the topology actor, changes to the event stream, and a
// cluster command (checked against the command MAC) to the topology actor.
func (n *Node) onMembershipEvent(e membership.Event) {
	if e.Members != nil {
		n.writeIDsEverywhere.Store(membership.KeepWriteIDs(e.Members, n.cfg.Cluster.Name, n.ringOwner))
		n.system.Root.Send(n.topologyPID(), &topology.MembersChanged{Members: e.Members})
	}
	if c := e.Change; c != nil {
		for _, id := range c.IDs {
			n.events.Publish(events.Event{Kind: "member-" + c.Kind, Subject: id})
		}
	}
	if u := e.UserEvent; u != nil {
		cmd, err := commandFromEvent(n.cfg, u.Name, u.Payload)
		switch {
		case err != nil:
			n.logger.Warn("ignoring a cluster command from gossip", "event", u.Name, "err", err)
		case cmd != nil:
			n.system.Root.Send(n.topologyPID(), &topology.RemoteCommand{Command: cmd})
		}
	}
}

// hasAlivePeer reports whether gossip sees another live node of this
// cluster: then the ring must come from the peers, not from this node alone.
func (n *Node) hasAlivePeer() bool {
	agent := n.agent.Load()
	if agent == nil {
		return false
	}
	for _, m := range agent.Members() {
		if m.ID != n.cfg.Node.ID && m.Status == membership.StatusAlive && m.Cluster == n.cfg.Cluster.Name {
			return true
		}
	}
	return false
}

// ringOwner reports whether id owns replicas in the ring this node routes
// by.
func (n *Node) ringOwner(id string) bool {
	snap := n.view.Load()
	return snap != nil && snap.State.Owner(id)
}
