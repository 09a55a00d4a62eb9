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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/actors/entropy"
	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/handoff"
	"github.com/dhtkv/dht/actors/hints"
	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/actorsys/dispatch"
	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
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
	// sibling timestamps (last-write-wins, tombstone grace), hint ages and
	// the dot minter's floor. The fault-injection suite skews it; nil
	// means time.Now. Deadlines and timers keep the real clock.
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

// Node is a running store node.
type Node struct {
	cfg     config.Config
	logger  *slog.Logger
	engine  persistence.Engine
	system  *actor.ActorSystem
	gw      *gateway.Gateway
	pid     *actor.PID
	metrics *metrics.Metrics
	httpLn  net.Listener
	remote  *remote.Remote
	agent   *membership.Agent
	// peerTLS and apiTLS hold the certificates of mutual TLS between nodes
	// and of the HTTP API (nil when not configured).
	peerTLS, apiTLS *certs.Store
	// metricsLn serves /metrics apart from the API (http.metrics_listen).
	metricsLn net.Listener
	view      topology.View
	// hintStats mirrors the hint queue for /admin/status, and roots each
	// vnode's Merkle root.
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
	// joined is set once a seed answered (or there were none).
	joined     atomic.Bool
	joinCtx    context.Context
	cancelJoin context.CancelFunc
	joining    sync.WaitGroup
}

// objectCacheBytes is the node's budget for its vnodes' caches of decoded
// hot objects, split evenly between the partitions: small next to the
// engine's memtables and block cache (about 100 MiB in the small profile),
// and enough for the hot keys of a skewed load.
const objectCacheBytes = 32 << 20

// Start opens storage and starts every actor of the node. On error nothing
// is left running.
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
	// A selector that resolves nothing anywhere is left out of the request
	// path altogether.
	var readResolver, writeResolver *resolve.Selector
	if sel.Active() {
		readResolver = sel
		if cfg.Resolution.OnWrite {
			writeResolver = sel
		}
	}
	n = &Node{cfg: cfg, logger: logger, metrics: metrics.New(), roots: make([]atomic.Uint64, cfg.Ring.Partitions),
		keys: make([]atomic.Int64, cfg.Ring.Partitions), events: events.New(cfg.Node.ID, 512), retired: make(chan struct{})}
	// Every error return sets n to nil; the cleanup keeps its own pointer.
	created := n
	defer func() {
		if err != nil {
			_ = created.closeAll()
		}
	}()

	n.engine, err = persistence.Open(persistence.Options{
		Engine:             cfg.Storage.Engine,
		Dir:                cfg.Node.DataDir,
		SyncWrites:         cfg.Storage.SyncWrites,
		Profile:            cfg.Storage.Profile,
		ValueLogGCInterval: cfg.Storage.ValueLogGCInterval,
		Logger:             logger.With("component", "storage"),
	})
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	minter, fresh, err := vnode.OpenMinter(n.engine, now())
	if err != nil {
		return nil, err
	}
	logger.Info("storage open", "engine", cfg.Storage.Engine, "dir", cfg.Node.DataDir,
		"sync_writes", cfg.Storage.SyncWrites, "replica_actor", fmt.Sprintf("%x", uint64(minter.Actor())), "new_epoch", fresh)

	if n.peerTLS, n.apiTLS, err = openTLS(cfg, logger); err != nil {
		return nil, err
	}
	if cfg.HTTP.MetricsListen != "" {
		if n.metricsLn, err = net.Listen("tcp", cfg.HTTP.MetricsListen); err != nil {
			return nil, fmt.Errorf("node: http.metrics_listen: %w", err)
		}
	}

	n.httpLn = opts.HTTPListener
	if n.httpLn == nil {
		if n.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return nil, fmt.Errorf("node: http.listen: %w", err)
		}
	}

	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		// protoactor logs routine events (dead letters, restarts) at info;
		// only its warnings matter to an operator.
		return slog.New(levelFloor{Handler: logger.With("component", "protoactor").Handler(), min: slog.LevelWarn})
	}))
	var agent atomic.Pointer[membership.Agent]
	if !cfg.Standalone() {
		refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "dht_remote_refused_total",
			Help: "Streams and frames the remote port refused (malformed, unauthenticated, or speaking for another node)."})
		n.metrics.Registry.MustRegister(refused)
		sec := remoteSecurity{tls: n.peerTLS, agent: &agent, cluster: cfg.Cluster.Name, refused: refused, logger: logger}
		if n.remote, err = startRemote(n.system, cfg.Cluster.RemoteListen, cfg.Cluster.RemoteAdvertise, sec); err != nil {
			return nil, err
		}
	}
	self := membership.Member{
		ID: cfg.Node.ID, Zone: cfg.Cluster.Zone, RemoteAddr: n.system.Address(),
		HTTPAddr: advertised(cfg.Cluster.HTTPAdvertise, n.httpLn.Addr().String()),
		Cluster:  cfg.Cluster.Name, Partitions: cfg.Ring.Partitions, N: cfg.Replication.N,
	}
	// Sized for the request path's concurrency: a request occupies a
	// gateway hand-off, a coordinator and a vnode or two at once, and
	// vnodes block on storage; beyond the pool, work runs on new
	// goroutines.
	n.pool = dispatch.New(256, dispatch.DefaultThroughput)
	router := &clusterRouter{self: cfg.Node.ID, view: &n.view, local: n.system.Address(), hints: cfg.Handoff.Hints}
	coordCfg := coordinator.Config{Hints: cfg.Handoff.Hints, Router: router, Metrics: n.metrics, Dispatcher: n.pool,
		Logger: logger.With("component", "coordinator")}
	n.gw = gateway.New(gateway.Config{
		Listener: n.httpLn,
		Limits: gateway.Limits{
			MaxKeyBytes: cfg.Limits.MaxKeyBytes, MaxValueBytes: cfg.Limits.MaxValueBytes, MaxSiblings: cfg.Limits.MaxSiblings,
		},
		Defaults: quorum.Params{
			N: cfg.Replication.N, R: cfg.Replication.R, W: cfg.Replication.W, PR: cfg.Replication.PR, PW: cfg.Replication.PW,
		},
		Partitions:     cfg.Ring.Partitions,
		RequestTimeout: cfg.Replication.RequestTimeout,
		ReadTimeout:    cfg.HTTP.ReadTimeout,
		WriteTimeout:   cfg.HTTP.WriteTimeout,
		ClientToken:    cfg.HTTP.ClientToken,
		AdminToken:     cfg.HTTP.AdminToken,
		Pprof:          cfg.HTTP.Pprof,
		Cluster:        &clusterView{view: &n.view, hints: &n.hintStats, roots: n.roots, handoff: &n.handoff},
		Admin:          &clusterAdmin{n: n},
		Events:         n.events,
		Ready:          n.readiness,
		Coordinator:    coordCfg,
		Resolver:       readResolver,
		Metrics:        n.metrics,
		Logger:         logger.With("component", "gateway"),

		// The HTTP listener's bounds and the context tokens' secrets.
		MaxBodyBytes:          cfg.HTTP.MaxBodyBytes,
		MaxHeaderBytes:        cfg.HTTP.MaxHeaderBytes,
		IdleTimeout:           cfg.HTTP.IdleTimeout,
		MaxConnections:        cfg.HTTP.MaxConnections,
		ContextSecret:         []byte(cfg.Security.ContextSecret),
		PreviousContextSecret: []byte(cfg.Security.PreviousContextSecret),
		TLSConfig:             apiTLSConfig(n.apiTLS),
		MetricsListener:       n.metricsLn,
	})

	started := make(chan struct{})
	topoCfg := topology.Config{
		Self: self, Cluster: cfg.Cluster.Name, Partitions: cfg.Ring.Partitions, N: cfg.Replication.N,
		Engine: n.engine, View: &n.view, GossipInterval: opts.gossipInterval(),
		Members: func() topology.MembersSource {
			if a := agent.Load(); a != nil {
				return a
			}
			return nil
		},
		PeerPID: func(addr string) *actor.PID { return actor.NewPID(addr, nodeActorName+"/"+topologyName) },
		Seeded:  len(cfg.SeedList()) > 0,
		Broadcast: func(c *messages.ClusterCommand) error {
			a := agent.Load()
			if a == nil {
				return errors.New("membership is not running")
			}
			name, payload, err := commandEvent(cfg, c)
			if err != nil || name == "" {
				return err
			}
			return a.UserEvent(name, payload)
		},
		OnEvent: func(kind, subject, detail string) {
			n.events.Publish(events.Event{Kind: kind, Subject: subject, Detail: detail})
		},
		Logger: logger.With("component", "topology"),
	}
	var entropyProps *actor.Props
	if cfg.Entropy.Enabled && !cfg.Standalone() {
		entropyProps = entropy.Props(entropy.Config{
			Self: cfg.Node.ID, View: &n.view, VnodePID: router.VnodePID,
			Interval: cfg.Entropy.Interval, MaxKeys: cfg.Entropy.MaxKeysPerExchange,
			Timeout: max(30*time.Second, 3*cfg.Entropy.Interval),
			Grace:   cfg.Entropy.TombstoneGrace, HintsPID: router.HintsPID, Now: now,
			Metrics: entropy.NewMetrics(n.metrics.Registry), Logger: logger.With("component", "entropy"),
			OnRepair: func(p uint32, peer string, copies int) {
				n.events.Publish(events.Event{Kind: events.AERepair, Subject: peer, Partition: &p,
					Detail: fmt.Sprintf("%d replica copies repaired with %s", copies, peer)})
			},
		})
	}
	topologyPID := actor.NewPID(n.system.Address(), nodeActorName+"/"+topologyName)
	var handoffProps *actor.Props
	if !cfg.Standalone() {
		handoffProps = handoff.Props(handoff.Config{
			Self: cfg.Node.ID, View: &n.view, VnodePID: router.VnodePID, TopologyPID: topologyPID,
			Engine: n.engine, Keys: n.keys,
			Concurrency: cfg.Handoff.TransferConcurrency, BatchKeys: cfg.Handoff.TransferBatchKeys,
			BatchBytes: cfg.Handoff.TransferBatchBytes, DropDelay: cfg.Handoff.DropDelay,
			Interval: opts.gossipInterval(), Timeout: 30 * time.Second,
			Status: &n.handoff, Metrics: handoff.NewMetrics(n.metrics.Registry),
			OnEvent: func(kind, subject string, p uint32, detail string) {
				n.events.Publish(events.Event{Kind: kind, Subject: subject, Partition: &p, Detail: detail})
			},
			OnRetired: n.onRetired,
			Logger:    logger.With("component", "handoff"),
		})
	}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &nodeActor{
			partitions: cfg.Ring.Partitions,
			vnodeProps: func(p uint32) *actor.Props {
				return vnode.Props(vnode.Config{Partition: p, Engine: n.engine, Minter: minter, Metrics: n.metrics, Now: now,
					Root: &n.roots[p], Keys: &n.keys[p], Dispatcher: n.pool, CacheBytes: objectCacheBytes / cfg.Ring.Partitions,
					ResolveOnWrite: writeResolver, Logger: logger.With("component", "vnode")})
			},
			topologyProps: topology.Props(topoCfg),
			hintsProps: hints.Props(hints.Config{
				Stats: &n.hintStats, Now: now,
				Engine: n.engine, MaxHints: cfg.Handoff.MaxHints, MaxBytes: cfg.Handoff.MaxHintBytes,
				Interval: cfg.Handoff.DeliverInterval,
				Alive: func(node string) bool {
					snap := n.view.Load()
					return snap != nil && node != cfg.Node.ID && snap.Alive(node)
				},
				VnodePID: router.VnodePID, Metrics: n.metrics, Logger: logger.With("component", "hints"),
				Redirect: func(target string, p uint32) (string, bool) {
					snap := n.view.Load()
					if snap == nil || !snap.Plan.Removed(target) {
						return "", false
					}
					serving, _ := snap.Plan.Serving(p, snap.Alive)
					for _, id := range serving {
						if snap.Alive(id) {
							return id, true
						}
					}
					return "", true
				},
			}),
			entropyProps: entropyProps,
			handoffProps: handoffProps,
			gatewayProps: n.gw.Props().Configure(actor.WithSupervisor(logAndDecide(logger, "coordinator", actor.StopDirective)),
				actor.WithDispatcher(n.pool)),
			started: started,
		}
	}, actor.WithSupervisor(logAndDecide(logger, "vnode, topology or gateway", actor.RestartDirective)))
	if n.pid, err = n.system.Root.SpawnNamed(props, nodeActorName); err != nil {
		return nil, fmt.Errorf("node: spawn node actor: %w", err)
	}
	// Spawning returns before the children have handled Started; wait for
	// the topology actor's first snapshot, or the first requests would find
	// no route.
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		return nil, errors.New("node: actors did not start within 30s")
	}
	select {
	case <-n.view.Published():
	case <-time.After(30 * time.Second):
		return nil, errors.New("node: no ring published within 30s")
	}

	n.joinCtx, n.cancelJoin = context.WithCancel(context.Background())
	if cfg.Standalone() {
		n.joined.Store(true)
		n.ready.Store(true)
		logger.Info("node started standalone", "http", n.httpLn.Addr().String(), "partitions", cfg.Ring.Partitions)
		return n, nil
	}
	n.agent, err = membership.Start(membership.Config{
		NodeID: cfg.Node.ID, BindAddr: cfg.Cluster.GossipListen, AdvertiseAddr: cfg.Cluster.GossipAdvertise,
		Key: cfg.Cluster.GossipKey, DataDir: cfg.Node.DataDir, Self: self, Fast: opts.FastGossip, Logger: logger,
	}, func(e membership.Event) {
		if e.Members != nil {
			n.system.Root.Send(topologyPID, &topology.MembersChanged{Members: e.Members})
		}
		if c := e.Change; c != nil {
			for _, id := range c.IDs {
				n.events.Publish(events.Event{Kind: "member-" + c.Kind, Subject: id})
			}
		}
		if u := e.UserEvent; u != nil {
			cmd, err := commandFromEvent(cfg, u.Name, u.Payload)
			switch {
			case err != nil:
				logger.Warn("ignoring a cluster command from gossip", "event", u.Name, "err", err)
			case cmd != nil:
				n.system.Root.Send(topologyPID, &topology.RemoteCommand{Command: cmd})
			}
		}
	})
	if err != nil {
		return nil, err
	}
	agent.Store(n.agent)
	if seeds := cfg.SeedList(); len(seeds) > 0 {
		n.joining.Add(1)
		go func() {
			defer n.joining.Done()
			if _, err := n.agent.Join(n.joinCtx, seeds, 2*time.Second); err == nil {
				n.joined.Store(true)
				logger.Info("joined the cluster", "seeds", seeds)
				if !n.hasAlivePeer() {
					// The seeds were only this node: start the ring alone.
					n.system.Root.Send(topologyPID, topology.JoinAlone{})
				}
			}
		}()
	} else {
		n.joined.Store(true)
	}
	n.ready.Store(true)
	logger.Info("node started", "http", n.httpLn.Addr().String(), "remote", n.system.Address(),
		"gossip", cfg.Cluster.GossipListen, "partitions", cfg.Ring.Partitions)
	return n, nil
}

func advertised(advertise, listen string) string {
	if advertise != "" {
		return advertise
	}
	return listen
}

// Retired is closed once this node was removed from the ring (dhtctl
// decommission) and has handed all its data over; it has then left gossip,
// and the daemon exits.
func (n *Node) Retired() <-chan struct{} { return n.retired }

func (n *Node) onRetired() {
	n.retire.Do(func() {
		n.logger.Info("decommissioned: every partition is with its new owners; leaving the cluster")
		n.events.Publish(events.Event{Kind: events.MemberLeave, Subject: n.cfg.Node.ID, Detail: "decommissioned and handed over"})
		if n.agent != nil {
			if err := n.agent.Leave(); err != nil {
				n.logger.Warn("leaving gossip", "err", err)
			}
		}
		close(n.retired)
	})
}

// HTTPAddr returns the address the gateway listens on.
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// Metrics returns the node's metrics.
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// Stop drains HTTP until ctx ends, stops the actors, and closes storage.
func (n *Node) Stop(ctx context.Context) error {
	n.ready.Store(false)
	var errs []error
	if n.gw != nil {
		if err := n.gw.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node: drain http: %w", err))
		}
	}
	return errors.Join(append(errs, n.closeAll())...)
}

// closeAll stops whatever Start got running. Gossip stops without leaving:
// a stopped node keeps its place in the ring, and peers mark it down.
func (n *Node) closeAll() error {
	if n.cancelJoin != nil {
		n.cancelJoin()
		n.joining.Wait()
	}
	if n.agent != nil {
		_ = n.agent.Shutdown()
	}
	if n.remote != nil {
		remoteLifecycle.Lock()
		n.remote.Shutdown(false)
		remoteLifecycle.Unlock()
	}
	if n.system != nil {
		if n.pid != nil {
			// StopFuture returns once the node actor and all its children
			// have stopped, so no vnode is mid-write when storage closes.
			_ = n.system.Root.StopFuture(n.pid).Wait()
		}
		n.system.Shutdown()
	}
	if n.pool != nil {
		n.pool.Close()
	}
	for _, ln := range []net.Listener{n.httpLn, n.metricsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	for _, st := range []*certs.Store{n.peerTLS, n.apiTLS} {
		if st != nil {
			st.Close()
		}
	}
	if n.engine != nil {
		if err := n.engine.Close(); err != nil {
			return fmt.Errorf("node: close storage: %w", err)
		}
	}
	return nil
}

// readiness is what /readyz reports: storage open and actors running, the
// node has joined (a seed answered, or it started a new cluster), and it
// knows a ring in which it owns replicas.
func (n *Node) readiness() error {
	if !n.ready.Load() {
		return errors.New("starting or stopping")
	}
	if !n.joined.Load() {
		return errors.New("not joined: no seed has answered yet")
	}
	snap := n.view.Load()
	if snap == nil || len(snap.Table.Replicas) == 0 || !snap.State.Owner(n.cfg.Node.ID) {
		return errors.New("no ring known yet")
	}
	if !snap.Synced && n.hasAlivePeer() {
		return errors.New("the cluster's ring has not reached this node yet")
	}
	if !n.cfg.Standalone() && !n.handoff.Checked() {
		return errors.New("handoff has not yet compared this node's data with the ring")
	}
	return nil
}

// hasAlivePeer reports whether gossip sees another live node of this
// cluster: then the ring must come from the peers, not from this node alone.
func (n *Node) hasAlivePeer() bool {
	if n.agent == nil {
		return false
	}
	for _, m := range n.agent.Members() {
		if m.ID != n.cfg.Node.ID && m.Status == membership.StatusAlive && m.Cluster == n.cfg.Cluster.Name {
			return true
		}
	}
	return false
}

// Names of the node actor's singleton children; peers address them by
// these names.
const (
	topologyName = "topology"
	hintsName    = "hints"
	entropyName  = "entropy"
	handoffName  = "handoff"
)

// nodeActor supervises the vnodes, the topology actor and the gateway.
type nodeActor struct {
	partitions    int
	vnodeProps    func(p uint32) *actor.Props
	topologyProps *actor.Props
	hintsProps    *actor.Props
	entropyProps  *actor.Props // nil when anti-entropy is off
	handoffProps  *actor.Props // nil on a standalone node
	gatewayProps  *actor.Props
	started       chan struct{}
}

func (a *nodeActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); !ok {
		return
	}
	for p := 0; p < a.partitions; p++ {
		if _, err := ctx.SpawnNamed(a.vnodeProps(uint32(p)), vnode.Name(uint32(p))); err != nil {
			ctx.Logger().Error("spawn vnode", "partition", p, "err", err)
		}
	}
	if _, err := ctx.SpawnNamed(a.topologyProps, topologyName); err != nil {
		ctx.Logger().Error("spawn topology", "err", err)
	}
	if _, err := ctx.SpawnNamed(a.hintsProps, hintsName); err != nil {
		ctx.Logger().Error("spawn hints", "err", err)
	}
	if a.entropyProps != nil {
		if _, err := ctx.SpawnNamed(a.entropyProps, entropyName); err != nil {
			ctx.Logger().Error("spawn entropy", "err", err)
		}
	}
	if a.handoffProps != nil {
		if _, err := ctx.SpawnNamed(a.handoffProps, handoffName); err != nil {
			ctx.Logger().Error("spawn handoff", "err", err)
		}
	}
	if _, err := ctx.SpawnNamed(a.gatewayProps, "gateway"); err != nil {
		ctx.Logger().Error("spawn gateway", "err", err)
	}
	close(a.started)
}

// logAndDecide returns a supervisor strategy that logs a child's failure at
// error level — protoactor itself reports it only at info — and then applies
// directive: vnodes, the topology actor and the gateway restart (they rebuild
// their state from storage), a failed coordinator stops and its client sees
// a timeout.
func logAndDecide(logger *slog.Logger, what string, directive actor.Directive) actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, time.Minute, func(reason interface{}) actor.Directive {
		logger.Error("actor failed", "actor", what, "reason", fmt.Sprint(reason), "directive", directive.String())
		return directive
	})
}

// levelFloor drops records below min, to quiet a library's routine logging.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{Handler: h.Handler.WithGroup(name), min: h.min}
}
