package topology

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/remoteguard"
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
	// Seeded is set when the node has seeds to join through: a node that
	// never owned replicas then waits for the cluster's ring before it joins
	// (JoinAlone ends the wait when no peer answers). Without seeds it
	// starts a cluster of its own at once.
	Seeded bool
	// Broadcast, when set, carries an operator's command to every node at
	// once (a serf user event); ring gossip carries it anyway.
	Broadcast func(*messages.ClusterCommand) error
	// OnEvent, when set, hears of ring changes and operators' commands for
	// the node's event stream: kind is "ring-change" or "cluster-event".
	OnEvent func(kind, subject, detail string)
	Logger  *slog.Logger
}

// MembersChanged tells the actor that gossip saw a membership change.
type MembersChanged struct{ Members []membership.Member }

// JoinAlone tells a seeded node that waits to join that no peer answered:
// it starts the ring on its own.
type JoinAlone struct{}

// HandoffDone tells the actor that this node received partition p for its
// placement at ring version Since; the record reaches the other nodes by
// gossip, and routing stops standing in for this node.
type HandoffDone struct {
	Partition uint32
	Since     uint64
}

// Command is an operator's ownership change, applied on this node and
// broadcast. The actor answers the sender with a *CommandResult.
type Command struct {
	// Action is ActionJoin (Node must be this node), ActionDecommission or
	// ActionForceRemove.
	Action string
	Node   string
}

// Command actions.
const (
	ActionJoin         = "join"
	ActionDecommission = "decommission"
	ActionForceRemove  = "force-remove"
)

// CommandResult answers a Command; Err wraps ErrUnknownMember or
// ErrRefused when the command is wrong.
type CommandResult struct{ Err error }

// Errors of CommandResult.
var (
	ErrUnknownMember = errors.New("not a member of the ring")
	ErrRefused       = errors.New("refused")
)

// RemoteCommand is a command another node broadcast (a serf user event's
// payload, decoded by the node).
type RemoteCommand struct{ Command *messages.ClusterCommand }

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
	plan    ring.Plan
	members map[string]membership.Member
	ticker  *ticker.Ticker
	synced  bool
	// awaitingJoin is set while a node that never owned replicas waits for
	// the cluster's ring before it joins: joining on an empty state would
	// stamp its join with an early version, and replay would then move
	// replicas between the existing members too.
	awaitingJoin bool
	computed     bool
	// refusedLogged is when a refused ring change was last logged.
	refusedLogged time.Time
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
			// The remote guard stamps the node it authenticated; gossip
			// without the stamp did not come through it.
			a.receiveGossip(ctx, g, ctx.MessageHeader().Get(remoteguard.PeerHeader))
		}
	case JoinAlone:
		if a.awaitingJoin {
			a.cfg.Logger.Info("no peer answered; starting the ring alone")
			a.joinSelf("join")
			a.publish()
		}
	case *HandoffDone:
		if a.apply(a.state.CompleteHandoff(a.cfg.Self.ID, msg.Partition, msg.Since), "handoff") {
			a.publish()
		}
	case *Command:
		err := a.command(msg)
		if ctx.Sender() != nil {
			ctx.Respond(&CommandResult{Err: err})
		}
	case *RemoteCommand:
		a.remoteCommand(msg.Command)
	}
}

func (a *topologyActor) start(ctx actor.Context) {
	if err := a.load(); err != nil {
		a.cfg.Logger.Error("ring state unreadable; starting from this node alone", "err", err)
	}
	switch {
	case a.state.Owner(a.cfg.Self.ID) || !a.cfg.Seeded:
		// A restart keeps its ownership (the join is a no-op unless the zone
		// changed); a node without seeds starts a cluster.
		a.joinSelf("join")
	case a.isRemoved(a.state):
		a.warnRemoved()
		a.apply(a.state, "load")
	default:
		a.awaitingJoin = true
		a.apply(a.state, "load")
	}
	a.publish()
	a.ticker = ticker.Start(ctx, a.cfg.GossipInterval, tick{})
}

// joinSelf joins this node to the ring: its own announcement, which peers
// learn by gossip.
func (a *topologyActor) joinSelf(why string) {
	a.awaitingJoin = false
	a.apply(a.state.Join(ring.Member{ID: a.cfg.Self.ID, Zone: a.cfg.Self.Zone}), why)
}

func (a *topologyActor) isRemoved(s ring.State) bool {
	for _, m := range s.Members {
		if m.ID == a.cfg.Self.ID {
			return m.Removed()
		}
	}
	return false
}

func (a *topologyActor) warnRemoved() {
	a.cfg.Logger.Warn("this node was removed from the ring (decommissioned or force-removed); it owns nothing until `dhtctl join` asks it to rejoin")
}

// command applies an operator's command and broadcasts the changed entry.
func (a *topologyActor) command(c *Command) error {
	var next ring.State
	switch c.Action {
	case ActionJoin:
		if c.Node != a.cfg.Self.ID {
			return fmt.Errorf("%w: a node can only join itself; ask %s", ErrRefused, c.Node)
		}
		a.awaitingJoin = false
		next = a.state.Join(ring.Member{ID: a.cfg.Self.ID, Zone: a.cfg.Self.Zone})
	case ActionDecommission, ActionForceRemove:
		if !a.state.Owner(c.Node) {
			if a.isMember(c.Node) {
				return fmt.Errorf("%w: %s was already removed", ErrRefused, c.Node)
			}
			return fmt.Errorf("%w: %s", ErrUnknownMember, c.Node)
		}
		if len(a.state.Owners()) == 1 {
			return fmt.Errorf("%w: %s is the last owner; removing it would leave the data with nobody", ErrRefused, c.Node)
		}
		if c.Action == ActionForceRemove {
			if c.Node == a.cfg.Self.ID {
				return fmt.Errorf("%w: a node cannot force-remove itself; decommission it, or force-remove it from another node once it is down", ErrRefused)
			}
			if m, ok := a.members[c.Node]; ok && m.Status == membership.StatusAlive {
				return fmt.Errorf("%w: %s is alive; decommission it instead, so it hands its data over", ErrRefused, c.Node)
			}
		}
		next = a.state.Remove(c.Node)
	default:
		return fmt.Errorf("%w: unknown action %q", ErrRefused, c.Action)
	}
	if !a.apply(next, c.Action) {
		return nil
	}
	a.publish()
	a.event("cluster-event", c.Node, c.Action+" (from this node)")
	if a.cfg.Broadcast != nil {
		if err := a.cfg.Broadcast(a.commandMessage(c.Action, c.Node)); err != nil {
			// Gossip still carries the change; the broadcast only speeds it.
			a.cfg.Logger.Warn("broadcasting a cluster command", "action", c.Action, "node", c.Node, "err", err)
		}
	}
	return nil
}

func (a *topologyActor) isMember(id string) bool {
	for _, m := range a.state.Members {
		if m.ID == id {
			return true
		}
	}
	return false
}

func (a *topologyActor) commandMessage(action, node string) *messages.ClusterCommand {
	out := &messages.ClusterCommand{Cluster: a.cfg.Cluster, Action: action, Node: node}
	for _, m := range a.state.Members {
		if m.ID == node {
			out.Zone, out.JoinVersion, out.RemoveVersion = m.Zone, m.JoinVersion, m.RemoveVersion
		}
	}
	return out
}

// remoteCommand merges the entry another node's command produced: every
// node merges the same entry, so they agree at once.
func (a *topologyActor) remoteCommand(c *messages.ClusterCommand) {
	if c.GetCluster() != a.cfg.Cluster {
		return
	}
	entry := ring.State{Members: []ring.MemberState{{
		ID: c.GetNode(), Zone: c.GetZone(), JoinVersion: c.GetJoinVersion(), RemoveVersion: c.GetRemoveVersion(),
	}}}
	if err := entry.Validate(); err != nil {
		a.cfg.Logger.Warn("ignoring a malformed cluster command", "action", c.GetAction(), "err", err)
		return
	}
	if a.apply(ring.Merge(a.state, entry), c.GetAction()) {
		a.publish()
		a.event("cluster-event", c.GetNode(), c.GetAction())
	}
	if c.GetNode() == a.cfg.Self.ID && a.isRemoved(a.state) {
		a.cfg.Logger.Info("this node was removed from the ring; it keeps serving while it hands its partitions over, then leaves", "action", c.GetAction())
	}
}

func (a *topologyActor) event(kind, subject, detail string) {
	if a.cfg.OnEvent != nil {
		a.cfg.OnEvent(kind, subject, detail)
	}
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
	if a.state.Digest() == next.Digest() && a.computed {
		return false
	}
	ownershipChanged := !a.computed || a.state.Version() != next.Version()
	a.state = next
	a.plan = ring.NewPlan(a.cfg.Partitions, a.cfg.N, a.state)
	a.computed = true
	if err := a.persist(); err != nil {
		a.cfg.Logger.Error("persist ring state", "err", err)
	}
	if ownershipChanged {
		owners := a.state.Owners()
		a.cfg.Logger.Info("ring changed", "why", why, "owners", len(owners), "version", a.state.Clock())
		a.event("ring-change", "", fmt.Sprintf("%s: %d owners, version %d", why, len(owners), a.state.Clock()))
	}
	return true
}

func (a *topologyActor) publish() {
	members := make(map[string]membership.Member, len(a.members))
	for id, m := range a.members {
		members[id] = m
	}
	a.cfg.View.store(&Snapshot{Self: a.cfg.Self.ID, State: a.state, Table: a.plan.Table, Plan: a.plan, Members: members, Synced: a.synced})
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

func (a *topologyActor) receiveGossip(ctx actor.Context, g *messages.RingGossip, peer string) {
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
	admitted := theirs
	if a.state.Owner(a.cfg.Self.ID) {
		// An owner merges only what the peer may change (ring.State.Admit);
		// a node not yet an owner has no ring to protect and takes the
		// cluster's as it comes.
		admitted = a.state.Admit(peer, theirs)
		a.logRefused(peer, theirs, admitted)
	}
	merged := ring.Merge(a.state, admitted)
	changed := a.apply(merged, "gossip")
	if a.awaitingJoin {
		// The cluster's ring is here: join on top of it, unless it says
		// this node was removed.
		if a.isRemoved(merged) {
			a.awaitingJoin = false
			a.warnRemoved()
		} else {
			a.joinSelf("join")
		}
		changed = true
	}
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

// logRefused logs, at most once per refusedLogInterval, ring changes a
// peer sent that it may not make. A joining node's first gossip is one
// (it relays the cluster's ring before it is a member), so this is not an
// attack by itself.
func (a *topologyActor) logRefused(peer string, theirs, admitted ring.State) {
	const refusedLogInterval = 30 * time.Second
	if ring.Merge(a.state, theirs).Digest() == ring.Merge(a.state, admitted).Digest() {
		return
	}
	if now := time.Now(); now.Sub(a.refusedLogged) >= refusedLogInterval {
		a.refusedLogged = now
		a.cfg.Logger.Info("ignoring ring changes gossiped by a node that is not a member: it may announce only itself",
			"peer", peer, "peer_addr_known", peer != "")
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
		rm := &messages.RingMember{Id: m.ID, Zone: m.Zone, JoinVersion: m.JoinVersion, RemoveVersion: m.RemoveVersion}
		for _, sp := range m.Past {
			rm.Past = append(rm.Past, &messages.RingSpan{Zone: sp.Zone, JoinVersion: sp.Join, RemoveVersion: sp.Remove})
		}
		out.Members = append(out.Members, rm)
	}
	for _, h := range s.Handoffs {
		out.Handoffs = append(out.Handoffs, &messages.HandoffRecord{Member: h.Member, Partition: h.Partition, Since: h.Since})
	}
	return out
}

func stateFromProto(rs *messages.RingState) (ring.State, error) {
	var s ring.State
	for _, m := range rs.GetMembers() {
		ms := ring.MemberState{ID: m.GetId(), Zone: m.GetZone(), JoinVersion: m.GetJoinVersion(), RemoveVersion: m.GetRemoveVersion()}
		for _, sp := range m.GetPast() {
			ms.Past = append(ms.Past, ring.Span{Zone: sp.GetZone(), Join: sp.GetJoinVersion(), Remove: sp.GetRemoveVersion()})
		}
		s.Members = append(s.Members, ms)
	}
	for _, h := range rs.GetHandoffs() {
		if h.GetPartition() >= rs.GetPartitions() {
			return ring.State{}, fmt.Errorf("topology: ring state: handoff record for partition %d of %d", h.GetPartition(), rs.GetPartitions())
		}
		s.Handoffs = append(s.Handoffs, ring.Handoff{Member: h.GetMember(), Partition: h.GetPartition(), Since: h.GetSince()})
	}
	if err := s.Validate(); err != nil {
		return ring.State{}, fmt.Errorf("topology: ring state: %w", err)
	}
	return s, nil
}
