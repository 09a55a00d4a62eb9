package topology

import (
	"errors"
	"fmt"
	"math/bits"

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

// StoredLayout returns the partition count of the ring state stored in
// e, a resized ring's, else configured (also when none is stored, or it
// cannot be read, which the topology actor reports when it loads it), and
// the sizes its data has been laid out under (ring.Base.LayoutSizes; nil
// for a ring never resized). The node spawns its vnodes for them, before
// the topology actor has published the ring, so that a restarted node of
// a resized ring never serves its partitions by the configured count.
func StoredLayout(e persistence.Engine, configured int) (int, []int) {
	raw, err := e.Get(metaRingState)
	if err != nil {
		return configured, nil
	}
	var rs messages.RingState
	if proto.Unmarshal(raw, &rs) != nil || int(rs.GetPartitions()) != configured || rs.GetBase() == nil {
		return configured, nil
	}
	q := configured
	if resized := int(rs.GetBase().GetPartitions()); resized != 0 && ring.ValidatePartitions(resized) == nil {
		q = resized
	}
	b := &ring.Base{Partitions: q, Layouts: rs.GetBase().GetLayouts()}
	return q, b.LayoutSizes(configured)
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
		m.Entries.Set(float64(len(state.Members)))
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
	if b := s.Base; b != nil {
		rb := &messages.RingBase{Version: b.Version, Sum: b.Sum, Zones: b.Zones, Slots: packSlots(b.Slots, slotBits(len(b.Nodes))), Rebalance: b.Rebalance,
			HalveTo: uint32(b.HalveTo), Align: b.Align, Layouts: b.Layouts}
		if b.Partitions != cfg.Partitions {
			// A resized ring's count travels with its base; the state's
			// own stays the count the ring started with, which peers'
			// shape checks compare.
			rb.Partitions = uint32(b.Partitions)
		}
		for _, nd := range b.Nodes {
			rb.Nodes = append(rb.Nodes, nd.ID)
			rb.NodeZones = append(rb.NodeZones, nd.Zone)
		}
		out.Base = rb
	}
	return out
}

// slotBits is how many bits a base's slot takes with k members: enough for
// k-1, at least 1.
func slotBits(k int) int { return max(1, bits.Len(uint(max(k, 1)-1))) }

// packSlots packs each of slots in width bits, from the low bit of the
// first byte up: at Q=256, N=3 and up to 4 members, 192 bytes where a
// varint each would take 768.
func packSlots(slots []uint32, width int) []byte {
	out := make([]byte, (len(slots)*width+7)/8)
	for i, v := range slots {
		for b := range width {
			if v>>b&1 != 0 {
				at := i*width + b
				out[at/8] |= 1 << (at % 8)
			}
		}
	}
	return out
}

// unpackSlots reads count slots of width bits from packed, which must be
// exactly as long as packSlots makes it.
func unpackSlots(packed []byte, count, width int) ([]uint32, error) {
	if len(packed) != (count*width+7)/8 {
		return nil, fmt.Errorf("%d bytes of slots, want %d for %d slots of %d bits", len(packed), (count*width+7)/8, count, width)
	}
	out := make([]uint32, count)
	for i := range out {
		for b := range width {
			at := i*width + b
			if packed[at/8]>>(at%8)&1 != 0 {
				out[i] |= 1 << b
			}
		}
	}
	return out, nil
}

// baseFromProto converts a base for the q and n of the state carrying it
// (q the count the ring started with; a resized base carries its own);
// Validate checks it against the state.
func baseFromProto(rb *messages.RingBase, q, n int) (*ring.Base, error) {
	if err := ring.ValidatePartitions(q); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	if n < 1 || len(rb.GetNodes()) == 0 {
		return nil, fmt.Errorf("base: n=%d with %d members", n, len(rb.GetNodes()))
	}
	if len(rb.GetNodes()) != len(rb.GetNodeZones()) {
		return nil, fmt.Errorf("base: %d members and %d zones of them", len(rb.GetNodes()), len(rb.GetNodeZones()))
	}
	if resized := int(rb.GetPartitions()); resized != 0 {
		if err := ring.ValidatePartitions(resized); err != nil {
			return nil, fmt.Errorf("base: resized to %d partitions from %d", resized, q)
		}
		q = resized
	}
	b := &ring.Base{Version: rb.GetVersion(), Sum: rb.GetSum(), Partitions: q, Replicas: n, Zones: rb.GetZones(), Rebalance: rb.GetRebalance(),
		HalveTo: int(rb.GetHalveTo()), Align: rb.GetAlign(), Layouts: rb.GetLayouts()}
	for i, id := range rb.GetNodes() {
		b.Nodes = append(b.Nodes, ring.BaseNode{ID: id, Zone: rb.GetNodeZones()[i]})
	}
	slots, err := unpackSlots(rb.GetSlots(), q*b.Width(), slotBits(len(b.Nodes)))
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	b.Slots = slots
	return b, nil
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
		if h.GetPartition() >= max(rs.GetPartitions(), rs.GetBase().GetPartitions()) {
			return ring.State{}, fmt.Errorf("topology: ring state: handoff record for partition %d of %d", h.GetPartition(), max(rs.GetPartitions(), rs.GetBase().GetPartitions()))
		}
		s.Handoffs = append(s.Handoffs, ring.Handoff{Member: h.GetMember(), Partition: h.GetPartition(), Since: h.GetSince()})
	}
	if rb := rs.GetBase(); rb != nil {
		// The state's own q and n: a peer of another shape is refused by
		// its gossip's shape before its state is used.
		b, err := baseFromProto(rb, int(rs.GetPartitions()), int(rs.GetN()))
		if err != nil {
			return ring.State{}, fmt.Errorf("topology: ring state: %w", err)
		}
		s.Base = b
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

// resizeError converts topo.Machine.Resize's error for CommandResult: a
// refusal wraps ErrRefused and the rule, with the operator's reason.
func resizeError(err error) error {
	var re *ring.ResizeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return &refusal{kind: ErrRefused, rule: err, msg: fmt.Sprintf("%v: %s", ErrRefused, re.Reason())}
	case errors.Is(err, topo.ErrResizeNotYet):
		return &refusal{kind: ErrRefused, rule: err, msg: fmt.Sprintf("%v: %v", ErrRefused, err)}
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
