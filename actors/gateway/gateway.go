package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/actors/events"
	"github.com/dhtkv/dht/actors/metrics"
	"github.com/dhtkv/dht/actors/resolve"
	"github.com/dhtkv/dht/internal/quorum"
)

// Config configures the gateway. Listener, Coordinator, Metrics and Logger
// are required.
type Config struct {
	Listener       net.Listener
	Limits         Limits
	Defaults       quorum.Params
	Partitions     int
	RequestTimeout time.Duration
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	// ClientToken, when set, is required as a bearer token on /v1/kv.
	ClientToken string
	// AdminToken, when set, is required as a bearer token on /admin.
	AdminToken string
	// Pprof serves net/http/pprof under /debug/pprof/, guarded by
	// AdminToken.
	Pprof bool
	// Cluster is what the admin API shows of the cluster.
	Cluster ClusterView
	// Admin carries out the admin API's ownership changes (join,
	// decommission, force-remove); nil answers them 503, as a nil Cluster
	// does the read-only endpoints.
	Admin ClusterAdmin
	// Events is the node's event hub, streamed by GET /admin/events; nil
	// answers it 503.
	Events *events.Bus
	// EventsKeepalive is how often an idle event stream sends a comment, so
	// that proxies and load balancers do not close it as idle; zero means
	// DefaultEventsKeepalive.
	EventsKeepalive time.Duration
	// Ready reports why the node cannot serve yet (nil when it can); /readyz
	// shows it.
	Ready       func() error
	Coordinator coordinator.Config
	// Resolver, when set, resolves the siblings of a read before the
	// reply (package resolve); nil serves every sibling.
	Resolver *resolve.Selector
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
}

// Gateway is the HTTP front door of a node. Its actor serves HTTP from the
// moment it starts; Shutdown drains open requests before the actor stops.
type Gateway struct {
	cfg  Config
	pid  *actor.PID
	root *actor.RootContext
	srv  *http.Server
	done chan struct{}
	once sync.Once

	// stopping is closed when Shutdown begins. Long-lived handlers (event
	// streams) return on it: http.Server.Shutdown waits for every active
	// handler, and a stream would otherwise never end.
	stopping     chan struct{}
	stoppingOnce sync.Once
	// eventsBuffer is how many events an event stream buffers while its
	// client is slow; a variable so that tests can provoke drops.
	eventsBuffer int
	// conns follows connections that have not begun a request, which
	// Shutdown closes (conns.go).
	conns *connTracker
}

// New returns a gateway for cfg. Spawn its actor with Props.
func New(cfg Config) *Gateway {
	if cfg.EventsKeepalive <= 0 {
		cfg.EventsKeepalive = DefaultEventsKeepalive
	}
	g := &Gateway{cfg: cfg, done: make(chan struct{}), stopping: make(chan struct{}), eventsBuffer: eventsBuffer, conns: newConnTracker()}
	g.srv = &http.Server{
		ConnState:         g.conns.track,
		Handler:           g.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	g.srv.RegisterOnShutdown(g.stopStreams)
	return g
}

// stopStreams ends the open event streams; it may be called more than once.
func (g *Gateway) stopStreams() {
	g.stoppingOnce.Do(func() { close(g.stopping) })
}

// Props returns the props of the gateway actor.
func (g *Gateway) Props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &gatewayActor{g: g} })
}

// Shutdown stops accepting connections and waits, until ctx ends, for open
// requests to finish. The actor keeps spawning coordinators meanwhile, so
// requests in flight complete normally. Open event streams end at once:
// they would never finish by themselves, and connections that never began
// a request are closed after a grace period (conns.go).
func (g *Gateway) Shutdown(ctx context.Context) error {
	stop := make(chan struct{})
	var closer sync.WaitGroup
	closer.Go(func() { g.closeUnusedUntil(stop) })
	err := g.srv.Shutdown(ctx)
	close(stop)
	closer.Wait()
	select {
	case <-g.done:
	case <-ctx.Done():
	}
	return err
}

// Handler returns the HTTP handler, for tests that drive it without a
// listener.
func (g *Gateway) Handler() http.Handler { return g.srv.Handler }

// spawnRequest asks the gateway actor to start a coordinator for req.
type spawnRequest struct{ req coordinator.Request }

type gatewayActor struct{ g *Gateway }

func (a *gatewayActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.g.once.Do(func() {
			a.g.pid, a.g.root = ctx.Self(), ctx.ActorSystem().Root
			go a.serve()
		})
	case *spawnRequest:
		ctx.Spawn(coordinator.Props(a.g.cfg.Coordinator, msg.req, ctx.Sender()))
	}
}

func (a *gatewayActor) serve() {
	defer close(a.g.done)
	a.g.cfg.Logger.Info("http gateway listening", "addr", a.g.cfg.Listener.Addr().String())
	if err := a.g.srv.Serve(a.g.cfg.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.g.cfg.Logger.Error("http gateway stopped", "err", err)
	}
}

// coordinate runs req through a coordinator and waits for its answer. The
// future outlives the request deadline slightly so that the coordinator's
// own timeout answer, which says what happened, normally wins the race.
func (g *Gateway) coordinate(req coordinator.Request) (*coordinator.Reply, error) {
	if g.root == nil {
		return nil, errors.New("gateway: not started")
	}
	wait := time.Until(req.Deadline) + time.Second
	res, err := g.root.RequestFuture(g.pid, &spawnRequest{req: req}, wait).Result()
	if err != nil {
		if req.Op == coordinator.OpGet {
			return nil, quorum.ErrTimeout
		}
		return nil, quorum.ErrIndeterminate
	}
	reply, ok := res.(*coordinator.Reply)
	if !ok {
		return nil, errors.New("gateway: unexpected coordinator answer")
	}
	return reply, nil
}
