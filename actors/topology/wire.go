package topology

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

// metaRingState is where the ring state is persisted, so a restarted node
// keeps the ownership it knew even before it hears from a peer.
var metaRingState = persistence.MetaKey("ring_state")

func (c Config) shape() ring.Shape {
	return ring.Shape{Cluster: c.Cluster, Partitions: c.Partitions, N: c.N}
}

// load reads the stored ring state: empty when none was stored.
func (a *topologyActor) load() (ring.State, error) {
	raw, err := a.cfg.Engine.Get(metaRingState)
	if errors.Is(err, persistence.ErrNotFound) {
		return ring.State{}, nil
	}
	if err != nil {
		return ring.State{}, err
	}
	var rs messages.RingState
	if err := proto.Unmarshal(raw, &rs); err != nil {
		return ring.State{}, fmt.Errorf("topology: decode ring state: %w", err)
	}
	// The name is not compared: the state is this node's own, and a renamed
	// cluster keeps its ownership.
	if !a.cfg.shape().SameRing(shapeOf(&rs)) {
		return ring.State{}, fmt.Errorf("topology: stored ring has %d partitions and n=%d, config says %d and %d",
			rs.GetPartitions(), rs.GetN(), a.cfg.Partitions, a.cfg.N)
	}
	return stateFromProto(&rs)
}

func (a *topologyActor) persist() error {
	state := a.m.State()
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(stateToProto(a.cfg, state))
	if err != nil {
		return err
	}
	if m := a.cfg.Metrics; m != nil && m.StateBytes != nil {
		m.StateBytes.Set(float64(len(raw)))
		m.HandoffRecords.Set(float64(len(state.Handoffs)))
	}
	return a.cfg.Engine.Put(metaRingState, raw)
}

func shapeOf(rs *messages.RingState) ring.Shape {
	return ring.Shape{Cluster: rs.GetCluster(), Partitions: int(rs.GetPartitions()), N: int(rs.GetN())}
}

// gossipFromProto converts ring gossip from peer, the node the remote
// guard authenticated ("" when none).
func gossipFromProto(g *messages.RingGossip, peer string) topo.Gossip {
	in := g.GetState()
	out := topo.Gossip{Peer: peer, Shape: shapeOf(in)}
	if g.GetDigestOnly() {
		// Whatever else the state holds is not read: the digest stands
		// for it.
		out.DigestOnly, out.Digest, out.SenderUnsynced = true, g.GetDigest(), g.GetSenderUnsynced()
		return out
	}
	out.State, out.Err = stateFromProto(in)
	return out
}

func remoteCommandFromProto(c *messages.ClusterCommand) topo.RemoteCommand {
	return topo.RemoteCommand{
		Cluster: c.GetCluster(), Action: c.GetAction(),
		Entry: ring.MemberState{ID: c.GetNode(), Zone: c.GetZone(), JoinVersion: c.GetJoinVersion(), RemoveVersion: c.GetRemoveVersion()},
	}
}

func stateToProto(cfg Config, s ring.State) *messages.RingState {
	out := &messages.RingState{Cluster: cfg.Cluster, Partitions: uint32(cfg.Partitions), N: uint32(cfg.N), HandoffsSettled: s.HandoffsSettled}
	for _, m := range s.Members {
		rm := &messages.RingMember{Id: m.ID, Zone: m.Zone, JoinVersion: m.JoinVersion, RemoveVersion: m.RemoveVersion,
			RebuildVersion: m.RebuildVersion, HandoffsForgotten: m.HandoffsForgotten}
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
	s := ring.State{HandoffsSettled: rs.GetHandoffsSettled()}
	for _, m := range rs.GetMembers() {
		ms := ring.MemberState{ID: m.GetId(), Zone: m.GetZone(), JoinVersion: m.GetJoinVersion(), RemoveVersion: m.GetRemoveVersion(),
			RebuildVersion: m.GetRebuildVersion(), HandoffsForgotten: m.GetHandoffsForgotten()}
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

// commandError turns the machine's refusal of an action into the
// CommandResult's error: ErrUnknownMember or ErrRefused, with the wording
// operators have always seen, still wrapping ring's rule.
func commandError(err error, action string) error {
	var ce *ring.CommandError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce) && errors.Is(err, ring.ErrNotMember):
		return &refusal{kind: ErrUnknownMember, rule: err, msg: fmt.Sprintf("%v: %s", ErrUnknownMember, ce.Node)}
	case errors.As(err, &ce):
		return &refusal{kind: ErrRefused, rule: err, msg: fmt.Sprintf("%v: %s", ErrRefused, ce.Reason())}
	case errors.Is(err, topo.ErrUnknownAction):
		return &refusal{kind: ErrRefused, rule: err, msg: fmt.Sprintf("%v: unknown action %q", ErrRefused, action)}
	case errors.Is(err, topo.ErrUnsynced):
		return &refusal{kind: ErrRefused, rule: err, msg: fmt.Sprintf("%v: %v; retry in a few seconds, or through another node", ErrRefused, err)}
	}
	return err
}

// refusal is a refused command: its kind (ErrUnknownMember, ErrRefused)
// for the admin API's status code and the rule for whoever wants it.
type refusal struct {
	kind, rule error
	msg        string
}

func (r *refusal) Error() string   { return r.msg }
func (r *refusal) Unwrap() []error { return []error{r.kind, r.rule} }
