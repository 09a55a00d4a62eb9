package hintq

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testConfig() Config {
	return Config{MaxHints: 2, MaxBytes: 100, BatchSize: 2, Interval: time.Second}
}

// offerAndStore offers a hint and reports it persisted, failing the test
// unless the machine asks to persist it.
func offerAndStore(t *testing.T, q *Queue, target string, size int64) Ref {
	t.Helper()
	eff := q.Offer(Offer{Target: target, Key: []byte("k"), Size: size})
	if eff.Persist == nil {
		t.Fatalf("offer of %d bytes for %s: %+v, want a persist", size, target, eff)
	}
	q.Persisted(*eff.Persist, nil)
	return *eff.Persist
}

func TestQueue_Offer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []int64 // sizes of hints already kept, for target a
		offer  Offer
		// want is "persist", or a substring of the refusal reason.
		want  string
		count Result
	}{
		{"accepted", nil, Offer{Target: "a", Key: []byte("k"), Size: 10}, "persist", ""},
		{"no target", nil, Offer{Key: []byte("k"), Size: 10}, "without target or key", ""},
		{"no key", nil, Offer{Target: "a", Size: 10}, "without target or key", ""},
		{"last hint that fits the count", []int64{10}, Offer{Target: "b", Key: []byte("k"), Size: 10}, "persist", ""},
		{"one hint past the count", []int64{10, 10}, Offer{Target: "b", Key: []byte("k"), Size: 1}, "handoff.max_hints=2", ResultRefusedFull},
		{"exactly the bytes", []int64{60}, Offer{Target: "a", Key: []byte("k"), Size: 40}, "persist", ""},
		{"one byte past", []int64{60}, Offer{Target: "a", Key: []byte("k"), Size: 41}, "handoff.max_hint_bytes=100", ResultRefusedFull},
		{"alone past the bytes", nil, Offer{Target: "a", Key: []byte("k"), Size: 101}, "(0 hints, 0 bytes;", ResultRefusedFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New(testConfig())
			for _, size := range tc.before {
				offerAndStore(t, q, "a", size)
			}
			eff := q.Offer(tc.offer)
			switch {
			case tc.want == "persist":
				if eff.Persist == nil || eff.Reply != nil || eff.Persist.Size != tc.offer.Size || eff.Persist.Target != tc.offer.Target {
					t.Fatalf("effects %+v, want only a persist of the hint", eff)
				}
			case eff.Persist != nil || eff.Reply == nil || eff.Reply.Stored || !strings.Contains(eff.Reply.Reason, tc.want):
				t.Fatalf("effects %+v, want a refusal naming %q", eff, tc.want)
			}
			if eff.Count != tc.count {
				t.Errorf("counted %q, want %q", eff.Count, tc.count)
			}
		})
	}
}

func TestQueue_Persisted(t *testing.T) {
	q := New(testConfig())
	eff := q.Offer(Offer{Target: "a", Key: []byte("k"), Size: 10})
	failed := q.Persisted(*eff.Persist, errors.New("disk on fire"))
	if failed.Reply == nil || failed.Reply.Stored || failed.Reply.Reason != "disk on fire" || failed.Count != ResultRefusedStorage || len(failed.Gauges) != 0 {
		t.Fatalf("a failed persist: %+v, want refused with the storage error, counted refused_storage", failed)
	}
	if n, b := q.Totals(); n != 0 || b != 0 {
		t.Fatalf("after a failed persist the queue holds %d hints, %d bytes", n, b)
	}
	ref := offerAndStore(t, q, "a", 10)
	if ref.Seq != 1 {
		t.Errorf("the hint after a failed persist got #%d, want #1 (nothing was stored under it)", ref.Seq)
	}
	if ref := offerAndStore(t, q, "a", 10); ref.Seq != 2 {
		t.Errorf("the next hint got #%d, want #2", ref.Seq)
	}
	if n, b := q.Totals(); n != 2 || b != 20 || q.Pending("a") != 2 {
		t.Errorf("the queue holds %d hints (%d for a), %d bytes; want 2, 2, 20", n, q.Pending("a"), b)
	}
}

func TestQueue_Load(t *testing.T) {
	q := New(testConfig())
	q.Load(Ref{Target: "b", Seq: 9, Size: 5})
	q.Load(Ref{Target: "a", Seq: 3, Size: 7})
	q.Load(Ref{Target: "b", Seq: 4, Size: 5})
	eff := q.Loaded()
	want := []Gauge{{"a", 1, 17}, {"b", 2, 17}}
	if len(eff.Gauges) != len(want) || eff.Gauges[0] != want[0] || eff.Gauges[1] != want[1] {
		t.Fatalf("gauges after loading: %+v, want %+v", eff.Gauges, want)
	}
	// Loaded hints count toward the bounds, and new ones follow them.
	if eff := q.Offer(Offer{Target: "c", Key: []byte("k"), Size: 1}); eff.Count != ResultRefusedFull {
		t.Errorf("a 4th hint into a queue of max 2 holding 3 loaded: %+v, want refused", eff)
	}
	q2 := New(Config{MaxHints: 10, MaxBytes: 100, BatchSize: 1, Interval: time.Second})
	q2.Load(Ref{Target: "b", Seq: 9, Size: 5})
	if ref := offerAndStore(t, q2, "b", 1); ref.Seq != 10 {
		t.Errorf("a hint after loaded #9 got #%d, want #10", ref.Seq)
	}
}

func TestQueue_Tick(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		reach Reach
		// sentAgo, when set, puts a batch in flight that long ago.
		sentAgo time.Duration
		want    bool
	}{
		{"down", Reach{}, 0, false},
		{"alive", Reach{Alive: true}, 0, true},
		{"removed, not alive", Reach{Removed: true}, 0, true},
		{"batch in flight", Reach{Alive: true}, 4 * time.Second, false},
		{"batch just short of lost", Reach{Alive: true}, 5*time.Second - time.Nanosecond, false},
		{"batch lost", Reach{Alive: true}, 5 * time.Second, true},
		{"batch sent in the future", Reach{Alive: true}, -time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New(testConfig())
			ref := offerAndStore(t, q, "a", 10)
			if tc.sentAgo != 0 {
				for _, r := range q.Tick(now.Add(-tc.sentAgo), map[string]Reach{"a": {Alive: true}}) {
					q.Consider(r, Hint{Ref: ref, Readable: true}, "")
					q.Scanned(r, true)
				}
			}
			rounds := q.Tick(now, map[string]Reach{"a": tc.reach})
			if got := len(rounds) == 1; got != tc.want {
				t.Fatalf("rounds %+v, want a round: %v", rounds, tc.want)
			}
			if tc.want && rounds[0].Redirect != tc.reach.Removed {
				t.Errorf("round redirect=%v, want %v", rounds[0].Redirect, tc.reach.Removed)
			}
			if tc.sentAgo >= 5*time.Second && q.InFlight() != 0 {
				t.Errorf("a lost batch left %d deliveries awaited", q.InFlight())
			}
		})
	}
}

func TestQueue_Consider(t *testing.T) {
	q := New(Config{MaxHints: 10, MaxBytes: 100, BatchSize: 0, Interval: time.Second})
	ref := offerAndStore(t, q, "a", 10)
	r := q.Tick(time.Unix(0, 0), map[string]Reach{"a": {Removed: true}})[0]
	if eff, more := q.Consider(r, Hint{Ref: ref, Partition: 3, Readable: true}, ""); eff.Send != nil || !more {
		t.Errorf("a removed target's hint with no replica to take it: %+v more=%v, want skipped", eff, more)
	}
	if eff, more := q.Consider(r, Hint{Ref: ref, Readable: false}, "n3"); eff.Delete == nil || eff.Delete.Why != WhyUnreadable || !more {
		t.Errorf("an unreadable hint: %+v more=%v, want deleted and the round going on", eff, more)
	}
	eff, more := q.Consider(r, Hint{Ref: ref, Partition: 3, Readable: true}, "n3")
	if eff.Send == nil || eff.Send.Node != "n3" || eff.Send.Partition != 3 || more {
		t.Errorf("a hint redirected to n3 with batch size 0 (meaning 1): %+v more=%v, want sent to n3 and the round over", eff, more)
	}
	if eff := q.Deleted(Removal{Ref: ref, Why: WhyUnreadable}, false); eff.Count != "" || eff.Wake || len(eff.Gauges) != 0 {
		t.Errorf("a failed delete of an unreadable hint: %+v, want nothing", eff)
	}
	if eff := q.Refused(99); eff.Retry != nil {
		t.Errorf("a refusal of an unknown request: %+v, want nothing", eff)
	}
}

// TestQueue_FirstRequest: deliveries are numbered after FirstRequest, so two
// incarnations given different starts never share an id, and an answer to
// the old one's id is not taken for the new one's delivery.
func TestQueue_FirstRequest(t *testing.T) {
	send := func(q *Queue) uint64 {
		t.Helper()
		ref := offerAndStore(t, q, "a", 10)
		r := q.Tick(time.Unix(0, 0), map[string]Reach{"a": {Alive: true}})[0]
		eff, _ := q.Consider(r, Hint{Ref: ref, Readable: true}, "")
		if eff.Send == nil {
			t.Fatalf("no delivery: %+v", eff)
		}
		return eff.Send.Req
	}
	old := New(Config{MaxHints: 10, MaxBytes: 100, BatchSize: 1, Interval: time.Second, FirstRequest: 1000})
	oldReq := send(old)
	if oldReq != 1001 {
		t.Fatalf("first delivery's id = %d, want 1001", oldReq)
	}
	restarted := New(Config{MaxHints: 10, MaxBytes: 100, BatchSize: 1, Interval: time.Second, FirstRequest: 5000})
	newReq := send(restarted)
	if newReq == oldReq {
		t.Fatalf("the restarted queue reused id %d", newReq)
	}
	if eff := restarted.Acked(oldReq); eff.Delete != nil {
		t.Fatalf("a late answer to the old incarnation's id %d deleted %+v", oldReq, eff.Delete)
	}
}
