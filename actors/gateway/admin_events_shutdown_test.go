package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/events"
)

// TestEvents_ClientGoesAway checks that the handler returns, and so closes
// its subscription, when the client hangs up.
func TestEvents_ClientGoesAway(t *testing.T) {
	t.Parallel()
	bus := testBus()
	mux := adminMux(Config{Events: bus})
	returned := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s := openStream(t, srv.URL, "/admin/events", "")
	_ = s.resp.Body.Close()
	select {
	case <-returned:
	case <-time.After(streamBound):
		t.Fatal("the handler still runs after its client hung up")
	}
}

// startGateway serves a gateway built from cfg on a loopback listener, as a
// node does: through its actor.
func startGateway(t *testing.T, cfg Config) (*Gateway, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	g := newGatewayFor(cfg)
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	system.Root.Spawn(g.Props())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), streamBound)
		defer cancel()
		_ = g.Shutdown(ctx)
		system.Shutdown()
	})
	return g, "http://" + ln.Addr().String()
}

// TestEvents_ShutdownEndsStreams checks that an open stream does not hold
// Shutdown until its deadline: the stream ends and Shutdown returns nil.
func TestEvents_ShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	g, base := startGateway(t, Config{Events: testBus()})
	s := openStream(t, base, "/admin/events", "")

	ctx, cancel := context.WithTimeout(t.Context(), streamBound)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open event stream = %v, want nil", err)
	}
	s.wantEnd(t)
}

// TestEvents_OutlivesServerTimeouts checks that the server's write timeout,
// which bounds ordinary answers, does not cut a stream: with a timeout of
// a nanosecond, every write would fail unless the stream lifted it.
func TestEvents_OutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	bus := testBus()
	_, base := startGateway(t, Config{Events: bus, WriteTimeout: time.Nanosecond, ReadTimeout: time.Hour})
	s := openStream(t, base, "/admin/events", "")
	bus.Publish(events.Event{Kind: events.MemberReap, Subject: "node-d"})
	if got := s.nextFrame(t); !strings.HasPrefix(got, "id: 1\nevent: member-reap\n") {
		t.Fatalf("frame = %q, want the member-reap event", got)
	}
}
