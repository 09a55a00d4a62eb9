package handoff

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/internal/transfer"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

// Transfer kinds, as Status and the metrics' kind label show them.
const (
	KindReceive = string(transfer.Receive)
	KindDrain   = string(transfer.Drain)
)

// Snapshots gives the latest topology snapshot, or nil before the first;
// *topology.View is the one the node passes. It is read from the actor's
// goroutine on every tick.
type Snapshots interface {
	Load() *topology.Snapshot
}

// Config configures the handoff actor. FromConfig fills the fields that
// come from the node's configuration; the node fills the rest.
type Config struct {
	Self string
	View Snapshots
	// VnodePID returns the PID of partition p's vnode on node.
	VnodePID    func(node string, p uint32) *actor.PID
	TopologyPID *actor.PID
	// Engine keeps the receives' cursors.
	Engine persistence.Engine
	// Keys mirrors each local vnode's key count.
	Keys []atomic.Int64

	Concurrency int
	BatchKeys   int
	BatchBytes  int
	DropDelay   time.Duration
	// Interval is how often the plan is checked for work.
	Interval time.Duration
	// Timeout bounds one request of a transfer.
	Timeout time.Duration
	// Compare makes each transfer compare the Merkle trees of its source
	// and receivers first and send only the keys that differ (FromConfig
	// sets it).
	Compare bool
	// AgreementWait bounds how long a receive waits for every live peer
	// to route by this node's ring before it begins
	// (transfer.Config.AgreementWait; FromConfig sets it); 0 never waits.
	AgreementWait time.Duration

	Status  *Status
	Metrics *Metrics
	// OnEvent, when set, hears of transfers starting and finishing and of
	// dropped partitions.
	OnEvent func(kind, subject string, p uint32, detail string)
	// OnRetired, when set, is called once when this node was removed from
	// the ring, has no part in any partition and holds no data.
	OnRetired func()
	// OnLeaving, when set, is called once when this node, decommissioned,
	// begins handing over what it holds (transfer.Report.Leaving).
	OnLeaving func()
	Logger    *slog.Logger
}

// machineConfig is the part of cfg the transfer machine decides with.
func (c Config) machineConfig() transfer.Config {
	return transfer.Config{Self: c.Self, Concurrency: c.Concurrency, BatchKeys: c.BatchKeys, BatchBytes: c.BatchBytes,
		DropDelay: c.DropDelay, Timeout: c.Timeout, Compare: c.Compare, AgreementWait: c.AgreementWait}
}

// Props returns the props of the handoff actor.
func Props(cfg Config) *actor.Props {
	if cfg.Status == nil {
		cfg.Status = &Status{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &handoffActor{cfg: cfg, m: transfer.New(cfg.machineConfig())}
	})
}

// tick asks the actor to look at the ring for work.
type tick struct{}

// handoffActor carries out what its transfer machine decides. A restart
// builds a new instance with a new machine, which restores the cursors.
type handoffActor struct {
	cfg    Config
	m      *transfer.Machine
	ticker *ticker.Ticker
	// leaving is set once OnLeaving was called.
	leaving bool
}

// Receive converts each message to an event of the machine, steps it, and
// carries out the effects.
func (a *handoffActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.restoreCursors()
		a.ticker = ticker.Start(ctx, a.cfg.Interval, tick{})
		ctx.Send(ctx.Self(), tick{}) // the first check need not wait an interval
	case *actor.Stopping, *actor.Restarting:
		a.ticker.Stop()
	case tick:
		a.apply(ctx, a.m.Tick(time.Now(), snapshotOf(a.cfg.Self, a.cfg.View.Load(), a.cfg.Keys)), nil)
	case *messages.Envelope:
		a.onReply(ctx, msg)
	case *vnode.Dropped:
		a.apply(ctx, a.m.Dropped(time.Now(), msg.Partition, transfer.DropResult{Done: msg.Done, Err: msg.Err}), nil)
	}
}

// onReply steps the machine with a vnode's answer to a pull or a merge.
func (a *handoffActor) onReply(ctx actor.Context, env *messages.Envelope) {
	now, id := time.Now(), env.GetRequestId()
	if e := env.GetErrorReply(); e != nil {
		a.apply(ctx, a.m.Failed(now, id, errorReason(e)), nil)
		return
	}
	switch body := env.GetBody().(type) {
	case *messages.Envelope_HandoffPullReply:
		r := body.HandoffPullReply
		a.apply(ctx, a.m.Pulled(now, id, batchOf(r)), r.GetEntries())
	case *messages.Envelope_MergeBatchReply:
		a.apply(ctx, a.m.Merged(now, id), nil)
	case *messages.Envelope_MerkleReply:
		a.apply(ctx, a.m.Hashes(now, id, hashesOf(body.MerkleReply)), nil)
	case *messages.Envelope_BucketKeysReply:
		a.apply(ctx, a.m.Listed(now, id, listingOf(body.BucketKeysReply)), nil)
	}
}
