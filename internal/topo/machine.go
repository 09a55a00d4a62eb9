package topo

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// refusedLogInterval bounds how often a refused ring change is logged: a
// joining node's first gossips are refused changes by design.
const refusedLogInterval = 30 * time.Second

// Operators' commands, as the admin API and the broadcast name them.
const (
	ActionJoin         = "join"
	ActionDecommission = "decommission"
	ActionForceRemove  = "force-remove"
)

// ErrUnknownAction is returned by Command for an action it does not know.
var ErrUnknownAction = errors.New("topo: unknown action")

// ErrUnsynced is returned by Command on a node that has not merged a live
// peer's ring since it started: a change made on its stored ring would
// take that ring's Lamport time, older than changes the cluster may have
// made meanwhile, and replay would place it among them, moving replicas
// that were settled (and the records a settled plan let the cluster
// forget). The node syncs within a gossip interval or two of seeing a
// peer; readiness waits for the same.
var ErrUnsynced = errors.New("this node has not merged a live peer's ring since it started")

// Config is what a Machine knows of its node.
type Config struct {
	// Self is this node as the ring knows it.
	Self ring.Member
	// Shape is this node's cluster name, Q and N; peers of another shape
	// are ignored.
	Shape ring.Shape
	// Seeded is set when the node has seeds to join through: a node that
	// never owned replicas then waits for the cluster's ring before it
	// joins (JoinAlone ends the wait). Without seeds it starts a cluster of
	// its own at once.
	Seeded bool
	// NewEpoch is set when the node's storage started empty in this run
	// (a first start, a wiped disk, a replaced volume) and no machine of
	// this run has announced a loss yet. If the ring then says this node
	// already owned replicas, their data is gone: the machine records that
	// in the ring (ring.State.MarkRebuild), so that every node stops
	// reading from it until it has received each partition again.
	NewEpoch bool
	// StateSize measures a ring state as gossip and storage encode it. A
	// node compacts its ring's history (ring.State.Compact) only when that
	// makes the state smaller; without StateSize it never does.
	StateSize func(ring.State) int
	// ResizesRing is set when this node applies a resize of the ring (its
	// actors follow the ring's partition count); Resize refuses on a node
	// that does not, and waits for every live peer to announce it.
	ResizesRing bool
}

// Peer is a node as gossip (serf) reports it.
type Peer struct {
	ID         string
	RemoteAddr string
	Shape      ring.Shape
	Alive      bool
	// Ring is the mark of the ring the peer announces (RingMark.String),
	// "" while it announces none; Agreement compares it.
	Ring string
	// SettlesHandoffs is set when the peer knows the ring state's settled
	// register (ring.State.HandoffsSettled): this release and later.
	SettlesHandoffs bool
	// CompactsRing is set when the peer knows the ring state's base
	// (ring.State.Base): this release and later.
	CompactsRing bool
	// ResizesRing is set when the peer applies a resize of the ring
	// (ring.State.Resize): its actors follow the ring's partition count.
	ResizesRing bool
}

// Gossip is a ring state a peer sent, or only its digest. Err is set when
// it could not be decoded; Peer is the node the transport authenticated
// ("" when none).
type Gossip struct {
	Peer  string
	Shape ring.Shape
	State ring.State
	Err   error
	// DigestOnly is set for a node's periodic gossip: it carries no state,
	// only Digest, the sender's ring.State.Digest. See Machine.Gossip.
	DigestOnly bool
	Digest     uint64
	// SenderUnsynced is set on digest-only gossip from a node that has
	// not merged a peer's ring since it started: an equal digest is
	// answered too (see gossipDigest).
	SenderUnsynced bool
}

// RemoteCommand is a command another node broadcast: the entry it changed.
type RemoteCommand struct {
	Cluster string
	Action  string
	Entry   ring.MemberState
}

// Machine is a node's topology decisions; see the package doc.
type Machine struct {
	cfg   Config
	state ring.State
	plan  ring.Plan
	// peers are the compatible peers gossip reports, by id.
	peers  []Peer
	synced bool
	// awaitingJoin is set while a node that never owned replicas waits for
	// the cluster's ring before it joins: joining on an empty state would
	// stamp its join with an early version, and replay would then move
	// replicas between the existing members too.
	awaitingJoin bool
	computed     bool
	// refusedLogged is when a refused ring change was last logged, and
	// lateLogged when a late one (see remakeLateChanges).
	refusedLogged, lateLogged time.Time
	// unpaidBase is the settled register at which a base was last found
	// not to make the state smaller (CompactIfSmaller), so that gossip
	// does not replay the claim for it again until the ring moves on.
	unpaidBase uint64
	// lossChecked is set once the machine has looked, with a ring that
	// knows this node's ownership, for data this node lost: it looks once.
	lossChecked bool
	// rebuilding counts the partitions this node receives again after a
	// loss, as of the last plan, so that the start and the end of a
	// rebuild are reported once each.
	rebuilding int
	// announced is the ring mark last asked to be announced (valid once
	// computed is set).
	announced RingMark
	// reported holds the commands whose cluster-event this node has
	// published, oldest first: a command reaches a node twice (its own
	// broadcast echoes back to the node that ran it, and ring gossip can
	// bring the change before the broadcast does), and its event is
	// published once either way.
	reported []commandKey
}

// commandKey names one cluster command: the action and the entry it
// produced, as the broadcast carries it.
type commandKey struct {
	action, node, zone         string
	joinVersion, removeVersion uint64
}

func keyOf(action string, e ring.MemberState) commandKey {
	return commandKey{action, e.ID, e.Zone, e.JoinVersion, e.RemoveVersion}
}

// reportedCommands bounds Machine.reported: commands arrive one operator
// step at a time, and an echo comes within seconds of its command.
const reportedCommands = 64

// reportCommand publishes the cluster-event of a command unless it was
// published already.
func (m *Machine) reportCommand(eff *Effects, key commandKey, detail string) {
	if slices.Contains(m.reported, key) {
		return
	}
	if len(m.reported) == reportedCommands {
		m.reported = slices.Delete(m.reported, 0, 1)
	}
	m.reported = append(m.reported, key)
	eff.event(KindClusterEvent, key.node, detail)
}

// New returns the machine of a node that has not started.
func New(cfg Config) *Machine { return &Machine{cfg: cfg} }

// State is the node's ring state.
func (m *Machine) State() ring.State { return m.state }

// Plan is the plan of State.
func (m *Machine) Plan() ring.Plan { return m.plan }

// Synced reports whether the node has merged a peer's ring state since it
// started: before that, State may be only what it knew alone.
func (m *Machine) Synced() bool { return m.synced }

// AwaitingJoin reports whether the node waits for the cluster's ring
// before it joins.
func (m *Machine) AwaitingJoin() bool { return m.awaitingJoin }

// Known reports whether id is a compatible peer gossip reports.
func (m *Machine) Known(id string) bool { _, ok := m.peer(id); return ok }

func (m *Machine) peer(id string) (Peer, bool) {
	i, ok := slices.BinarySearchFunc(m.peers, id, func(p Peer, id string) int { return strings.Compare(p.ID, id) })
	if !ok {
		return Peer{}, false
	}
	return m.peers[i], true
}

func (m *Machine) alive(id string) bool { p, ok := m.peer(id); return ok && p.Alive }

// alivePeer reports whether gossip sees another compatible node alive.
func (m *Machine) alivePeer() bool {
	return slices.ContainsFunc(m.peers, func(p Peer) bool { return p.ID != m.cfg.Self.ID && p.Alive })
}

// Start begins with loaded, the state the node stored (empty when none or
// unreadable). An owner keeps its ownership (the join changes nothing
// unless its zone changed) and a node without seeds starts a cluster; a
// removed node stays removed; any other waits for the cluster's ring.
func (m *Machine) Start(loaded ring.State) Effects {
	var eff Effects
	m.state = loaded
	switch {
	case loaded.Owner(m.cfg.Self.ID):
		// The stored ring says this node owns replicas; if its storage
		// is new all the same, the data went and the ring stayed (the
		// data directory's contents were replaced but for the ring).
		m.checkLoss(&eff, loaded)
		m.joinSelf(&eff)
	case !m.cfg.Seeded:
		m.lossDecided(&eff) // it starts a cluster: nothing to have lost
		m.joinSelf(&eff)
	case m.removed(loaded):
		m.lossDecided(&eff) // it owns nothing: no replica to have lost
		m.warnRemoved(&eff)
		m.apply(&eff, loaded, "load")
	default:
		m.awaitingJoin = true
		m.apply(&eff, loaded, "load")
	}
	eff.Publish = true
	return eff
}

// JoinAlone ends a seeded node's wait when no peer answered: it starts the
// ring on its own.
func (m *Machine) JoinAlone() Effects {
	var eff Effects
	if m.awaitingJoin {
		eff.log(slog.LevelInfo, "no peer answered; starting the ring alone")
		m.joinSelf(&eff)
		eff.Publish = true
	}
	return eff
}

// HandoffDone records that this node received partition p for its
// placement at ring version since; gossip carries the record.
func (m *Machine) HandoffDone(p uint32, since uint64) Effects {
	var eff Effects
	if m.apply(&eff, m.state.CompleteHandoff(m.cfg.Self.ID, p, since), "handoff") {
		eff.Publish = true
	}
	m.forgetSettled(&eff)
	return eff
}

// SetMembers records what gossip reports, keeping only peers of this
// node's shape: the others must never be routed to.
func (m *Machine) SetMembers(peers []Peer) Effects {
	eff := Effects{Publish: true}
	m.peers = m.peers[:0:0]
	// One entry per id, the last reported, as a map keyed by id keeps.
	index := make(map[string]int, len(peers))
	for _, p := range peers {
		if !m.cfg.Shape.Compatible(p.Shape) {
			if p.Alive {
				eff.log(slog.LevelWarn, "ignoring a peer with another cluster name or ring shape",
					"peer", p.ID, "cluster", p.Shape.Cluster, "partitions", p.Shape.Partitions, "n", p.Shape.N)
			}
			continue
		}
		if i, ok := index[p.ID]; ok {
			m.peers[i] = p
			continue
		}
		index[p.ID] = len(m.peers)
		m.peers = append(m.peers, p)
	}
	slices.SortFunc(m.peers, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	m.forgetSettled(&eff)
	return eff
}

// Rand is the randomness Tick chooses with: a *math/rand/v2.Rand, passed
// in so that the machine holds no hidden source and a test replays a seed.
type Rand interface {
	IntN(n int) int
}

// Tick picks the peer to gossip with this interval: one live compatible
// peer with a remote address, chosen by rng, so that state spreads
// epidemically. GossipTo stays empty when there is none. What goes to it is
// the digest of this node's state, not the state (see Gossip).
func (m *Machine) Tick(rng Rand) Effects {
	var eff Effects
	var candidates []Peer
	for _, p := range m.peers {
		if p.ID != m.cfg.Self.ID && p.Alive && p.RemoteAddr != "" {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) > 0 {
		eff.GossipTo = candidates[rng.IntN(len(candidates))].RemoteAddr
	}
	return eff
}

// Gossip merges a peer's ring state. An owner merges only what the peer
// may change (ring.State.Admit); a node not yet an owner has no ring to
// protect and takes the cluster's as it comes, then joins on top of it
// when it was waiting to. now times the refused-change log.
func (m *Machine) Gossip(g Gossip, now time.Time) Effects {
	var eff Effects
	if !m.cfg.Shape.Compatible(g.Shape) {
		eff.log(slog.LevelWarn, "ignoring ring gossip from another cluster or ring shape",
			"cluster", g.Shape.Cluster, "partitions", g.Shape.Partitions, "n", g.Shape.N)
		return eff
	}
	if g.Err != nil {
		eff.log(slog.LevelWarn, "ignoring malformed ring gossip", "err", g.Err)
		return eff
	}
	if g.DigestOnly {
		return m.gossipDigest(g.Digest, g.SenderUnsynced)
	}
	theirs, admitted := g.State, g.State
	if m.state.Owner(m.cfg.Self.ID) {
		admitted = m.state.Admit(g.Peer, theirs)
		m.logRefused(&eff, g.Peer, theirs, admitted, now)
	}
	merged, why := ring.Merge(m.state, admitted), "gossip"
	if !merged.KnowsChangesOf(m.state) {
		merged, why = m.remakeLateChanges(&eff, merged), "late changes made again"
	}
	if !merged.KnowsChangesOf(admitted) {
		m.logLate(&eff, g.Peer, now)
	}
	changed := m.apply(&eff, merged, why)
	if m.awaitingJoin {
		// Another joiner's full state is as empty as this node's:
		// joining on it is the reshuffle gossipDigest guards against,
		// whichever form the empty ring came in, and it is not the
		// cluster's ring, so the node is not synced by it either.
		if m.emptyWhileAPeerHasARing() {
			return eff
		}
		m.joinOnArrival(&eff, merged)
		changed = true
	}
	if changed || !m.synced {
		m.synced = true
		eff.Publish = true
	}
	m.forgetSettled(&eff)
	// Answer only when the sender lacks something, so two converged nodes
	// exchange one message per interval, not two.
	eff.Respond = merged.Digest() != theirs.Digest()
	return eff
}

// gossipDigest answers a peer's periodic gossip, which carries only the
// digest of its state. The same digest means the same state (Digest is a
// hash of the canonical state): nothing to send, and this node now knows it
// holds the cluster's ring as that peer does. A different one asks for this
// node's full state; the peer merges it and answers with its own full state
// when this node was the one missing something, so a difference in either
// direction heals in one exchange. Converged nodes send only digests, a
// few dozen bytes an interval, where full gossip grew with the ring.
//
// An equal digest from a sender that has not synced since it started
// (senderUnsynced) is answered with the full state all the same: the
// sender is refusing requests until it knows its stored ring is the
// cluster's, and without the answer it would learn that only when some
// peer's periodic gossip happened to pick it.
func (m *Machine) gossipDigest(theirs uint64, senderUnsynced bool) Effects {
	var eff Effects
	if theirs != m.state.Digest() {
		eff.Respond = true
		return eff
	}
	// Only a node with a ring has one to give: between two joiners the
	// answer would be an empty ring.
	eff.Respond = senderUnsynced && len(m.state.Members) > 0
	changed := false
	if m.awaitingJoin && m.emptyWhileAPeerHasARing() {
		// Another joiner's digest: not the cluster's ring (see
		// emptyWhileAPeerHasARing), so neither a join nor a sync.
		return eff
	}
	if m.awaitingJoin {
		// The peer holds this node's ring exactly: the cluster's. When
		// every node of a new cluster waits (each seeded with the others,
		// as a StatefulSet's pods are), their rings are all empty, their
		// digests equal, and no full state would ever be sent: waiting
		// for one would wait forever.
		m.joinOnArrival(&eff, m.state)
		changed = true
	}
	if changed || !m.synced {
		m.synced = true
		eff.Publish = true
	}
	return eff
}

// emptyWhileAPeerHasARing reports whether this node's ring is empty while a
// live peer announces a ring with members (its gossip tag's mark). An equal
// digest then came from another node waiting to join, as empty as this
// one, not from the cluster: joining on the empty ring would make this
// node's join the first event of the ownership history (Lamport time 1),
// and once merged, every placement made since would replay in another
// order. The ring would be reshuffled, and members placed anew at old
// versions would count as holding partitions they dropped long ago (seen
// as two nodes joining at once to a running cluster: about twice the
// ideal movement, and reads answered not-found). The full state comes
// instead from a member, whose digest differs.
func (m *Machine) emptyWhileAPeerHasARing() bool {
	if len(m.state.Members) > 0 {
		return false
	}
	for _, p := range m.peers {
		if p.ID == m.cfg.Self.ID || !p.Alive || p.Ring == "" {
			continue
		}
		if mark, err := ParseRingMark(p.Ring); err == nil && mark.Version > 0 {
			return true
		}
	}
	return false
}

// joinOnArrival ends a wait to join (awaitingJoin) once the cluster's ring,
// merged, is here: the node joins on top of it, unless it says this node
// was removed. A node that waited to join but is an owner already lost the
// ring it stored, and with it, when its storage is new, the data.
func (m *Machine) joinOnArrival(eff *Effects, merged ring.State) {
	switch {
	case m.removed(merged):
		m.awaitingJoin = false
		m.lossDecided(eff)
		m.warnRemoved(eff)
	default:
		m.checkLoss(eff, merged)
		m.joinSelf(eff)
	}
}

// logRefused logs, at most once per refusedLogInterval, ring changes a
// peer sent that it may not make. A joining node's first gossip is one (it
// relays the cluster's ring before it is a member), so this is not an
// attack by itself.
func (m *Machine) logRefused(eff *Effects, peer string, theirs, admitted ring.State, now time.Time) {
	if ring.Merge(m.state, theirs).Digest() == ring.Merge(m.state, admitted).Digest() {
		return
	}
	if now.Sub(m.refusedLogged) >= refusedLogInterval {
		m.refusedLogged = now
		eff.log(slog.LevelInfo, "ignoring ring changes gossiped by a node that is not a member: it may announce only itself",
			"peer", peer, "peer_addr_known", peer != "")
	}
}

// Command applies an operator's command on this node: ring's rules decide
// (State.JoinSelf, Decommission, ForceRemove, where alive is what gossip
// sees), and a change is published, reported and broadcast. A refusal
// returns ring's *CommandError, or ErrUnknownAction.
func (m *Machine) Command(action, node string) (Effects, error) {
	var eff Effects
	if !m.synced && m.alivePeer() {
		return eff, ErrUnsynced
	}
	var next ring.State
	var err error
	switch action {
	case ActionJoin:
		next, err = m.state.JoinSelf(m.cfg.Self, node)
		if err == nil {
			m.awaitingJoin = false
		}
	case ActionDecommission:
		next, err = m.state.Decommission(node)
	case ActionForceRemove:
		next, err = m.state.ForceRemove(node, m.cfg.Self.ID, m.alive)
	default:
		err = fmt.Errorf("%w %q", ErrUnknownAction, action)
	}
	if err != nil || !m.apply(&eff, next, action) {
		return eff, err
	}
	eff.Publish = true
	entry, ok := m.state.Entry(node)
	if !ok {
		entry.ID = node
	}
	m.reportCommand(&eff, keyOf(action, entry), action+" (from this node)")
	eff.Broadcast = &Broadcast{Action: action, Entry: entry}
	return eff, nil
}

// RemoteCommand merges the entry another node's command produced: every
// node merges the same entry, so they agree at once. Commands of another
// cluster and malformed entries are ignored.
func (m *Machine) RemoteCommand(c RemoteCommand) Effects {
	var eff Effects
	if c.Cluster != m.cfg.Shape.Cluster {
		return eff
	}
	entry := ring.State{Members: []ring.MemberState{c.Entry}}
	if err := entry.Validate(); err != nil {
		eff.log(slog.LevelWarn, "ignoring a malformed cluster command", "action", c.Action, "err", err)
		return eff
	}
	merged := ring.Merge(m.state, entry)
	if !merged.KnowsChangesOf(entry) {
		// Made on a ring older than the settled register (see
		// remakeLateChanges): dropped, as gossip would drop it.
		eff.log(slog.LevelWarn, "dropped a cluster command made on an older ring, below the settled register; give it again",
			"action", c.Action, "node", c.Entry.ID, "settled_at", m.state.HandoffsSettled)
	}
	if m.apply(&eff, merged, c.Action) {
		eff.Publish = true
	}
	// Reported even when ring gossip brought the change first: the
	// event stream tells that an operator asked for it.
	m.reportCommand(&eff, keyOf(c.Action, c.Entry), c.Action)
	if c.Entry.ID == m.cfg.Self.ID && m.removed(m.state) {
		eff.log(slog.LevelInfo, "this node was removed from the ring; it keeps serving while it hands its partitions over, then leaves", "action", c.Action)
	}
	return eff
}

// joinSelf joins this node to the ring: its own announcement, which peers
// learn by gossip.
func (m *Machine) joinSelf(eff *Effects) {
	m.awaitingJoin = false
	m.lossDecided(eff)
	m.apply(eff, m.state.Join(m.cfg.Self), "join")
}

// checkLoss records in the ring that this node lost its data when its
// storage is new (Config.NewEpoch) but s, a ring that knows this node's
// ownership, says it owned replicas. It looks once per machine: by the
// time this node joins, whatever it stores is its own.
func (m *Machine) checkLoss(eff *Effects, s ring.State) {
	if m.lossChecked {
		return
	}
	m.lossDecided(eff)
	if !m.cfg.NewEpoch || !s.Owner(m.cfg.Self.ID) {
		return
	}
	eff.log(slog.LevelWarn, "this node's storage is new but the ring says it owns replicas: its data is gone; "+
		"it takes writes at once, and reads go to the other replicas until it has received every partition again")
	m.apply(eff, s.MarkRebuild(m.cfg.Self.ID), "rebuild")
}

// lossDecided records that the machine has looked for a data loss (and
// found one or not): it tells the node, when its storage is new, so that
// the node serves replica reads again, subject to the plan, and no later
// machine of this run looks again.
func (m *Machine) lossDecided(eff *Effects) {
	if m.lossChecked {
		return
	}
	m.lossChecked = true
	eff.LossChecked = m.cfg.NewEpoch
}

func (m *Machine) removed(s ring.State) bool {
	e, ok := s.Entry(m.cfg.Self.ID)
	return ok && e.Removed()
}

func (m *Machine) warnRemoved(eff *Effects) {
	eff.log(slog.LevelWarn, "this node was removed from the ring (decommissioned or force-removed); it owns nothing until `dhtctl join` asks it to rejoin")
}

// apply adopts next as the ring state; when it changed, it asks for it to
// be persisted and recomputes the plan, and an ownership change is logged
// and reported. It reports whether anything changed.
func (m *Machine) apply(eff *Effects, next ring.State, why string) bool {
	if m.computed && m.state.Digest() == next.Digest() {
		return false
	}
	ownershipChanged := !m.computed || m.state.Version() != next.Version()
	first := !m.computed
	m.state = next
	m.plan = ring.NewPlan(m.cfg.Shape.Partitions, m.cfg.Shape.N, m.state)
	m.computed = true
	eff.Persist = true
	if ownershipChanged {
		owners := len(m.state.Owners())
		eff.log(slog.LevelInfo, "ring changed", "why", why, "owners", owners, "version", m.state.Version())
		eff.event(KindRingChange, "", fmt.Sprintf("%s: %d owners, version %d", why, owners, m.state.Version()))
	}
	m.reportRebuild(eff)
	if mark := MarkOf(m.state); first || mark != m.announced {
		m.announced = mark
		eff.Announce = &mark
	}
	return true
}

// reportRebuild reports the start and the end of this node's rebuild: the
// plans in which it first has partitions to receive again after a loss,
// and then none.
func (m *Machine) reportRebuild(eff *Effects) {
	was, now := m.rebuilding, m.plan.Rebuilding(m.cfg.Self.ID)
	m.rebuilding = now
	switch {
	case was == 0 && now > 0:
		eff.event(KindRebuildStart, m.cfg.Self.ID, fmt.Sprintf("receiving %d partitions again after losing its data", now))
	case was > 0 && now == 0:
		eff.log(slog.LevelInfo, "rebuild finished: every partition this node holds is received again; it serves reads")
		eff.event(KindRebuildFinish, m.cfg.Self.ID, "every partition received again")
	}
}
