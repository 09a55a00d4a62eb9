package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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

// streamBound bounds every wait of these tests, so that a stream that never
// delivers fails the test instead of hanging it. It is never what a test
// asserts on.
const streamBound = 10 * time.Second

// epoch is the bus clock of these tests.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testBus() *events.Bus {
	return events.New("node-a", 16, events.WithClock(func() time.Time { return epoch }))
}

// stream is an open event stream as a client reads it.
type stream struct {
	resp *http.Response
	r    *bufio.Reader
}

// openStream GETs target from base and returns the stream, failing the test
// unless it answers 200 as an event stream. The request ends with the test,
// or after streamBound.
func openStream(t *testing.T, base, target, auth string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), streamBound)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s, want 200", target, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	return &stream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// frame reads the next frame: the lines up to a blank line, joined with
// "\n". It returns io.EOF when the server ended the stream between frames.
func (s *stream) frame() (string, error) {
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && len(lines) == 0 && line == "" {
				return "", io.EOF
			}
			return "", errors.Join(errors.New("stream broke inside a frame: "+strings.Join(append(lines, line), "|")), err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, line)
	}
}

// nextFrame is frame, failing the test on any error.
func (s *stream) nextFrame(t *testing.T) string {
	t.Helper()
	f, err := s.frame()
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return f
}

// wantEnd fails the test unless the server ends the stream now.
func (s *stream) wantEnd(t *testing.T) {
	t.Helper()
	if f, err := s.frame(); err != io.EOF {
		t.Fatalf("stream went on with %q, %v; want it ended", f, err)
	}
}

// eventsServer serves the admin routes of a gateway built from cfg.
func eventsServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(adminMux(cfg))
	t.Cleanup(srv.Close)
	return srv
}

func TestEvents_Live(t *testing.T) {
	t.Parallel()
	bus := testBus()
	bus.Publish(events.Event{Kind: events.MemberJoin, Subject: "node-old"}) // before the stream: not replayed
	srv := eventsServer(t, Config{Events: bus})
	s := openStream(t, srv.URL, "/admin/events", "")
	if got := s.resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}

	// The answer's header came after the subscription, so these are seen.
	bus.Publish(events.Event{Kind: events.MemberFail, Subject: "node-c", Detail: "suspect for 5s"})
	bus.Publish(events.Event{Kind: events.HandoffStart, Subject: "node-b", Partition: new(uint32(0))})
	want := []string{
		"id: 2\nevent: member-fail\n" +
			`data: {"seq":2,"time":"2026-03-01T12:00:00Z","node":"node-a","kind":"member-fail","subject":"node-c","detail":"suspect for 5s"}`,
		"id: 3\nevent: handoff-start\n" +
			`data: {"seq":3,"time":"2026-03-01T12:00:00Z","node":"node-a","kind":"handoff-start","subject":"node-b","partition":0}`,
	}
	for i, w := range want {
		if got := s.nextFrame(t); got != w {
			t.Errorf("frame %d\n got %s\nwant %s", i, got, w)
		}
	}
}

func TestEvents_Replay(t *testing.T) {
	t.Parallel()
	bus := testBus()
	for _, subject := range []string{"node-a", "node-b", "node-c"} {
		bus.Publish(events.Event{Kind: events.MemberJoin, Subject: subject})
	}
	srv := eventsServer(t, Config{Events: bus})

	t.Run("then follow", func(t *testing.T) {
		s := openStream(t, srv.URL, "/admin/events?replay=1", "")
		for _, want := range []string{"id: 1\n", "id: 2\n", "id: 3\n"} {
			if got := s.nextFrame(t); !strings.HasPrefix(got, want) {
				t.Fatalf("replayed frame %q, want it to start %q", got, want)
			}
		}
		bus.Publish(events.Event{Kind: events.RingChange})
		// Exactly the live event follows: nothing replayed comes twice.
		if got := s.nextFrame(t); !strings.HasPrefix(got, "id: 4\nevent: ring-change\n") {
			t.Fatalf("frame after the replay = %q, want the live event 4", got)
		}
	})
	t.Run("only", func(t *testing.T) {
		s := openStream(t, srv.URL, "/admin/events?replay=true&follow=0", "")
		var ids []string
		for {
			f, err := s.frame()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, strings.SplitN(f, "\n", 2)[0])
		}
		// The history holds the three joins and, depending on whether the
		// subtest above ran first, its ring change.
		if len(ids) < 3 || ids[0] != "id: 1" || ids[1] != "id: 2" || ids[2] != "id: 3" {
			t.Fatalf("replay-only stream sent %q, want the history from id 1 and then its end", ids)
		}
	})
}

func TestEvents_Keepalive(t *testing.T) {
	t.Parallel()
	srv := eventsServer(t, Config{Events: testBus(), EventsKeepalive: time.Millisecond})
	s := openStream(t, srv.URL, "/admin/events", "")
	if got := s.nextFrame(t); got != ": keepalive" {
		t.Fatalf("idle stream sent %q, want a keepalive comment", got)
	}
}

// TestEvents_DroppedNotice drives the follow loop with a subscription that
// overflowed before the client read anything: the client gets what was
// buffered, then how many events it lost, then the end of the stream once
// the subscription closes.
func TestEvents_DroppedNotice(t *testing.T) {
	t.Parallel()
	bus := testBus()
	g := newGatewayFor(Config{Events: bus})
	sub := bus.Subscribe(2)
	for range 5 {
		bus.Publish(events.Event{Kind: events.AERepair, Partition: new(uint32(9))})
	}
	sub.Close()

	rec := httptest.NewRecorder()
	g.follow(httptest.NewRequest(http.MethodGet, "/admin/events", nil), &sseWriter{rc: http.NewResponseController(rec), w: rec}, sub)
	const want = "id: 1\nevent: ae-repair\n" +
		`data: {"seq":1,"time":"2026-03-01T12:00:00Z","node":"node-a","kind":"ae-repair","partition":9}` + "\n\n" +
		"id: 2\nevent: ae-repair\n" +
		`data: {"seq":2,"time":"2026-03-01T12:00:00Z","node":"node-a","kind":"ae-repair","partition":9}` + "\n\n" +
		"event: dropped\ndata: {\"dropped\":3}\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("stream\n got %q\nwant %q", got, want)
	}
}

// TestEvents_EveryEventDeliveredOrReported streams a burst through a
// buffer of one, so that most of it is normally lost while the handler
// writes. Whatever the timing, the events the client receives plus those it
// is told it lost must account for the whole burst: no loss goes
// unreported. (TestEvents_DroppedNotice pins the exact frames.)
func TestEvents_EveryEventDeliveredOrReported(t *testing.T) {
	t.Parallel()
	bus := testBus()
	g := newGatewayFor(Config{Events: bus})
	g.eventsBuffer = 1
	mux := http.NewServeMux()
	g.adminRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := openStream(t, srv.URL, "/admin/events", "")

	const burst = 200
	for range burst {
		bus.Publish(events.Event{Kind: events.RingChange})
	}
	delivered, lost := 0, 0
	for delivered+lost < burst {
		f := s.nextFrame(t)
		switch {
		case strings.HasPrefix(f, "event: dropped\ndata: {\"dropped\":"):
			var n int
			if _, err := fmt.Sscanf(f, "event: dropped\ndata: {\"dropped\":%d}", &n); err != nil || n <= 0 {
				t.Fatalf("malformed dropped notice %q", f)
			}
			lost += n
		case strings.Contains(f, "event: ring-change\n"):
			delivered++
		default:
			t.Fatalf("unexpected frame %q", f)
		}
	}
	if delivered+lost != burst {
		t.Fatalf("received %d and was told of %d lost, want %d in all", delivered, lost, burst)
	}
}

// TestLossReport feeds the Seq numbers a subscription delivered and the
// readings of its Dropped counter, in the interleavings the follow loop can
// see, and checks where and how many losses are reported.
func TestLossReport(t *testing.T) {
	t.Parallel()
	type step struct {
		seq     uint64 // an event received; 0 for a settle with dropped
		dropped uint64
		want    uint64 // the notice's count, 0 for none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "no losses", steps: []step{{seq: 4}, {seq: 5}, {dropped: 0}, {seq: 6}}},
		{name: "gap between events", steps: []step{{seq: 1}, {seq: 4, want: 2}, {dropped: 2}, {seq: 5}}},
		{name: "first event has no gap", steps: []step{{seq: 7}, {dropped: 0}}},
		{name: "trailing loss settled, then its gap is not reported again", steps: []step{
			{seq: 1}, {seq: 2}, {dropped: 3, want: 3}, {seq: 6}, {dropped: 3},
		}},
		{name: "settle races a buffered event: credit carries over", steps: []step{
			// 3 was buffered after the dry check, then 4 dropped; settle
			// reports 4 before the event 3 arrives.
			{seq: 2}, {dropped: 1, want: 1}, {seq: 3}, {seq: 5}, {dropped: 1},
		}},
		{name: "settle reports part, the gap the rest", steps: []step{
			{seq: 1}, {dropped: 2, want: 2}, {seq: 7, want: 3}, {dropped: 5},
		}},
		{name: "a stale counter reading reports nothing twice", steps: []step{{seq: 1}, {seq: 5, want: 3}, {dropped: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lossReport
			for i, st := range tt.steps {
				var got uint64
				if st.seq != 0 {
					got = l.before(st.seq)
				} else {
					got = l.settle(st.dropped)
				}
				if got != st.want {
					t.Fatalf("step %d %+v reported %d, want %d", i, st, got, st.want)
				}
			}
		})
	}
}

func TestEvents_BadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        Config
		method     string
		target     string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{name: "no bus", method: http.MethodGet, target: "/admin/events", wantStatus: 503, wantCode: "unavailable", wantMsg: "event stream not available"},
		{name: "post", cfg: Config{Events: testBus()}, method: http.MethodPost, target: "/admin/events", wantStatus: 405, wantCode: "method_not_allowed", wantMsg: "read with GET"},
		{name: "unknown parameter", cfg: Config{Events: testBus()}, method: http.MethodGet, target: "/admin/events?kind=x", wantStatus: 400, wantCode: "bad_parameter", wantMsg: `unknown query parameter "kind"`},
		{name: "replay not a boolean", cfg: Config{Events: testBus()}, method: http.MethodGet, target: "/admin/events?replay=yes", wantStatus: 400, wantCode: "bad_parameter", wantMsg: `replay="yes" is not a boolean`},
		{name: "replay twice", cfg: Config{Events: testBus()}, method: http.MethodGet, target: "/admin/events?replay=1&replay=0", wantStatus: 400, wantCode: "bad_parameter", wantMsg: "replay given 2 times"},
		{name: "nothing to send", cfg: Config{Events: testBus()}, method: http.MethodGet, target: "/admin/events?follow=0", wantStatus: 400, wantCode: "bad_parameter", wantMsg: "follow=0 without replay=1"},
		{name: "malformed query", cfg: Config{Events: testBus()}, method: http.MethodGet, target: "/admin/events?replay=%zz", wantStatus: 400, wantCode: "bad_parameter", wantMsg: "query string"},
		{name: "no token", cfg: Config{Events: testBus(), AdminToken: "t"}, method: http.MethodGet, target: "/admin/events", wantStatus: 401, wantCode: "unauthorized", wantMsg: "bearer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(adminMux(tt.cfg), tt.method, tt.target, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s = %d %q, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.wantStatus)
			}
			if code := errorCode(t, rec); code != tt.wantCode {
				t.Errorf("code = %q, want %q", code, tt.wantCode)
			}
			if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q does not say %q", msg, tt.wantMsg)
			}
			if tt.wantStatus == 405 && rec.Header().Get("Allow") != "GET" {
				t.Errorf("Allow = %q, want GET", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestEvents_Token(t *testing.T) {
	t.Parallel()
	bus := testBus()
	srv := eventsServer(t, Config{Events: bus, AdminToken: "admin-s3cret"})
	s := openStream(t, srv.URL, "/admin/events", "Bearer admin-s3cret")
	bus.Publish(events.Event{Kind: events.ClusterEvent, Detail: "decommission node-b"})
	if got := s.nextFrame(t); !strings.Contains(got, "event: cluster-event\n") {
		t.Fatalf("frame = %q, want the cluster event", got)
	}
}

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
