package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dhtkv/dht/actors/entropy"
	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/handoff"
	"github.com/dhtkv/dht/actors/hints"
	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/actorsys/dispatch"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/resolve"
)

// startActorSystem creates the actor system and, unless the node runs
// alone, its remote port behind the remote guard (cluster/remoteguard).
func (n *Node) startActorSystem() (err error) {
	logger := n.logger
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		// protoactor logs routine events (dead letters, restarts) at info;
		// only its warnings matter to an operator.
		base := plannedDisconnects{Handler: logger.With("component", "protoactor").Handler(), planned: n.plannedDisconnect}
		return slog.New(levelFloor{Handler: base, min: slog.LevelWarn})
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
		// Its actors follow the ring's partition count.
		ResizesRing: true,
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
	n.rehomeOrphans()
	n.gw = gateway.New(n.gatewayConfig(router, readResolver, now))
	n.registerClusterMetrics()

	started := make(chan struct{})
	// The stored ring's count and layouts: a resized ring's vnodes start
	// as they were.
	storedQ, storedLayouts := topology.StoredLayout(n.engine, cfg.Ring.Partitions)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &nodeActor{
			partitions:    storedQ,
			layouts:       storedLayouts,
			count:         &n.vnodeCount,
			logger:        logger,
			vnodeProps:    n.vnodeProps(writeResolver, now),
			topologyProps: topology.Props(n.topologyConfig(opts.gossipInterval())),
			hintsProps:    hints.Props(n.hintsConfig(router, now)),
			entropyProps:  n.entropyProps(router, now),
			handoffProps:  n.handoffProps(router, opts.gossipInterval()),
			// A coordinator that fails is restarted: it answers the
			// requests it ran (coordinator.abandon) and takes new ones.
			gatewayProps: n.gw.Props().Configure(actor.WithSupervisor(logAndDecide(logger, "coordinator", actor.RestartDirective)),
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

// Each actor's config starts from its package's FromConfig, which derives
// every field config.Config decides next to the code that reads it; the node
// adds only what it shares with the actor (listeners, engine, views, PIDs,
// metrics, callbacks).

// vnodeProps returns the props of partition p's vnode on a ring of q
// partitions.
func (n *Node) vnodeProps(writeResolver *resolve.Selector, now func() time.Time) func(p uint32, q int, layouts []int) *actor.Props {
	base := vnode.FromConfig(n.cfg)
	base.Engine, base.Minter, base.Metrics, base.Now = n.engine, n.minter, n.metrics, now
	base.Dispatcher, base.ResolveOnWrite = n.pool, writeResolver
	base.Logger = n.logger.With("component", "vnode")
	base.ReadGate = n.replicaReadGate
	return func(p uint32, q int, layouts []int) *actor.Props {
		c := base
		c.Layouts = layouts
		c.Partition, c.Root, c.Keys = p, &n.roots[p], &n.keys[p]
		// A resized ring's vnodes know its Q; InitialPartitions, from
		// FromConfig, stays the configured one.
		c.Partitions, c.CacheBytes = q, vnode.ObjectCacheBytes/q
		return vnode.Props(c)
	}
}

func (n *Node) gatewayConfig(router *clusterRouter, resolver *resolve.Selector, now func() time.Time) gateway.Config {
	c := gateway.FromConfig(n.cfg)
	c.Listener, c.MetricsListener, c.TLSConfig = n.httpLn, n.metricsLn, apiTLSConfig(n.apiTLS)
	c.Cluster = &clusterView{view: &n.view, hints: &n.hintStats, roots: n.roots, handoff: &n.handoff}
	c.Admin, c.Events, c.Ready, c.RingStale = &clusterAdmin{n: n}, n.events, n.readiness, n.ringStale
	c.Backup = func(ctx context.Context, w io.Writer) error { _, err := n.Backup(ctx, w); return err }
	c.Coordinator.Router, c.Coordinator.Metrics, c.Coordinator.Dispatcher = router, n.metrics, n.pool
	c.Coordinator.Now = now
	c.Coordinator.HandOverAllowed = n.writeIDsEverywhere.Load
	c.Coordinator.Logger = n.logger.With("component", "coordinator")
	c.Resolver, c.Metrics, c.Logger = resolver, n.metrics, n.logger.With("component", "gateway")
	c.Self = router.self
	return c
}

func (n *Node) topologyConfig(gossipInterval time.Duration) topology.Config {
	cfg := n.cfg
	c := topology.FromConfig(cfg)
	// FromConfig's Self lacks the addresses, known once the listeners are.
	c.Self, c.Engine, c.View, c.GossipInterval = n.self(), n.engine, &n.view, gossipInterval
	c.NewEpoch = &n.newEpoch
	c.Metrics = topology.NewMetrics(n.metrics.Registry)
	c.Members = func() topology.MembersSource {
		if a := n.agent.Load(); a != nil {
			return a
		}
		return nil
	}
	c.PeerPID = func(addr string) *actor.PID { return actor.NewPID(addr, nodeActorName+"/"+topologyName) }
	c.Broadcast = func(cmd *messages.ClusterCommand) error {
		a := n.agent.Load()
		if a == nil {
			return errors.New("membership is not running")
		}
		name, payload, err := commandEvent(cfg, cmd)
		if err != nil || name == "" {
			return err
		}
		return a.UserEvent(name, payload)
	}
	c.Announce = n.announceRing
	c.OnEvent = func(kind, subject, detail string) {
		n.events.Publish(events.Event{Kind: kind, Subject: subject, Detail: detail})
	}
	c.Logger = n.logger.With("component", "topology")
	// The node follows the ring's partition count: it replaces its
	// vnodes when a resize changes it (nodeActor.resize).
	c.OnPartitions = func(q int, layouts []int) {
		pid := actor.NewPID(n.system.Address(), nodeActorName)
		if _, err := n.system.Root.RequestFuture(pid, partitionsChanged{q: q, layouts: layouts}, 2*quiesceTimeout).Result(); err != nil {
			n.logger.Error("the vnodes did not follow the ring's partition count in time; publishing the ring all the same", "partitions", q, "err", err)
		}
	}
	return c
}

func (n *Node) hintsConfig(router *clusterRouter, now func() time.Time) hints.Config {
	self := n.cfg.Node.ID
	c := hints.FromConfig(n.cfg)
	c.Stats, c.Now, c.Engine, c.VnodePID, c.Metrics = &n.hintStats, now, n.engine, router.VnodePID, n.metrics
	c.Logger = n.logger.With("component", "hints")
	c.Alive = func(node string) bool {
		snap := n.view.Load()
		return snap != nil && node != self && snap.Alive(node)
	}
	c.Redirect = func(target string, p uint32) (string, bool) {
		snap := n.view.Load()
		if snap == nil {
			return "", false
		}
		return snap.Plan.HintRedirect(target, p, snap.Alive)
	}
	c.Partitions = n.partitions
	return c
}

// partitions is the ring's partition count as the latest snapshot has it
// (a resize changes it), the configured one before any.
func (n *Node) partitions() int {
	if snap := n.view.Load(); snap != nil && len(snap.Plan.Slots) > 0 {
		return len(snap.Plan.Slots)
	}
	return n.cfg.Ring.Partitions
}

// entropyProps is nil when anti-entropy is off or the node runs alone.
func (n *Node) entropyProps(router *clusterRouter, now func() time.Time) *actor.Props {
	if !n.cfg.Entropy.Enabled || n.cfg.Standalone() {
		return nil
	}
	c := entropy.FromConfig(n.cfg)
	c.View, c.VnodePID, c.HintsPID, c.Now = &n.view, router.VnodePID, router.HintsPID, now
	c.Metrics, c.Logger = entropy.NewMetrics(n.metrics.Registry), n.logger.With("component", "entropy")
	c.OnRepair = func(p uint32, peer string, copies int) {
		n.events.Publish(events.Event{Kind: events.AERepair, Subject: peer, Partition: &p,
			Detail: fmt.Sprintf("%d replica copies repaired with %s", copies, peer)})
	}
	return entropy.Props(c)
}

// handoffProps is nil on a standalone node: it has no one to hand off to.
func (n *Node) handoffProps(router *clusterRouter, interval time.Duration) *actor.Props {
	if n.cfg.Standalone() {
		return nil
	}
	c := handoff.FromConfig(n.cfg)
	c.View, c.VnodePID, c.TopologyPID, c.Engine, c.Keys = &n.view, router.VnodePID, n.topologyPID(), n.engine, n.keys
	c.Interval, c.Status, c.Metrics = interval, &n.handoff, handoff.NewMetrics(n.metrics.Registry)
	c.OnEvent = func(kind, subject string, p uint32, detail string) {
		n.events.Publish(events.Event{Kind: kind, Subject: subject, Partition: &p, Detail: detail})
	}
	c.OnRetired, c.Logger = n.onRetired, n.logger.With("component", "handoff")
	c.OnLeaving = func() {
		if agent := n.agent.Load(); agent != nil {
			if err := agent.SetLeaving(); err != nil {
				n.logger.Warn("announcing this node leaving", "err", err)
			}
		}
	}
	return handoff.Props(c)
}

// registerClusterMetrics adds the metrics computed at scrape time from the
// node's view (clusterCollector) and serf's and memberlist's own.
func (n *Node) registerClusterMetrics() {
	view := &clusterView{view: &n.view}
	members := func() []memberState {
		var out []memberState
		for _, m := range view.Members() {
			out = append(out, memberState{id: m.ID, status: m.Status})
		}
		return out
	}
	n.metrics.Registry.MustRegister(newClusterCollector(&n.view, members, n.cfg.Replication.N, n.engine))
	if sink := gossipMetrics(); sink != nil && !n.cfg.Standalone() {
		n.metrics.Registry.MustRegister(sink)
	}
}
