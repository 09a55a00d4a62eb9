package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dhtkv/dht/events"
)

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
	mux := newRouter(g.unroutedGuard)
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
