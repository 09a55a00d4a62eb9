package hints

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestQueue_DeliversOnlyToLiveTargets keeps two targets' hints: only the
// live one's are delivered, however many rounds pass, and the other's go
// out, and are deleted, once it is alive.
func TestQueue_DeliversOnlyToLiveTargets(t *testing.T) {
	// One hint per batch: draining a takes a round per hint, and every
	// round considers b too.
	f := newFixture(t, []string{"a", "b"}, func(c *Config) { c.BatchSize = 1 })
	f.spawn()
	wantA, wantB := map[string]uint32{}, map[string]uint32{}
	for i := range 4 {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		wantA[a], wantB[b] = uint32(i), uint32(100+i)
		f.mustStore("a", wantA[a], a, "value-"+a)
		f.mustStore("b", wantB[b], b, "value-"+b)
	}
	f.wantPending(f.cfg.Stats, map[string]int{"a": 4, "b": 4})

	f.setAlive("a", true)
	waitFor(t, "a's hints delivered", func() error {
		if counts, _ := f.stored(); counts["a"] != 0 {
			return fmt.Errorf("%d left", counts["a"])
		}
		return nil
	})
	wantMerged(t, f.fakes["a"], wantA)
	f.waitTicks("b", 5)
	if got := f.fakes["b"].attempts(); len(got) != 0 {
		t.Fatalf("the down target b got deliveries %v", got)
	}
	f.wantPending(f.cfg.Stats, map[string]int{"b": 4})

	f.setAlive("b", true)
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, f.fakes["b"], wantB)
	if got := f.fakes["a"].attempts(); len(got) != 4 {
		t.Errorf("a got deliveries %v, want each of its 4 keys", got)
	}
	t.Logf("a's 4 hints delivered one per round; b's kept through %d rounds while down, then delivered", f.aliveCalls("b"))
}

// TestQueue_RefusedDeliveryIsRetried makes the target answer every
// delivery with an ErrorReply: the hints stay, are offered again, and are
// deleted only once the target acknowledges them.
func TestQueue_RefusedDeliveryIsRetried(t *testing.T) {
	f := newFixture(t, []string{"a"}, nil)
	fake := f.fakes["a"]
	fake.setFail(true)
	f.spawn()
	want := map[string]uint32{"k1": 1, "k2": 2, "k3": 3}
	for key, p := range want {
		f.mustStore("a", p, key, "value-"+key)
	}
	f.setAlive("a", true)
	waitFor(t, "each hint refused at least 3 times", func() error {
		got := fake.attempts()
		for key := range want {
			if got[key] < 3 {
				return fmt.Errorf("attempts %v", got)
			}
		}
		return nil
	})
	f.wantPending(f.cfg.Stats, map[string]int{"a": 3})
	if got := fake.merged(); len(got) != 0 {
		t.Fatalf("the failing fake acknowledged %v", got)
	}

	fake.setFail(false)
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, fake, want)
	t.Logf("deliveries per key, refusals included: %v", fake.attempts())
}

// TestQueue_UnansweredBatchIsOfferedAgain loses the first batch: the queue
// offers it again once five intervals have passed on its retry clock, not
// before — even though the data clock jumped back an hour meanwhile (the
// fault-injection suite's clock scenario once stalled the batch for as long
// as the jump, when retries ran on the data clock).
func TestQueue_UnansweredBatchIsOfferedAgain(t *testing.T) {
	f := newFixture(t, []string{"a"}, nil)
	fake := f.fakes["a"]
	// The queue's retry clock stands still, so only the test moves it on.
	start := time.Now()
	f.cfg.RetryClock = func() time.Time { return start.Add(time.Duration(f.clock.Load())) }
	var dataSkew atomic.Int64
	f.cfg.Now = func() time.Time { return time.Now().Add(time.Duration(dataSkew.Load())) }
	f.spawn()
	want := map[string]uint32{"k1": 1, "k2": 2}
	for key, p := range want {
		f.mustStore("a", p, key, "value-"+key)
	}
	fake.setDrop(2)
	f.setAlive("a", true)
	waitFor(t, "the first batch sent", func() error {
		if got := fake.attempts(); len(got) != 2 {
			return fmt.Errorf("attempts %v", got)
		}
		return nil
	})
	f.waitTicks("a", 10)
	if got := fake.attempts(); got["k1"] != 1 || got["k2"] != 1 {
		t.Fatalf("the lost batch was offered again before its time: attempts %v", got)
	}
	f.wantPending(f.cfg.Stats, map[string]int{"a": 2})

	dataSkew.Store(int64(-time.Hour))
	f.clock.Add(int64(5 * testInterval))
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, fake, want)
	t.Logf("attempts after the lost batch: %v", fake.attempts())
}

// TestQueue_RedirectsARemovedTargetsHints keeps hints for a node that is then
// force-removed: they go, partition by partition, to the live replica that
// Redirect names, and wait while it names none.
func TestQueue_RedirectsARemovedTargetsHints(t *testing.T) {
	var removed, p2Served atomic.Bool
	f := newFixture(t, []string{"a"}, func(c *Config) {
		c.Redirect = func(target string, p uint32) (string, bool) {
			if target != "gone" || !removed.Load() {
				return "", false
			}
			if p == 1 || (p == 2 && p2Served.Load()) {
				return "a", true
			}
			return "", true
		}
	})
	f.spawn()
	f.mustStore("gone", 1, "k1", "value-k1")
	f.mustStore("gone", 2, "k2", "value-k2")
	f.mustStore("gone", 1, "k3", "value-k3")
	f.waitTicks("gone", 3)
	if got := f.fakes["a"].attempts(); len(got) != 0 {
		t.Fatalf("hints for a node not removed went elsewhere: %v", got)
	}

	removed.Store(true)
	waitFor(t, "partition 1's hints redirected to a", func() error {
		if counts, _ := f.stored(); counts["gone"] != 1 {
			return fmt.Errorf("%d hints left for gone", counts["gone"])
		}
		return nil
	})
	wantMerged(t, f.fakes["a"], map[string]uint32{"k1": 1, "k3": 1})
	f.wantPending(f.cfg.Stats, map[string]int{"gone": 1})

	p2Served.Store(true)
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, f.fakes["a"], map[string]uint32{"k1": 1, "k2": 2, "k3": 1})
}
