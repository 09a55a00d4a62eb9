package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
	"github.com/dhtkv/dht/events"
)

var eventTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testStream is a history of two events and three live ones around a loss.
func testStream(end bool) *clienttest.EventStream {
	return &clienttest.EventStream{
		Recent: []clienttest.Event{
			{Seq: 1, Time: eventTime, Node: "node-a", Kind: "member-join", Subject: "node-b"},
			{Seq: 2, Time: eventTime, Node: "node-a", Kind: "ring-change", Detail: "version 7"},
		},
		Live: []clienttest.Event{
			{Seq: 3, Time: eventTime, Node: "node-a", Kind: "handoff-start", Subject: "node-b", Partition: new(uint32(0))},
			{Kind: "dropped", Detail: "2"},
			{Seq: 6, Time: eventTime, Node: "node-a", Kind: "handoff-finish", Subject: "node-b", Partition: new(uint32(0)), Detail: "120 keys"},
		},
		End: end,
	}
}

// wantRecent and wantLive are testStream as the client must decode it.
var (
	wantRecent = []events.Event{
		{Seq: 1, Time: eventTime, Node: "node-a", Kind: events.MemberJoin, Subject: "node-b"},
		{Seq: 2, Time: eventTime, Node: "node-a", Kind: events.RingChange, Detail: "version 7"},
	}
	wantLive = []events.Event{
		{Seq: 3, Time: eventTime, Node: "node-a", Kind: events.HandoffStart, Subject: "node-b", Partition: new(uint32(0))},
		{Kind: events.StreamDropped, Detail: "2"},
		{Seq: 6, Time: eventTime, Node: "node-a", Kind: events.HandoffFinish, Subject: "node-b", Partition: new(uint32(0)), Detail: "120 keys"},
	}
)

// collect returns a callback that appends to *got.
func collect(got *[]events.Event) func(events.Event) error {
	return func(e events.Event) error {
		*got = append(*got, e)
		return nil
	}
}

func TestClient_Events(t *testing.T) {
	tests := []struct {
		name      string
		replay    bool
		wantQuery string
		want      []events.Event
	}{
		{name: "live only", wantQuery: "", want: wantLive},
		{name: "with replay", replay: true, wantQuery: "replay=1", want: append(append([]events.Event{}, wantRecent...), wantLive...)},
	}
	srv, c := fake(t, "")
	srv.SetEvents(testStream(true))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []events.Event
			err := c.Events(t.Context(), tt.replay, collect(&got))
			if !errors.Is(err, client.ErrEventsEnded) {
				t.Errorf("Events = %v, want ErrEventsEnded when the node ends the stream", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events\n%+v\nwant\n%+v", got, tt.want)
			}
			r := srv.LastRequest()
			if r.Method != http.MethodGet || r.EscapedPath != "/admin/events" || r.Query.Encode() != tt.wantQuery {
				t.Errorf("sent %s %s?%s, want GET /admin/events?%s", r.Method, r.EscapedPath, r.Query.Encode(), tt.wantQuery)
			}
		})
	}
}

func TestClient_RecentEvents(t *testing.T) {
	srv, c := fake(t, "")
	// A following stream would never end; RecentEvents must not follow.
	srv.SetEvents(testStream(false))
	got, err := c.RecentEvents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantRecent) {
		t.Errorf("RecentEvents =\n%+v\nwant\n%+v", got, wantRecent)
	}
	if q := srv.LastRequest().Query; q.Get("replay") != "1" || q.Get("follow") != "0" {
		t.Errorf("sent query %v, want replay=1 and follow=0", q)
	}

	srv.SetEvents(&clienttest.EventStream{})
	got, err = c.RecentEvents(t.Context())
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("RecentEvents without history = %#v, %v; want an empty slice", got, err)
	}
}

// TestClient_EventsStops checks the two ways a caller ends a stream that
// the node keeps open: its callback's error, and its context.
func TestClient_EventsStops(t *testing.T) {
	srv, c := fake(t, "")
	srv.SetEvents(testStream(false))

	stop := errors.New("seen enough")
	var got []events.Event
	err := c.Events(t.Context(), true, func(e events.Event) error {
		got = append(got, e)
		if len(got) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(got) != 3 {
		t.Errorf("Events = %v after %d events, want the callback's error after 3", err, len(got))
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got = nil
	err = c.Events(ctx, false, func(e events.Event) error {
		got = append(got, e)
		if e.Seq == 6 {
			cancel() // the last event the fake sends: the stream now idles
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || !reflect.DeepEqual(got, wantLive) {
		t.Errorf("Events = %v with %+v, want context.Canceled after the live events", err, got)
	}
}

func TestClient_EventsErrors(t *testing.T) {
	srv, c := fake(t, "")
	var e *client.Error
	if err := c.Events(t.Context(), false, collect(new([]events.Event))); !errors.As(err, &e) || e.Status != 503 || e.Code != "unavailable" {
		t.Errorf("Events without a bus = %v, want a 503 unavailable *client.Error", err)
	}
	if _, err := c.RecentEvents(t.Context()); !errors.As(err, &e) || e.Status != 503 {
		t.Errorf("RecentEvents without a bus = %v, want 503", err)
	}
	srv.SetEvents(testStream(true))
	if err := c.Events(t.Context(), false, nil); err == nil || !strings.Contains(err.Error(), "nil callback") {
		t.Errorf("Events with a nil callback = %v, want an error", err)
	}

	srv.SetAdminToken("admin-token")
	if err := c.Events(t.Context(), false, collect(new([]events.Event))); !errors.As(err, &e) || e.Status != 401 {
		t.Errorf("Events without the admin token = %v, want 401", err)
	}
	var got []events.Event
	withToken := newClient(t, srv.URL, client.WithAdminToken("admin-token"))
	if err := withToken.Events(t.Context(), false, collect(&got)); !errors.Is(err, client.ErrEventsEnded) || len(got) != len(wantLive) {
		t.Errorf("Events with the admin token = %v with %d events, want the live events", err, len(got))
	}
}

// TestClient_EventStreamDecoding feeds streams a fake would not send:
// framing variations the SSE specification allows, and broken streams.
func TestClient_EventStreamDecoding(t *testing.T) {
	const ev1 = `{"seq":1,"time":"2026-03-01T12:00:00Z","node":"a","kind":"member-join","subject":"b"}`
	want1 := events.Event{Seq: 1, Time: eventTime, Node: "a", Kind: events.MemberJoin, Subject: "b"}
	tests := []struct {
		name        string
		contentType string
		body        string
		want        []events.Event
		wantErr     string // substring; empty means ErrEventsEnded
	}{
		{name: "node's framing", body: "id: 1\nevent: member-join\ndata: " + ev1 + "\n\n", want: []events.Event{want1}},
		{name: "CRLF line ends", body: "id: 1\r\nevent: member-join\r\ndata: " + ev1 + "\r\n\r\n", want: []events.Event{want1}},
		{name: "no space after the colon", body: "id:1\nevent:member-join\ndata:" + ev1 + "\n\n", want: []events.Event{want1}},
		{name: "comments, unknown fields and retry are skipped", body: ": hello\nretry: 10\nfoo: bar\nnocolon\ndata: " + ev1 + "\n\n: keepalive\n\n", want: []events.Event{want1}},
		{name: "data split over lines", body: "data: {\"seq\":1,\"time\":\"2026-03-01T12:00:00Z\",\ndata: \"node\":\"a\",\"kind\":\"member-join\",\"subject\":\"b\"}\n\n", want: []events.Event{want1}},
		{name: "kind from the event field when the data lacks it", body: "event: ring-change\ndata: {\"seq\":4}\n\n", want: []events.Event{{Seq: 4, Kind: events.RingChange}}},
		{name: "unknown fields in the data", body: "data: {\"seq\":5,\"kind\":\"new-kind\",\"extra\":[1]}\n\n", want: []events.Event{{Seq: 5, Kind: "new-kind"}}},
		{name: "frame without data is no event", body: "event: member-join\n\n", want: nil},
		{name: "event cut off by the end is discarded", body: "data: " + ev1 + "\n\ndata: {\"seq\":2", want: []events.Event{want1}},
		{name: "dropped notice", body: "event: dropped\ndata: {\"dropped\":18446744073709551615}\n\n", want: []events.Event{{Kind: events.StreamDropped, Detail: "18446744073709551615"}}},
		{name: "empty stream", body: "", want: nil},
		{name: "malformed event", body: "data: {\"seq\":\n\n", wantErr: "client: events: malformed event"},
		{name: "malformed dropped notice", body: "event: dropped\ndata: {\"lost\":1}\n\n", wantErr: "client: events: malformed dropped notice"},
		{name: "line over the limit", body: "data: " + strings.Repeat("x", 1<<20) + "\n\n", wantErr: "client: events: reading the stream"},
		{name: "not an event stream", contentType: "text/html", body: "<html>", wantErr: `the answer is "text/html", not an event stream`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "text/event-stream"
			}
			c := canned(t, http.StatusOK, map[string]string{"Content-Type": ct}, tt.body)
			var got []events.Event
			err := c.Events(t.Context(), false, collect(&got))
			switch {
			case tt.wantErr == "" && !errors.Is(err, client.ErrEventsEnded):
				t.Fatalf("Events = %v, want ErrEventsEnded", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Events = %v, want an error containing %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// FuzzEventStream feeds arbitrary stream bodies to Events: it must return
// an error (ErrEventsEnded at a clean end) and never panic, and every dropped
// notice it delivers must carry a count.
func FuzzEventStream(f *testing.F) {
	f.Add([]byte("id: 1\nevent: member-join\ndata: {\"seq\":1,\"kind\":\"member-join\"}\n\n"))
	f.Add([]byte("event: dropped\ndata: {\"dropped\":3}\n\n: keepalive\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\n\r\n"))
	f.Add([]byte("data\n\nevent\n\n:\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{"Content-Type": {"text/event-stream"}}
			return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		c, err := client.New("http://fuzz", client.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Events(t.Context(), true, func(e events.Event) error {
			if e.Kind == events.StreamDropped && e.Detail == "" {
				t.Fatalf("dropped notice without a count: %+v", e)
			}
			return nil
		})
		if err == nil {
			t.Fatal("Events returned nil; it always ends with an error")
		}
	})
}
