package topology

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

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
	// NewEpoch, when set and true, says the node's storage started empty
	// in this run. If the ring says the node owned replicas, their data is
	// gone, and the actor records that in the ring once (topo.Config
	// NewEpoch). Once it has looked, loss or not, and published the
	// result, it sets it false: the node answers replica reads again (by
	// the plan), and a restarted actor must not take the data received
	// since for a loss and restart every partition's rebuild.
	NewEpoch *atomic.Bool
	// Broadcast, when set, carries an operator's command to every node at
	// once (a serf user event); ring gossip carries it anyway.
	Broadcast func(*messages.ClusterCommand) error
	// Announce, when set, tells the peers the mark of the ring this node
	// now routes by (topo.RingMark's text, as a gossip tag). It is called
	// from the actor's goroutine after the snapshot with that ring is
	// published, each time the ownership changes; peers' readiness waits
	// until they have the same.
	Announce func(mark string)
	// OnEvent, when set, hears of ring changes and operators' commands for
	// the node's event stream: kind is "ring-change", "cluster-event",
	// "rebuild-start" or "rebuild-finish".
	OnEvent func(kind, subject, detail string)
	// OnPartitions, when set, hears of the ring's partition count and the
	// sizes its data has been laid out under (ring.Base.LayoutSizes), from
	// the actor's goroutine before the snapshot that first has the count
	// is published, and may block: the node makes its vnodes those of the
	// new count when a resize changes it (ring.State.Resize,
	// FinishHalving), and only then do its coordinators route by it. It is
	// not called for the configured count until a ring with another one
	// has been published. Setting it says the node applies resizes
	// (topo.Config.ResizesRing).
	OnPartitions func(q int, layouts []int)
	Logger       *slog.Logger
	// Metrics, when set, counts the ring gossip the node sends.
	Metrics *Metrics
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
	ActionJoin         = topo.ActionJoin
	ActionDecommission = topo.ActionDecommission
	ActionForceRemove  = topo.ActionForceRemove
)

// CommandResult answers a Command; Err wraps ErrUnknownMember or
// ErrRefused when the command is wrong (and the ring rule it broke, such
// as ring.ErrLastOwner or ring.ErrAlive).
type CommandResult struct{ Err error }

// Errors of CommandResult.
var (
	ErrUnknownMember = errors.New("not a member of the ring")
	ErrRefused       = errors.New("refused")
)

// Resize is an operator's resize of the ring to Partitions
// (topo.Machine.Resize): applied on this node, then carried by gossip.
// The actor answers the sender with a *CommandResult whose Err, when the
// resize is refused, wraps ErrRefused and the rule (ring.ErrResizeCount,
// ring.ErrResizeShrink, ring.ErrResizeUnsettled, topo.ErrResizeNotYet or
// topo.ErrUnsynced).
type Resize struct{ Partitions int }

// RemoteCommand is a command another node broadcast (a serf user event's
// payload, decoded by the node).
type RemoteCommand struct{ Command *messages.ClusterCommand }
