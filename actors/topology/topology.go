package topology

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/actors/ticker"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

// metaRingState is where the ring state is persisted, so a restarted node
// keeps the ownership it knew even before it hears from a peer.
var metaRingState = persistence.MetaKey("ring_state")

// MembersSource lists the members gossip knows (membership.Agent).
type MembersSource interface {
	Members() []membership.Member
}

// Config configures the topology actor.
type Config struct {
	Self       membership.Member
	Cluster    string
	Partitions int
	N          int
	Engine     persistence.Engine
	View       *View
	// Members is read on every tick; nil until membership starts.
	Members        func() MembersSource
	GossipInterval time.Duration
	// PeerPID returns the PID of the topology actor on the node at the
	// given remote address.
	PeerPID func(remoteAddr string) *actor.PID
	Logger  *slog.Logger
}

// MembersChanged tells the actor that gossip saw a membership change.
type MembersChanged struct{ Members []membership.Member }

type tick struct{}

// Props returns the props of the topology actor.
func Props(cfg Config) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &topologyActor{cfg: cfg, members: map[string]membership.Member{}}
	})
}

type topologyActor struct {
	cfg     Config
	state   ring.State
	table   ring.Table
	members map[string]membership.Member
	ticker  *ticker.Ticker
	synced  bool
}

func (a *topologyActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *actor.Stopping, *actor.Restarting:
		// A restart builds a new actor with its own ticker.
		a.ticker.Stop()
	case *MembersChanged:
		a.setMembers(msg.Members)
		a.publish()
	case tick:
		if src := a.cfg.Members(); src != nil {
			a.setMembers(src.Members())
			a.publish()
		}
		a.gossip(ctx)
	case *messages.Envelope:
		if g := msg.GetRingGossip(); g != nil {
			a.receiveGossip(ctx, g)
		}
	}
}

func (a *topologyActor) start(ctx actor.Context) {
	if err := a.load(); err != nil {
		a.cfg.Logger.Error("ring state unreadable; starting from this node alone", "err", err)
	}
	// Joining is this node's own announcement; peers learn it by gossip.
	a.apply(a.state.Join(ring.Member{ID: a.cfg.Self.ID, Zone: a.cfg.Self.Zone}), "join")
	a.publish()
	a.ticker = ticker.Start(ctx, a.cfg.GossipInterval, tick{})
}

// setMembers records gossip's view, ignoring nodes of another cluster or
// ring shape: they must never be routed to.
func (a *topologyActor) setMembers(members []membership.Member) {
	next := make(map[string]membership.Member, len(members))
	for _, m := range members {
		if m.Cluster != a.cfg.Cluster || m.Partitions != a.cfg.Partitions || m.N != a.cfg.N {
			if m.Status == membership.StatusAlive {
				a.cfg.Logger.Warn("ignoring a peer with another cluster name or ring shape",
					"peer", m.ID, "cluster", m.Cluster, "partitions", m.Partitions, "n", m.N)
			}
			continue
		}
		next[m.ID] = m
	}
	a.members = next
}

// apply adopts next as the ring state; when it changed, it persists it and
// recomputes the table.
func (a *topologyActor) apply(next ring.State, why string) bool {
	if a.state.Digest() == next.Digest() && len(a.table.Replicas) > 0 {
		return false
	}
	a.state = next
	a.table = ring.Claim(a.cfg.Partitions, a.cfg.N, a.state.History())
	if err := a.persist(); err != nil {
		a.cfg.Logger.Error("persist ring state", "err", err)
	}
	owners := a.state.Owners()
	a.cfg.Logger.Info("ring changed", "why", why, "owners", len(owners), "version", a.state.Clock())
	return true
}

func (a *topologyActor) publish() {
	members := make(map[string]membership.Member, len(a.members))
	for id, m := range a.members {
		members[id] = m
	}
	a.cfg.View.store(&Snapshot{Self: a.cfg.Self.ID, State: a.state, Table: a.table, Members: members, Synced: a.synced})
}

// gossip sends this node's state to one random live peer.
func (a *topologyActor) gossip(ctx actor.Context) {
	var peers []membership.Member
	for id, m := range a.members {
		if id != a.cfg.Self.ID && m.Status == membership.StatusAlive && m.RemoteAddr != "" {
			peers = append(peers, m)
		}
	}
	if len(peers) == 0 {
		return
	}
	peer := peers[rand.IntN(len(peers))]
	ctx.Request(a.cfg.PeerPID(peer.RemoteAddr), a.envelope())
}

func (a *topologyActor) receiveGossip(ctx actor.Context, g *messages.RingGossip) {
	in := g.GetState()
	if in.GetCluster() != a.cfg.Cluster || int(in.GetPartitions()) != a.cfg.Partitions || int(in.GetN()) != a.cfg.N {
		a.cfg.Logger.Warn("ignoring ring gossip from another cluster or ring shape",
			"cluster", in.GetCluster(), "partitions", in.GetPartitions(), "n", in.GetN())
		return
	}
	theirs, err := stateFromProto(in)
	if err != nil {
		a.cfg.Logger.Warn("ignoring malformed ring gossip", "err", err)
		return
	}
	merged := ring.Merge(a.state, theirs)
	changed := a.apply(merged, "gossip")
	if changed || !a.synced {
		a.synced = true
		a.publish()
	}
	// Answer only when the sender lacks something, so two converged nodes
	// exchange one message per interval, not two.
	if merged.Digest() != theirs.Digest() && ctx.Sender() != nil {
		ctx.Respond(a.envelope())
	}
}

func (a *topologyActor) envelope() *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_RingGossip{RingGossip: &messages.RingGossip{State: stateToProto(a.cfg, a.state)}}}
}

func (a *topologyActor) load() error {
	raw, err := a.cfg.Engine.Get(metaRingState)
	if errors.Is(err, persistence.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var rs messages.RingState
	if err := proto.Unmarshal(raw, &rs); err != nil {
		return fmt.Errorf("topology: decode ring state: %w", err)
	}
	if int(rs.GetPartitions()) != a.cfg.Partitions || int(rs.GetN()) != a.cfg.N {
		return fmt.Errorf("topology: stored ring has %d partitions and n=%d, config says %d and %d",
			rs.GetPartitions(), rs.GetN(), a.cfg.Partitions, a.cfg.N)
	}
	s, err := stateFromProto(&rs)
	if err != nil {
		return err
	}
	a.state = s
	return nil
}

func (a *topologyActor) persist() error {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(stateToProto(a.cfg, a.state))
	if err != nil {
		return err
	}
	return a.cfg.Engine.Put(metaRingState, raw)
}

func stateToProto(cfg Config, s ring.State) *messages.RingState {
	out := &messages.RingState{Cluster: cfg.Cluster, Partitions: uint32(cfg.Partitions), N: uint32(cfg.N)}
	for _, m := range s.Members {
		out.Members = append(out.Members, &messages.RingMember{
			Id: m.ID, Zone: m.Zone, JoinVersion: m.JoinVersion, RemoveVersion: m.RemoveVersion,
		})
	}
	return out
}

func stateFromProto(rs *messages.RingState) (ring.State, error) {
	var s ring.State
	for _, m := range rs.GetMembers() {
		s.Members = append(s.Members, ring.MemberState{
			ID: m.GetId(), Zone: m.GetZone(), JoinVersion: m.GetJoinVersion(), RemoveVersion: m.GetRemoveVersion(),
		})
	}
	if err := s.Validate(); err != nil {
		return ring.State{}, fmt.Errorf("topology: ring state: %w", err)
	}
	return s, nil
}
