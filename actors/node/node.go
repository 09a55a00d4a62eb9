package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/metrics"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/persistence"
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
	ready   atomic.Bool
}

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
	n = &Node{cfg: cfg, logger: logger, metrics: metrics.New()}
	defer func() {
		if err != nil {
			n.closeAll()
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
	minter, fresh, err := vnode.OpenMinter(n.engine, time.Now())
	if err != nil {
		return nil, err
	}
	logger.Info("storage open", "engine", cfg.Storage.Engine, "dir", cfg.Node.DataDir,
		"sync_writes", cfg.Storage.SyncWrites, "replica_actor", fmt.Sprintf("%x", uint64(minter.Actor())), "new_epoch", fresh)

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
	router := &localRouter{node: cfg.Node.ID, address: n.system.Address()}
	coordCfg := coordinator.Config{Router: router, Metrics: n.metrics, Logger: logger.With("component", "coordinator")}
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
		Ready:          n.readiness,
		Coordinator:    coordCfg,
		Metrics:        n.metrics,
		Logger:         logger.With("component", "gateway"),
	})

	started := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor {
		return &nodeActor{
			partitions: cfg.Ring.Partitions,
			vnodeProps: func(p uint32) *actor.Props {
				return vnode.Props(vnode.Config{Partition: p, Engine: n.engine, Minter: minter, Metrics: n.metrics, Logger: logger.With("component", "vnode")})
			},
			gatewayProps: n.gw.Props().Configure(actor.WithSupervisor(logAndDecide(logger, "coordinator", actor.StopDirective))),
			started:      started,
		}
	}, actor.WithSupervisor(logAndDecide(logger, "vnode or gateway", actor.RestartDirective)))
	if n.pid, err = n.system.Root.SpawnNamed(props, nodeActorName); err != nil {
		return nil, fmt.Errorf("node: spawn node actor: %w", err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		return nil, errors.New("node: actors did not start within 30s")
	}
	n.ready.Store(true)
	logger.Info("node started", "http", n.httpLn.Addr().String(), "partitions", cfg.Ring.Partitions)
	return n, nil
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

// closeAll stops whatever Start got running.
func (n *Node) closeAll() error {
	if n.system != nil {
		if n.pid != nil {
			// StopFuture returns once the node actor and all its children
			// have stopped, so no vnode is mid-write when storage closes.
			_ = n.system.Root.StopFuture(n.pid).Wait()
		}
		n.system.Shutdown()
	}
	if n.httpLn != nil {
		_ = n.httpLn.Close()
	}
	if n.engine != nil {
		if err := n.engine.Close(); err != nil {
			return fmt.Errorf("node: close storage: %w", err)
		}
	}
	return nil
}

func (n *Node) readiness() error {
	if !n.ready.Load() {
		return errors.New("starting or stopping")
	}
	return nil
}

// nodeActor supervises the vnodes and the gateway.
type nodeActor struct {
	partitions   int
	vnodeProps   func(p uint32) *actor.Props
	gatewayProps *actor.Props
	started      chan struct{}
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
	if _, err := ctx.SpawnNamed(a.gatewayProps, "gateway"); err != nil {
		ctx.Logger().Error("spawn gateway", "err", err)
	}
	close(a.started)
}

// localRouter routes every partition to this node alone: a single-node
// cluster, where the preference list holds one replica.
type localRouter struct {
	node    string
	address string
}

func (r *localRouter) LocalNode() string { return r.node }

func (r *localRouter) Targets(uint32) []quorum.Target {
	return []quorum.Target{{Node: r.node, Primary: true}}
}

func (r *localRouter) VnodePID(_ string, p uint32) *actor.PID {
	return actor.NewPID(r.address, nodeActorName+"/"+vnode.Name(p))
}

// logAndDecide returns a supervisor strategy that logs a child's failure at
// error level — protoactor itself reports it only at info — and then applies
// directive: vnodes and the gateway restart (they keep no state between
// messages), a failed coordinator stops and its client sees a timeout.
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
