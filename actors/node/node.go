package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/handoff"
	"github.com/dhtkv/dht/actors/hints"
	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/actorsys/dispatch"
	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/resolve"
)

// nodeActorName is the node actor's name; vnodes are its children, so a
// vnode's PID id is nodeActorName + "/" + vnode.Name(p) on every node.
const nodeActorName = "node"

// Options configures Start.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	// HTTPListener, when set, is used instead of listening on
	// Config.HTTP.Listen (tests pass one bound to 127.0.0.1:0).
	HTTPListener net.Listener
	// FastGossip tunes failure detection and ring gossip for loopback test
	// clusters: sub-second probes instead of LAN defaults.
	FastGossip bool
	// Now, when set, replaces the wall clock the node stamps data with:
	// sibling timestamps (last-write-wins, tombstone grace), expiries of
	// values written with a TTL and the instant reads find them expired,
	// hint ages and the dot minter's floor. The fault-injection suite skews
	// it, and tests advance it to expire values; nil means time.Now.
	// Deadlines and timers keep the real clock.
	Now func() time.Time
	// Resolvers are server-side sibling resolvers (package resolve) by the
	// name the config's resolution section uses for them, besides the
	// built-in "siblings" and "lww". A config naming a resolver that is
	// neither fails Start.
	Resolvers map[string]resolve.Resolver
}

func (o Options) gossipInterval() time.Duration {
	if o.FastGossip {
		return 100 * time.Millisecond
	}
	return time.Second
}

func (o Options) now() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

// Node is a running store node.
type Node struct {
	cfg    config.Config
	logger *slog.Logger
	engine persistence.Engine
	minter *vnode.Minter
	// newEpoch is set when the storage started empty in this run; the
	// topology actor clears it once it has looked for lost data. Until
	// then the vnodes answer no replica reads (replicaReadGate).
	newEpoch atomic.Bool
	// vnodeCount is the partition count the node's vnodes are of: a
	// dead letter to a vnode name at or above it is for no vnode here
	// (rehomeOrphans).
	vnodeCount atomic.Int64
	system     *actor.ActorSystem
	gw         *gateway.Gateway
	pid        *actor.PID
	metrics    *metrics.Metrics
	httpLn     net.Listener
	remote     *remote.Remote
	// agent is the node's gossip membership, set once it runs; the remote
	// guard and the topology actor read it from their own goroutines.
	agent atomic.Pointer[membership.Agent]
	// peerTLS and apiTLS hold the certificates of mutual TLS between nodes
	// and of the HTTP API (nil when not configured).
	peerTLS, apiTLS *certs.Store
	// metricsLn serves /metrics apart from the API (http.metrics_listen).
	metricsLn net.Listener
	view      topology.View
	// hintStats mirrors the hint queue for /admin/status, and roots each
	// vnode's Merkle root, by partition (sized for any Q, since a resize
	// changes it: 1 MiB with keys).
	hintStats hints.Stats
	roots     []atomic.Uint64
	// keys mirrors each vnode's key count; handoff shows transfers.
	keys    []atomic.Int64
	handoff handoff.Status
	events  *events.Bus
	retired chan struct{}
	retire  sync.Once
	// pool runs the mailboxes of the actors on the request path.
	pool  *dispatch.Pool
	ready atomic.Bool
	// stopping is set once LeaveGossip or Stop began: connections that
	// break from then on break as planned.
	stopping atomic.Bool
	// ringMark is the mark of the ring the topology actor last announced
	// (nil before the first): gossip's tags carry it once membership runs.
	ringMark atomic.Pointer[string]
	// agreement decides when readiness stops waiting for the live peers
	// to announce this node's ring; /readyz probes come on many
	// goroutines.
	agreement struct {
		sync.Mutex
		a *topo.Agreement
	}
	now func() time.Time
	// writeIDsEverywhere is set while every member gossip knows keeps
	// write ids (membership.Member.WriteIDs): only then may a write be
	// handed over (coordinator.Config.HandOverAllowed).
	writeIDsEverywhere atomic.Bool
	// joined is set once a seed answered (or there were none).
	joined atomic.Bool
	// gossipStarted is when gossip started: a node restarted without
	// seeds waits from then for serf to rejoin the peers it knew
	// (rejoinPending).
	gossipStarted time.Time
	joinCtx       context.Context
	cancelJoin    context.CancelFunc
	joining       sync.WaitGroup
}

// Start opens storage and starts every actor of the node, in the order a
// node comes up: storage, listeners, the actor system and its remote, the
// actors (waiting for the first ring), then gossip and the join. Each step
// is a method of its own; on error nothing is left running.
func Start(opts Options) (n *Node, err error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("node", cfg.Node.ID)
	sel, err := resolvers(cfg, opts.Resolvers, logger)
	if err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg, logger: logger, metrics: metrics.NewWithLatencyCeiling(cfg.Replication.RequestTimeout), roots: make([]atomic.Uint64, ring.MaxPartitions),
		keys: make([]atomic.Int64, ring.MaxPartitions), events: events.New(cfg.Node.ID, 512), retired: make(chan struct{}),
		now: opts.now()}
	n.agreement.a = topo.NewAgreement(cfg.Node.ID,
		ring.Shape{Cluster: cfg.Cluster.Name, Partitions: cfg.Ring.Partitions, N: cfg.Replication.N}, cfg.Cluster.ReadyAgreementWait)
	// Every error return sets n to nil; the cleanup keeps its own pointer.
	created := n
	defer func() {
		if err != nil {
			_ = created.closeAll()
		}
	}()

	if err := n.openStorage(opts.now()); err != nil {
		return nil, err
	}
	if err := n.openListeners(opts.HTTPListener); err != nil {
		return nil, err
	}
	if err := n.startActorSystem(); err != nil {
		return nil, err
	}
	if err := n.spawnActors(opts, sel); err != nil {
		return nil, err
	}
	n.joinCtx, n.cancelJoin = context.WithCancel(context.Background())
	if cfg.Standalone() {
		n.joined.Store(true)
		n.ready.Store(true)
		logger.Info("node started standalone", "http", n.httpLn.Addr().String(), "partitions", cfg.Ring.Partitions)
		return n, nil
	}
	if err := n.startMembership(opts.FastGossip); err != nil {
		return nil, err
	}
	n.ready.Store(true)
	logger.Info("node started", "http", n.httpLn.Addr().String(), "remote", n.system.Address(),
		"gossip", cfg.Cluster.GossipListen, "partitions", cfg.Ring.Partitions)
	return n, nil
}

// openListeners loads the certificates (cluster.tls, http.tls) and opens
// the metrics listener (http.metrics_listen) and the
// API's, unless the caller passed one in.
func (n *Node) openListeners(httpLn net.Listener) (err error) {
	if n.peerTLS, n.apiTLS, err = openTLS(n.cfg, n.logger); err != nil {
		return err
	}
	if n.cfg.HTTP.MetricsListen != "" {
		if n.metricsLn, err = net.Listen("tcp", n.cfg.HTTP.MetricsListen); err != nil {
			return fmt.Errorf("node: http.metrics_listen: %w", err)
		}
	}
	n.httpLn = httpLn
	if n.httpLn == nil {
		if n.httpLn, err = net.Listen("tcp", n.cfg.HTTP.Listen); err != nil {
			return fmt.Errorf("node: http.listen: %w", err)
		}
	}
	return nil
}

// awaitRing waits for the actors to have started and the topology actor to
// have published its first ring: before that a request would find no route.
func (n *Node) awaitRing(started <-chan struct{}) error {
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		return errors.New("node: actors did not start within 30s")
	}
	select {
	case <-n.view.Published():
	case <-time.After(30 * time.Second):
		return errors.New("node: no ring published within 30s")
	}
	return nil
}

func advertised(advertise, listen string) string {
	if advertise != "" {
		return advertise
	}
	return listen
}

// HTTPAddr returns the address the gateway listens on.
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// Metrics returns the node's metrics.
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }
