package hints

import (
	"fmt"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/messages"
)

// TestQueue_HintsFor counts the hints kept for one key, across targets, as
// the tombstone reaper asks before it reaps: a key with a hint pending must
// not look hint-free, and a delivered hint no longer counts.
func TestQueue_HintsFor(t *testing.T) {
	f := newFixture(t, []string{"a", "b"}, nil)
	f.spawn()
	f.mustStore("a", 1, "k", "value-k")
	f.mustStore("b", 1, "k", "value-k")
	f.mustStore("a", 1, "k", "value-k") // a second write of the key
	f.mustStore("a", 2, "k", "value-k") // same key bytes, other partition
	f.mustStore("a", 1, "other", "value-other")
	hintsFor := func(p uint32, key string) uint32 {
		t.Helper()
		f.req++
		res, err := f.sys.Root.RequestFuture(f.queue, &messages.Envelope{RequestId: f.req, Body: &messages.Envelope_HintsForRequest{
			HintsForRequest: &messages.HintsForRequest{Partition: p, Key: []byte(key)}}}, 5*time.Second).Result()
		if err != nil {
			t.Fatalf("hints for %d/%s: no reply: %v", p, key, err)
		}
		env, ok := res.(*messages.Envelope)
		if !ok || env.GetHintsForReply() == nil || env.GetRequestId() != f.req {
			t.Fatalf("hints for %d/%s: reply %v, want a HintsForReply to request %d", p, key, res, f.req)
		}
		return env.GetHintsForReply().GetCount()
	}
	for _, tc := range []struct {
		p    uint32
		key  string
		want uint32
	}{{1, "k", 3}, {2, "k", 1}, {1, "other", 1}, {1, "none", 0}, {3, "k", 0}} {
		if got := hintsFor(tc.p, tc.key); got != tc.want {
			t.Errorf("hints for partition %d key %q: %d, want %d", tc.p, tc.key, got, tc.want)
		}
	}
	f.setAlive("a", true)
	waitFor(t, "a's hints delivered", func() error {
		if counts, _ := f.stored(); counts["a"] != 0 {
			return fmt.Errorf("%d left", counts["a"])
		}
		return nil
	})
	if got := hintsFor(1, "k"); got != 1 {
		t.Errorf("hints for partition 1 key k after a's delivery: %d, want b's 1", got)
	}
}

// TestQueue_SupervisorRestartStopsItsTicker makes the queue panic once, so
// its supervisor restarts it: the old incarnation's ticker must stop, or
// every restart adds one more goroutine ticking the queue, which outlives
// even the queue's stop.
func TestQueue_SupervisorRestartStopsItsTicker(t *testing.T) {
	var panicked atomic.Bool
	f := newFixture(t, []string{"a"}, func(c *Config) {
		c.Alive = func(string) bool {
			if panicked.CompareAndSwap(false, true) {
				panic("hints test: one panic to make the supervisor restart the queue")
			}
			return true
		}
	})
	f.spawn()
	f.mustStore("a", 1, "k1", "value-k1")
	if tickerGoroutines() == 0 {
		t.Fatal("no ticker goroutine found: tickerGoroutines looks for the wrong function, and this test would prove nothing")
	}
	f.waitDrained(f.cfg.Stats) // delivered by the restarted queue
	if !panicked.Load() {
		t.Fatal("the queue never asked whether a is alive")
	}
	waitFor(t, "one ticker left after the restart", func() error {
		if n := tickerGoroutines(); n > 1 {
			return fmt.Errorf("%d ticker goroutines", n)
		}
		return nil
	})
	f.stop()
	waitFor(t, "no ticker left after the stop", func() error {
		if n := tickerGoroutines(); n > 0 {
			return fmt.Errorf("%d ticker goroutines", n)
		}
		return nil
	})
}

// tickerGoroutines counts the goroutines running a queue's ticker.
func tickerGoroutines() int {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), "actorsys/ticker.Start.func")
}
