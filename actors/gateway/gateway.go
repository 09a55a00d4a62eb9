package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/wire"
)

// Gateway is the HTTP front door of a node. Its actor serves HTTP from the
// moment it starts; Shutdown drains open requests before the actor stops.
type Gateway struct {
	cfg  Config
	root *actor.RootContext
	// coordinators are the gateway actor's children that run the client
	// requests, spawned anew whenever the actor (re)starts; next picks
	// one in turn.
	coordinators atomic.Pointer[[]*actor.PID]
	next         atomic.Uint64
	srv          *http.Server
	// metricsSrv serves cfg.MetricsListener; nil without one.
	metricsSrv *http.Server
	// listener is what srv serves: cfg.Listener, under the connection
	// bound when there is one, its connections wrapped over plain HTTP so
	// that net/http's own error answers are JSON (servererrors.go).
	listener net.Listener
	// metricsListener is what metricsSrv serves: cfg.MetricsListener,
	// wrapped as listener is.
	metricsListener net.Listener
	// limit is the connection bound on cfg.Listener; nil without one.
	limit *limitListener
	// contexts issues and checks the causal-context tokens.
	contexts wire.ContextCodec
	// done is closed when every server has stopped serving.
	done chan struct{}

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
	g := &Gateway{cfg: cfg, done: make(chan struct{}), stopping: make(chan struct{}), eventsBuffer: eventsBuffer, conns: newConnTracker(),
		listener: cfg.Listener,
		contexts: wire.ContextCodec{Secret: cfg.ContextSecret, Previous: cfg.PreviousContextSecret}}
	if cfg.MaxConnections > 0 && cfg.Listener != nil {
		g.limit = newLimitListener(cfg.Listener, cfg.MaxConnections)
		g.listener = g.limit
	}
	if cfg.TLSConfig == nil && g.listener != nil {
		// net/http's own error answers become JSON (servererrors.go);
		// over TLS they cannot be reached.
		g.listener = &jsonErrorsListener{Listener: g.listener, limits: cfg.Limits}
	}
	g.metricsListener = cfg.MetricsListener
	if g.metricsListener != nil {
		g.metricsListener = &jsonErrorsListener{Listener: g.metricsListener, limits: cfg.Limits}
	}
	g.srv = g.newServer(g.routes())
	g.srv.TLSConfig = cfg.TLSConfig
	g.srv.RegisterOnShutdown(g.stopStreams)
	if cfg.MetricsListener != nil {
		g.metricsSrv = g.newServer(g.metricsRoutes())
	}
	return g
}

// newServer returns an HTTP server of h with the configured bounds. Both
// servers share the connection tracker, so that Shutdown closes the unused
// connections of either.
func (g *Gateway) newServer(h http.Handler) *http.Server {
	return &http.Server{
		ConnState: func(c net.Conn, s http.ConnState) {
			g.conns.track(c, s)
			if jc, ok := c.(*jsonErrorsConn); ok {
				jc.connState(s)
			}
		},
		ConnContext:       connContext,
		Handler:           markServing(h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       g.cfg.ReadTimeout,
		WriteTimeout:      g.cfg.WriteTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		MaxHeaderBytes:    g.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.cfg.Logger.Handler(), slog.LevelWarn),
	}
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
	// The metrics listener stops last, so that the drain can be watched.
	if g.metricsSrv != nil {
		err = errors.Join(err, g.metricsSrv.Shutdown(ctx))
	}
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

// coordinatorsPerCPU is how many coordinators the gateway runs per CPU.
// A coordinator's work per message is small (a quorum step, a merge), so a
// few per CPU keep every core busy without one becoming a queue.
const coordinatorsPerCPU = 4

type gatewayActor struct {
	g *Gateway
	// closing is set once the actor stops or restarts: its coordinators
	// then stop with it and are not replaced.
	closing bool
}

// Receive spawns the coordinators when the actor starts (again, after a
// restart, which stops its children) and starts serving HTTP the first
// time. A coordinator that terminates while the actor runs (its
// supervisor gave up on it after repeated failures) is replaced, so that no
// request is sent to a stopped one.
func (a *gatewayActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		// The root context is set before the coordinators are published:
		// whoever sees them sees it too.
		first := a.g.coordinators.Load() == nil
		if first {
			a.g.root = ctx.ActorSystem().Root
		}
		pids := make([]*actor.PID, coordinatorsPerCPU*runtime.GOMAXPROCS(0))
		for i := range pids {
			pids[i] = ctx.Spawn(coordinator.Props(a.g.cfg.Coordinator))
		}
		a.g.coordinators.Store(&pids)
		if first {
			go a.serve()
		}
	case *actor.Stopping, *actor.Restarting:
		a.closing = true
	case *actor.Terminated:
		if a.closing {
			return
		}
		old := *a.g.coordinators.Load()
		if i := slices.IndexFunc(old, msg.Who.Equal); i >= 0 {
			pids := slices.Clone(old)
			pids[i] = ctx.Spawn(coordinator.Props(a.g.cfg.Coordinator))
			a.g.coordinators.Store(&pids)
			a.g.cfg.Logger.Warn("a coordinator stopped; replaced", "pid", msg.Who.String())
		}
	}
}

// serve runs the servers until Shutdown; done is closed when both have
// returned.
func (a *gatewayActor) serve() {
	g := a.g
	defer close(g.done)
	var metrics sync.WaitGroup
	if g.metricsSrv != nil {
		metrics.Go(func() {
			g.cfg.Logger.Info("metrics listening", "addr", g.cfg.MetricsListener.Addr().String())
			if err := g.metricsSrv.Serve(g.metricsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.cfg.Logger.Error("metrics listener stopped", "err", err)
			}
		})
	}
	defer metrics.Wait()
	var err error
	if g.cfg.TLSConfig != nil {
		g.cfg.Logger.Info("https gateway listening", "addr", g.listener.Addr().String(), "max_connections", g.cfg.MaxConnections)
		// Empty file names: the certificate comes from TLSConfig. ServeTLS
		// rather than tls.NewListener, so that HTTP/2 is offered too.
		err = g.srv.ServeTLS(g.listener, "", "")
	} else {
		g.cfg.Logger.Info("http gateway listening", "addr", g.listener.Addr().String(), "max_connections", g.cfg.MaxConnections)
		err = g.srv.Serve(g.listener)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		g.cfg.Logger.Error("http gateway stopped", "err", err)
	}
}

// coordinate runs req on the next coordinator and waits for its answer,
// on a channel of its own rather than a future: nothing is spawned or
// registered per request. The wait outlives the request deadline slightly
// so that the coordinator's own timeout answer, which says what happened,
// normally wins the race.
func (g *Gateway) coordinate(req coordinator.Request) (*coordinator.Reply, error) {
	pids := g.coordinators.Load()
	if pids == nil {
		return nil, errors.New("gateway: not started")
	}
	done := make(chan *coordinator.Reply, 1)
	g.root.Send((*pids)[g.next.Add(1)%uint64(len(*pids))], &coordinator.Start{Request: req, Done: done})
	wait := time.NewTimer(time.Until(req.Deadline) + time.Second)
	defer wait.Stop()
	select {
	case reply := <-done:
		return reply, nil
	case <-wait.C:
		return nil, req.Unanswered()
	}
}
