package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/actors/entropy"
	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/handoff"
	"github.com/dhtkv/dht/actors/hints"
	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/actorsys/dispatch"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/resolve"
)

// objectCacheBytes is the node's budget for its vnodes' caches of decoded
// hot objects, split evenly between the partitions: small next to the
// engine's memtables and block cache (about 100 MiB in the small profile),
// and enough for the hot keys of a skewed load.
const objectCacheBytes = 32 << 20

// startActorSystem creates the actor system and, unless the node runs
// alone, its remote port behind the remote guard (cluster/remoteguard).
func (n *Node) startActorSystem() (err error) {
	logger := n.logger
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		// protoactor logs routine events (dead letters, restarts) at info;
		// only its warnings matter to an operator.
		return slog.New(levelFloor{Handler: logger.With("component", "protoactor").Handler(), min: slog.LevelWarn})
	}))
	// Sized for the request path's concurrency: a request occupies a
	// gateway hand-off, a coordinator and a vnode or two at once, and
	// vnodes block on storage; beyond the pool, work runs on new
	// goroutines.
	n.pool = dispatch.New(256, dispatch.DefaultThroughput)
	if n.cfg.Standalone() {
		return nil
	}
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "dht_remote_refused_total",
		Help: "Streams and frames the remote port refused (malformed, unauthenticated, or speaking for another node)."})
	n.metrics.Registry.MustRegister(refused)
	sec := remoteSecurity{tls: n.peerTLS, agent: &n.agent, cluster: n.cfg.Cluster.Name, refused: refused, logger: logger}
	n.remote, err = startRemote(n.system, n.cfg.Cluster.RemoteListen, n.cfg.Cluster.RemoteAdvertise, sec)
	return err
}

// self is what gossip tells the cluster about this node.
func (n *Node) self() membership.Member {
	cfg := n.cfg
	return membership.Member{
		ID: cfg.Node.ID, Zone: cfg.Cluster.Zone, RemoteAddr: n.system.Address(),
		HTTPAddr: advertised(cfg.Cluster.HTTPAdvertise, n.httpLn.Addr().String()),
		Cluster:  cfg.Cluster.Name, Partitions: cfg.Ring.Partitions, N: cfg.Replication.N,
	}
}

func (n *Node) topologyPID() *actor.PID {
	return actor.NewPID(n.system.Address(), nodeActorName+"/"+topologyName)
}

// spawnActors builds every actor's config (each from config.Config next to
// its own code, plus what the node shares with it) and spawns the node actor,
// which spawns them; it returns once the first ring is published.
func (n *Node) spawnActors(opts Options, sel *resolve.Selector) error {
	cfg, logger, now := n.cfg, n.logger, opts.now()
	// A selector that resolves nothing anywhere is left out of the request
	// path altogether.
	var readResolver, writeResolver *resolve.Selector
	if sel.Active() {
		readResolver = sel
		if cfg.Resolution.OnWrite {
			writeResolver = sel
		}
	}
	router := &clusterRouter{self: cfg.Node.ID, view: &n.view, local: n.system.Address(), hints: cfg.Handoff.Hints}
	n.gw = gateway.New(n.gatewayConfig(router, readResolver))

	started := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor {
		return &nodeActor{
			partitions: cfg.Ring.Partitions,
			vnodeProps: func(p uint32) *actor.Props {
				return vnode.Props(vnode.Config{Partition: p, Engine: n.engine, Minter: n.minter, Metrics: n.metrics, Now: now,
					Root: &n.roots[p], Keys: &n.keys[p], Dispatcher: n.pool, CacheBytes: objectCacheBytes / cfg.Ring.Partitions,
					ResolveOnWrite: writeResolver, Logger: logger.With("component", "vnode")})
			},
			topologyProps: topology.Props(n.topologyConfig(opts.gossipInterval())),
			hintsProps:    hints.Props(n.hintsConfig(router, now)),
			entropyProps:  n.entropyProps(router, now),
			handoffProps:  n.handoffProps(router, opts.gossipInterval()),
			gatewayProps: n.gw.Props().Configure(actor.WithSupervisor(logAndDecide(logger, "coordinator", actor.StopDirective)),
				actor.WithDispatcher(n.pool)),
			started: started,
		}
	}, actor.WithSupervisor(logAndDecide(logger, "vnode, topology or gateway", actor.RestartDirective)))
	var err error
	if n.pid, err = n.system.Root.SpawnNamed(props, nodeActorName); err != nil {
		return fmt.Errorf("node: spawn node actor: %w", err)
	}
	// Spawning returns before the children have handled Started.
	return n.awaitRing(started)
}

func (n *Node) gatewayConfig(router *clusterRouter, resolver *resolve.Selector) gateway.Config {
	cfg := n.cfg
	return gateway.Config{
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
		Coordinator: coordinator.Config{Hints: cfg.Handoff.Hints, Router: router, Metrics: n.metrics, Dispatcher: n.pool,
			Logger: n.logger.With("component", "coordinator")},
		Resolver: resolver,
		Metrics:  n.metrics,
		Logger:   n.logger.With("component", "gateway"),

		// The HTTP listener's bounds and the context tokens' secrets.
		MaxBodyBytes:          cfg.HTTP.MaxBodyBytes,
		MaxHeaderBytes:        cfg.HTTP.MaxHeaderBytes,
		IdleTimeout:           cfg.HTTP.IdleTimeout,
		MaxConnections:        cfg.HTTP.MaxConnections,
		ContextSecret:         []byte(cfg.Security.ContextSecret),
		PreviousContextSecret: []byte(cfg.Security.PreviousContextSecret),
		TLSConfig:             apiTLSConfig(n.apiTLS),
		MetricsListener:       n.metricsLn,
	}
}

func (n *Node) topologyConfig(gossipInterval time.Duration) topology.Config {
	cfg := n.cfg
	return topology.Config{
		Self: n.self(), Cluster: cfg.Cluster.Name, Partitions: cfg.Ring.Partitions, N: cfg.Replication.N,
		Engine: n.engine, View: &n.view, GossipInterval: gossipInterval,
		Members: func() topology.MembersSource {
			if a := n.agent.Load(); a != nil {
				return a
			}
			return nil
		},
		PeerPID: func(addr string) *actor.PID { return actor.NewPID(addr, nodeActorName+"/"+topologyName) },
		Seeded:  len(cfg.SeedList()) > 0,
		Broadcast: func(c *messages.ClusterCommand) error {
			a := n.agent.Load()
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
		Logger: n.logger.With("component", "topology"),
	}
}

func (n *Node) hintsConfig(router *clusterRouter, now func() time.Time) hints.Config {
	cfg := n.cfg
	return hints.Config{
		Stats: &n.hintStats, Now: now,
		Engine: n.engine, MaxHints: cfg.Handoff.MaxHints, MaxBytes: cfg.Handoff.MaxHintBytes,
		Interval: cfg.Handoff.DeliverInterval,
		Alive: func(node string) bool {
			snap := n.view.Load()
			return snap != nil && node != cfg.Node.ID && snap.Alive(node)
		},
		VnodePID: router.VnodePID, Metrics: n.metrics, Logger: n.logger.With("component", "hints"),
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
	}
}

// entropyProps is nil when anti-entropy is off or the node runs alone.
func (n *Node) entropyProps(router *clusterRouter, now func() time.Time) *actor.Props {
	cfg := n.cfg
	if !cfg.Entropy.Enabled || cfg.Standalone() {
		return nil
	}
	return entropy.Props(entropy.Config{
		Self: cfg.Node.ID, View: &n.view, VnodePID: router.VnodePID,
		Interval: cfg.Entropy.Interval, MaxKeys: cfg.Entropy.MaxKeysPerExchange,
		Timeout: max(30*time.Second, 3*cfg.Entropy.Interval),
		Grace:   cfg.Entropy.TombstoneGrace, HintsPID: router.HintsPID, Now: now,
		Metrics: entropy.NewMetrics(n.metrics.Registry), Logger: n.logger.With("component", "entropy"),
		OnRepair: func(p uint32, peer string, copies int) {
			n.events.Publish(events.Event{Kind: events.AERepair, Subject: peer, Partition: &p,
				Detail: fmt.Sprintf("%d replica copies repaired with %s", copies, peer)})
		},
	})
}

// handoffProps is nil on a standalone node: it has no one to hand off to.
func (n *Node) handoffProps(router *clusterRouter, interval time.Duration) *actor.Props {
	cfg := n.cfg
	if cfg.Standalone() {
		return nil
	}
	return handoff.Props(handoff.Config{
		Self: cfg.Node.ID, View: &n.view, VnodePID: router.VnodePID, TopologyPID: n.topologyPID(),
		Engine: n.engine, Keys: n.keys,
		Concurrency: cfg.Handoff.TransferConcurrency, BatchKeys: cfg.Handoff.TransferBatchKeys,
		BatchBytes: cfg.Handoff.TransferBatchBytes, DropDelay: cfg.Handoff.DropDelay,
		Interval: interval, Timeout: 30 * time.Second,
		Status: &n.handoff, Metrics: handoff.NewMetrics(n.metrics.Registry),
		OnEvent: func(kind, subject string, p uint32, detail string) {
			n.events.Publish(events.Event{Kind: kind, Subject: subject, Partition: &p, Detail: detail})
		},
		OnRetired: n.onRetired,
		Logger:    n.logger.With("component", "handoff"),
	})
}
