package hints

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/messages"
)

// TestQueue_HintsSurviveARestart stores hints for a down node, stops the
// queue and starts a new one on the same engine: the new one finds the
// hints, numbers new ones after them, and delivers all once the node is up.
func TestQueue_HintsSurviveARestart(t *testing.T) {
	const target = "n2"
	f := newFixture(t, []string{target}, nil)
	f.spawn()

	want := map[string]uint32{}
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		want[key] = uint32(10 + i)
		f.mustStore(target, want[key], key, "value-"+key)
	}
	f.wantPending(f.cfg.Stats, map[string]int{target: 5})
	f.waitTicks(target, 3)
	if got := f.fakes[target].attempts(); len(got) != 0 {
		t.Fatalf("the down target got deliveries %v", got)
	}
	before := f.storedHints()
	for key, h := range before {
		if h.GetTarget() != target || h.GetPartition() != want[key] || !proto.Equal(h.GetObject(), object("value-"+key)) || h.GetCreatedUnixMs() == 0 {
			t.Errorf("stored hint for %s: %v; want target %s, partition %d, the object and a timestamp", key, h, target, want[key])
		}
	}

	f.stop()
	f.cfg.Stats = &Stats{} // a new process starts with empty stats
	f.spawn()
	waitFor(t, "the restarted queue's stats", func() error {
		if pending, _ := f.cfg.Stats.Pending(); pending[target] != 5 {
			return fmt.Errorf("stats show %v, want %s: 5", pending, target)
		}
		return nil
	})
	f.wantPending(f.cfg.Stats, map[string]int{target: 5})

	// A hint stored after the restart must not reuse a stored hint's
	// sequence number: that would overwrite, and lose, the older hint.
	want["k5"] = 15
	f.mustStore(target, 15, "k5", "value-k5")
	f.wantPending(f.cfg.Stats, map[string]int{target: 6})

	f.setAlive(target, true)
	f.waitDrained(f.cfg.Stats)
	wantMerged(t, f.fakes[target], want)
	t.Logf("5 hints survived a restart of the queue; 6 delivered after the target came up: %v", f.fakes[target].attempts())
}

// TestQueue_BoundedByBytes fills a queue bounded to two and a half hints'
// bytes: the third is refused with a reason naming the config key.
func TestQueue_BoundedByBytes(t *testing.T) {
	value := strings.Repeat("x", 200)
	fixed := time.UnixMilli(1_750_000_000_000)
	size, err := proto.Marshal(&messages.Hint{Target: "a", Partition: 1, Key: []byte("k1"), Object: object(value), CreatedUnixMs: fixed.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, []string{"a"}, func(c *Config) {
		c.MaxBytes = int64(len(size)*5/2) + 1
		c.Now = func() time.Time { return fixed }
	})
	f.spawn()
	f.mustStore("a", 1, "k1", value)
	f.mustStore("a", 1, "k2", value)
	r := f.hint("a", 1, "k3", value)
	if r.GetStored() || !strings.Contains(r.GetReason(), "handoff.max_hint_bytes") {
		t.Fatalf("3rd hint of %d bytes into %d: stored=%v reason %q; want refused naming handoff.max_hint_bytes", len(size), f.cfg.MaxBytes, r.GetStored(), r.GetReason())
	}
	t.Logf("hints of %d bytes, bound %d: 3rd refused: %s", len(size), f.cfg.MaxBytes, r.GetReason())
	f.wantPending(f.cfg.Stats, map[string]int{"a": 2})
	if _, b := f.cfg.Stats.Pending(); b != int64(2*len(size)) {
		t.Errorf("stats show %d bytes, want %d", b, 2*len(size))
	}
	// A small hint still fits.
	f.mustStore("a", 1, "k4", "v")
}

// TestQueue_RefusesMalformedHints checks that a hint without a target or a
// key is refused, not stored.
func TestQueue_RefusesMalformedHints(t *testing.T) {
	f := newFixture(t, []string{"a"}, nil)
	f.spawn()
	for _, tc := range []struct {
		name string
		req  *messages.HintRequest
	}{
		{"no target", &messages.HintRequest{Partition: 1, Key: []byte("k"), Object: object("v")}},
		{"no key", &messages.HintRequest{Target: "a", Partition: 1, Object: object("v")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.send(tc.req); r.GetStored() || r.GetReason() == "" {
				t.Errorf("stored=%v reason %q; want refused with a reason", r.GetStored(), r.GetReason())
			}
		})
	}
	f.wantPending(f.cfg.Stats, map[string]int{})
}
