package topology

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/messages"
)

// carry carries out the machine's effects, in the order topo.Effects
// gives: persist, log, ring changes, publish, announce, other events,
// broadcast, answer, gossip.
func (a *topologyActor) carry(ctx actor.Context, eff topo.Effects) {
	if eff.Persist {
		if err := a.persist(); err != nil {
			a.cfg.Logger.Error("persist ring state", "err", err)
		}
	}
	for _, l := range eff.Logs {
		a.cfg.Logger.Log(context.Background(), l.Level, l.Msg, l.Args...)
	}
	a.report(eff.Events, true)
	if eff.Publish {
		a.publish()
	}
	if eff.Announce != nil && a.cfg.Announce != nil {
		a.cfg.Announce(eff.Announce.String())
	}
	if eff.LossChecked && a.cfg.NewEpoch != nil {
		// After the publish: the node's read gate opens when NewEpoch
		// clears and then asks the snapshot, which must already show the
		// loss.
		a.cfg.NewEpoch.Store(false)
	}
	a.report(eff.Events, false)
	if b := eff.Broadcast; b != nil && a.cfg.Broadcast != nil {
		if err := a.cfg.Broadcast(a.commandMessage(b)); err != nil {
			// Gossip still carries the change; the broadcast only speeds it.
			a.cfg.Logger.Warn("broadcasting a cluster command", "action", b.Action, "node", b.Entry.ID, "err", err)
		}
	}
	if eff.Respond && ctx.Sender() != nil {
		// A request, not a plain answer: the sender answers back with its
		// own state when it has what this node lacks (a digest exchange
		// has only this step to carry it). Each answer is sent only when
		// the other side's state differs from the merged one, so the
		// exchange ends once both hold the union.
		env := a.envelope()
		a.sent(gossipKindState, env)
		ctx.Request(ctx.Sender(), env)
	}
	if eff.GossipTo != "" {
		env := a.digestEnvelope()
		a.sent(gossipKindDigest, env)
		ctx.Request(a.cfg.PeerPID(eff.GossipTo), env)
	}
}

// report emits the events that are ring changes (or, with ringChanges
// false, the others) to the node's event stream.
func (a *topologyActor) report(events []topo.Event, ringChanges bool) {
	if a.cfg.OnEvent == nil {
		return
	}
	for _, e := range events {
		if (e.Kind == topo.KindRingChange) == ringChanges {
			a.cfg.OnEvent(e.Kind, e.Subject, e.Detail)
		}
	}
}

// publish stores a new snapshot in the View for request coordinators.
func (a *topologyActor) publish() {
	members := make(map[string]membership.Member, len(a.members))
	for id, m := range a.members {
		members[id] = m
	}
	plan := a.m.Plan()
	// The node's vnodes become those of a new partition count before its
	// coordinators route by it: none of them then sends to a vnode that
	// does not exist yet, which no answer would come back from.
	if q := len(plan.Slots); q > 0 && q != a.published {
		a.published = q
		if a.cfg.OnPartitions != nil {
			a.cfg.OnPartitions(q, a.m.State().Base.LayoutSizes(a.cfg.Partitions))
		}
	}
	a.cfg.View.store(&Snapshot{Self: a.cfg.Self.ID, State: a.m.State(), Table: plan.Table, Plan: plan, Members: members, Synced: a.m.Synced()})
}

func (a *topologyActor) envelope() *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_RingGossip{RingGossip: &messages.RingGossip{State: stateToProto(a.cfg, a.m.State())}}}
}

// digestEnvelope is a node's periodic gossip: the ring's shape and the
// digest of its state (see messages.RingGossip).
func (a *topologyActor) digestEnvelope() *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_RingGossip{RingGossip: &messages.RingGossip{
		State:  &messages.RingState{Cluster: a.cfg.Cluster, Partitions: uint32(a.cfg.Partitions), N: uint32(a.cfg.N)},
		Digest: a.m.State().Digest(), DigestOnly: true, SenderUnsynced: !a.m.Synced(),
	}}}
}

// Gossip kinds, the label of the gossip metrics.
const (
	gossipKindDigest = "digest"
	gossipKindState  = "state"
)

// sent counts a gossip message this node sends and its encoded size.
func (a *topologyActor) sent(kind string, env *messages.Envelope) {
	if a.cfg.Metrics == nil {
		return
	}
	a.cfg.Metrics.Messages.WithLabelValues(kind).Inc()
	a.cfg.Metrics.Bytes.WithLabelValues(kind).Add(float64(proto.Size(env)))
}

func (a *topologyActor) commandMessage(b *topo.Broadcast) *messages.ClusterCommand {
	return &messages.ClusterCommand{
		Cluster: a.cfg.Cluster, Action: b.Action, Node: b.Entry.ID,
		Zone: b.Entry.Zone, JoinVersion: b.Entry.JoinVersion, RemoveVersion: b.Entry.RemoveVersion,
	}
}
