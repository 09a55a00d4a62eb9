package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
		{name: "post", cfg: Config{Events: testBus()}, method: http.MethodPost, target: "/admin/events", wantStatus: 405, wantCode: "method_not_allowed", wantMsg: "use GET, HEAD"},
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
			if tt.wantStatus == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want GET, HEAD", rec.Header().Get("Allow"))
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
