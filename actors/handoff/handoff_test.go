package handoff

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/transfer"
	"github.com/dhtkv/dht/test/testutil"
)

const (
	partitions = 4
	replicas   = 2
)

// settle records every transfer of every member as done, as their handoff
// actors would.
func settle(s ring.State) ring.State {
	pl := ring.NewPlan(partitions, replicas, s)
	for _, m := range pl.Table.Members {
		for _, t := range pl.Transfers(m.ID) {
			s = s.CompleteHandoff(m.ID, t.Partition, t.Since)
		}
	}
	return s
}

func snapshotFor(self string, s ring.State, alive ...string) *topology.Snapshot {
	pl := ring.NewPlan(partitions, replicas, s)
	members := map[string]membership.Member{}
	for _, id := range alive {
		members[id] = membership.Member{ID: id, Status: membership.StatusAlive}
	}
	return &topology.Snapshot{Self: self, State: s, Table: pl.Table, Plan: pl, Members: members, Synced: true}
}

func testConfig(reg *prometheus.Registry) Config {
	return Config{Self: "a", Concurrency: 2, BatchKeys: 2, BatchBytes: 1 << 20, DropDelay: 20 * time.Millisecond,
		Interval: 10 * time.Millisecond, Timeout: 5 * time.Second, Status: &Status{}, Metrics: NewMetrics(reg)}
}

// TestActor_ReceivesAJoin: a joins b's cluster and pulls every partition it
// now holds, in pages, resuming one after a saved cursor and retrying one
// whose first pull fails, and reports each to the topology actor.
func TestActor_ReceivesAJoin(t *testing.T) {
	c := newCluster(t, partitions, "a", "b")
	s := ring.State{}.Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "a"})
	snap := snapshotFor("a", s, "b")
	wanted := snap.Plan.Transfers("a")
	if len(wanted) < 2 {
		t.Fatalf("a must receive %d partitions; the test needs two", len(wanted))
	}
	for _, w := range wanted {
		c.fill("b", w.Partition, 5)
	}
	resumed, failing := wanted[0], wanted[1]
	if err := c.engine.Put(cursorKey(resumed.Partition), encodeCursor(transfer.Cursor{Since: resumed.Since, After: []byte("k2")})); err != nil {
		t.Fatal(err)
	}
	c.vnodes["b"][failing.Partition].failPulls = 1
	c.view.p.Store(snap)
	reg := prometheus.NewRegistry()
	cfg := testConfig(reg)
	c.start(cfg)

	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if got := len(c.done.all()); got != len(wanted) {
			return fmt.Errorf("%d of %d placements reported done", got, len(wanted))
		}
		return nil
	})
	for _, w := range wanted {
		if !slices.Contains(c.done.all(), topology.HandoffDone{Partition: w.Partition, Since: w.Since}) {
			t.Errorf("no HandoffDone for partition %d since %d", w.Partition, w.Since)
		}
		got, _ := c.vnodes["a"][w.Partition].snapshot()
		want := 5
		if w.Partition == resumed.Partition {
			want = 2 // k3 and k4: the cursor said k0..k2 were merged before
		}
		if len(got) != want {
			t.Errorf("partition %d: a holds %d keys, want %d", w.Partition, len(got), want)
		}
	}
	if _, pulls := c.vnodes["b"][resumed.Partition].snapshot(); string(pulls[0]) != "k2" {
		t.Errorf("the resumed partition's first pull asked after %q, want k2", pulls[0])
	}
	cursors := 0
	if err := c.engine.Scan(cursorPrefix, nil, func(_, _ []byte) bool { cursors++; return true }); err != nil || cursors != 0 {
		t.Errorf("%d cursors left (err %v), want none once every receive is done", cursors, err)
	}
	if got := counter(t, cfg.Metrics.Transfers.WithLabelValues(KindReceive, "done")); int(got) != len(wanted) {
		t.Errorf("handoff_transfers_total{receive,done} = %v, want %d", got, len(wanted))
	}
	if got := counter(t, cfg.Metrics.Transfers.WithLabelValues(KindReceive, "aborted")); got != 1 {
		t.Errorf("handoff_transfers_total{receive,aborted} = %v, want 1 (the failed pull)", got)
	}
	if v := cfg.Status.Snapshot(); !cfg.Status.Checked() || v.Completed != uint64(len(wanted)) {
		t.Errorf("status checked %t, completed %d; want true, %d", cfg.Status.Checked(), v.Completed, len(wanted))
	}
	resumeEvent := fmt.Sprintf(`handoff-start p=%d b: receiving from b, resuming after key "k2"`, resumed.Partition)
	if !slices.Contains(c.events.all(), resumeEvent) {
		t.Errorf("events %q lack %q", c.events.all(), resumeEvent)
	}
}

// TestActor_DrainsAndRetires: a is decommissioned and its successors have
// their data; a pushes each partition it holds to the serving replicas,
// drops it, and retires once, holding nothing.
func TestActor_DrainsAndRetires(t *testing.T) {
	c := newCluster(t, partitions, "a", "b", "c")
	s := settle(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}))
	held := ring.NewPlan(partitions, replicas, s).Table.Holds("a")
	if len(held) == 0 {
		t.Fatal("a holds no partition; the test needs some")
	}
	for _, p := range held {
		c.fill("a", p, 3)
	}
	s = settle(s.Remove("a"))
	c.view.p.Store(snapshotFor("a", s, "b", "c"))
	reg := prometheus.NewRegistry()
	cfg := testConfig(reg)
	c.start(cfg)

	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if c.retired.Load() == 0 {
			return errors.New("not retired yet")
		}
		return nil
	})
	pl := ring.NewPlan(partitions, replicas, s)
	for _, p := range held {
		if n := c.keys[p].Load(); n != 0 {
			t.Errorf("partition %d: a still holds %d keys", p, n)
		}
		for _, id := range pl.Table.Preference(p) {
			if got, _ := c.vnodes[id][p].snapshot(); len(got) != 3 {
				t.Errorf("partition %d: %s holds %d keys after the drain, want 3", p, id, len(got))
			}
		}
	}
	if got := counter(t, cfg.Metrics.Transfers.WithLabelValues(KindDrain, "done")); int(got) != len(held) {
		t.Errorf("handoff_transfers_total{drain,done} = %v, want %d", got, len(held))
	}
	drops := 0
	for _, e := range c.events.all() {
		if strings.HasPrefix(e, "handoff-drop") {
			drops++
		}
	}
	if drops != len(held) {
		t.Errorf("%d handoff-drop events (%q), want %d", drops, c.events.all(), len(held))
	}
	// The actor keeps ticking: a later ring (d joins) is seen, and a does
	// not retire again.
	later := s.Join(ring.Member{ID: "d"})
	c.view.p.Store(snapshotFor("a", later, "b", "c", "d"))
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if v := cfg.Status.Snapshot(); v.RingVersion != later.Version() {
			return fmt.Errorf("status shows ring version %d, want %d", v.RingVersion, later.Version())
		}
		return nil
	})
	if n := c.retired.Load(); n != 1 {
		t.Errorf("OnRetired called %d times, want once", n)
	}
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
