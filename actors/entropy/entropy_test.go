package entropy

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/test/testutil"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// harness runs a scheduler on node a against fake replicas of partition 0.
type harness struct {
	system   *actor.ActorSystem
	replicas map[string]*fakeReplica
	pids     map[string]*actor.PID
	metrics  *Metrics
	mu       struct {
		sync.Mutex
		repairs []string
	}
}

func sibling(actorID, counter uint64, value string, tomb bool, ts int64) dvv.Set {
	d := dvv.Dot{Actor: dvv.Actor(actorID), Counter: counter}
	return dvv.Set{Context: dvv.NewVersionVector(d),
		Siblings: []dvv.Sibling{{Dot: d, Value: []byte(value), Tombstone: tomb, Timestamp: ts}}}
}

// start spawns a fake replica per store, lets prepare (when set) adjust
// them, and spawns the scheduler of a, with every node alive and owning
// partition 0.
func start(t *testing.T, grace time.Duration, now time.Time, stores map[string]map[string]dvv.Set, prepare func(map[string]*fakeReplica)) *harness {
	t.Helper()
	h := &harness{system: actor.NewActorSystem(), replicas: map[string]*fakeReplica{}, pids: map[string]*actor.PID{}}
	t.Cleanup(h.system.Shutdown)
	view := &antientropy.View{Partitions: []antientropy.Partition{{}}, Members: map[string]antientropy.Liveness{}}
	for node, store := range stores {
		h.replicas[node] = newFakeReplica(store)
		h.pids[node] = h.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return h.replicas[node] }))
		view.Owners = append(view.Owners, node)
		view.Members[node] = antientropy.Alive
		view.Partitions[0].Replicas = append(view.Partitions[0].Replicas, node)
		view.Partitions[0].Primaries = append(view.Partitions[0].Primaries, node)
	}
	if prepare != nil {
		prepare(h.replicas)
	}
	h.metrics = NewMetrics(prometheus.NewRegistry())
	cfg := Config{
		Self: "a", Interval: 10 * time.Millisecond, MaxKeys: 100, Timeout: 5 * time.Second, Grace: grace,
		VnodePID: func(node string, _ uint32) *actor.PID { return h.pids[node] },
		// The fake replica answers for its hint queue too.
		HintsPID: func(node string) *actor.PID { return h.pids[node] },
		Metrics:  h.metrics,
		Now:      func() time.Time { return now },
		OnRepair: func(p uint32, peer string, copies int) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.mu.repairs = append(h.mu.repairs, fmt.Sprintf("p%d %s %d", p, peer, copies))
		},
	}
	h.system.Root.Spawn(propsWithView(cfg, func() *antientropy.View { return view }))
	return h
}

func (h *harness) exchanges(result antientropy.Outcome) float64 {
	return count(h.metrics.Exchanges.WithLabelValues(string(result)))
}

// TestScheduler_RepairsADivergentKey: b lacks k1 and holds another version
// of k2; one round brings both replicas to the merge, announces the repair
// and counts it, and the next rounds find them in sync.
func TestScheduler_RepairsADivergentKey(t *testing.T) {
	k1 := sibling(1, 1, "one", false, 1000)
	k2a, k2b := sibling(1, 2, "two-a", false, 1000), sibling(2, 1, "two-b", false, 1000)
	h := start(t, 0, time.Now(), map[string]map[string]dvv.Set{
		"a": {"k1": k1, "k2": k2a, "same": k1},
		"b": {"k2": k2b, "same": k1},
	}, nil)
	merged := dvv.Merge(k2a, k2b)
	testutil.Eventually(t, waitTimeout, 10*time.Millisecond, func() error {
		if h.exchanges(antientropy.InSync) < 1 {
			return fmt.Errorf("no round has found the replicas in sync yet")
		}
		return nil
	})
	for node, want := range map[string]map[string]dvv.Set{"a": {"k1": k1, "k2": merged}, "b": {"k1": k1, "k2": merged}} {
		for k, w := range want {
			if got, _ := h.replicas[node].get(k); !got.Equal(w) {
				t.Errorf("%s: %s = %+v, want %+v", node, k, got, w)
			}
		}
	}
	if got := h.exchanges(antientropy.Repaired); got != 1 {
		t.Errorf("ae_exchanges_total{repaired} = %v, want 1", got)
	}
	// b is sent k1 and the merged k2, a the merged k2.
	if got := count(h.metrics.KeysRepaired); got != 3 {
		t.Errorf("ae_keys_repaired_total = %v, want 3", got)
	}
	if got := count(h.metrics.Bytes); got <= 0 {
		t.Errorf("ae_bytes_total = %v, want some", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.mu.repairs) != 1 || h.mu.repairs[0] != "p0 b 3" {
		t.Errorf("OnRepair heard %v, want [p0 b 3]", h.mu.repairs)
	}
}

// TestScheduler_ReapsOldTombstones: a tombstone every primary holds, older
// than the grace period, with no hints, is reaped on every primary; one
// with a hint on some node is kept.
func TestScheduler_ReapsOldTombstones(t *testing.T) {
	dead := sibling(1, 1, "", true, 1000)
	hinted := sibling(1, 2, "", true, 1000)
	live := sibling(1, 3, "v", false, 1000)
	store := func() map[string]dvv.Set { return map[string]dvv.Set{"dead": dead, "hinted": hinted, "live": live} }
	h := start(t, time.Second, time.UnixMilli(1000).Add(time.Hour), map[string]map[string]dvv.Set{
		"a": store(), "b": store(), "c": store(),
	}, func(r map[string]*fakeReplica) { r["c"].mu.hints["hinted"] = 1 })
	testutil.Eventually(t, waitTimeout, 10*time.Millisecond, func() error {
		if got := count(h.metrics.TombstonesReaped); got != 3 {
			return fmt.Errorf("tombstones_reaped_total = %v, want 3", got)
		}
		// Rounds after the reap find nothing more to do.
		if h.exchanges(antientropy.InSync) < 3 {
			return fmt.Errorf("fewer than 3 rounds in sync")
		}
		return nil
	})
	for node, r := range h.replicas {
		if _, ok := r.get("dead"); ok {
			t.Errorf("%s still holds the reapable tombstone", node)
		}
		if _, ok := r.get("hinted"); !ok {
			t.Errorf("%s reaped a tombstone a hint may resurrect", node)
		}
		if _, ok := r.get("live"); !ok {
			t.Errorf("%s lost a live key", node)
		}
	}
	if got := count(h.metrics.TombstonesReaped); got != 3 {
		t.Errorf("tombstones_reaped_total = %v after more rounds, want 3", got)
	}
}

// count reads a counter's value.
func count(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// TestScheduler_AbortsOnAPeerError: a peer that answers errors aborts every
// round, which is counted, and nothing is repaired.
func TestScheduler_AbortsOnAPeerError(t *testing.T) {
	h := start(t, 0, time.Now(), map[string]map[string]dvv.Set{
		"a": {"k1": sibling(1, 1, "one", false, 1000)},
		"b": {},
	}, func(r map[string]*fakeReplica) { r["b"].mu.fail = true })
	testutil.Eventually(t, waitTimeout, 10*time.Millisecond, func() error {
		if h.exchanges(antientropy.Aborted) < 2 {
			return fmt.Errorf("fewer than 2 rounds aborted")
		}
		return nil
	})
	if got := h.exchanges(antientropy.Repaired) + count(h.metrics.KeysRepaired); got != 0 {
		t.Errorf("a failing peer was repaired: %v", got)
	}
}

// TestScheduler_StampsPartitionRequestsWithTheRingSize: the requests that
// name a partition (tree levels, bucket listings) say the ring's partition
// count, so that a vnode of a ring of another size refuses them; those
// for one key (reads and repairs) do not, since a vnode sends a key of
// another partition on to it.
func TestScheduler_StampsPartitionRequestsWithTheRingSize(t *testing.T) {
	k1 := sibling(1, 1, "one", false, 1000)
	h := start(t, 0, time.Now(), map[string]map[string]dvv.Set{
		"a": {"k1": k1},
		"b": {},
	}, nil)
	testutil.Eventually(t, waitTimeout, 10*time.Millisecond, func() error {
		if h.exchanges(antientropy.InSync) < 1 {
			return fmt.Errorf("no round has found the replicas in sync yet")
		}
		return nil
	})
	for _, node := range []string{"a", "b"} {
		stamps := h.replicas[node].stampsSeen()
		for kind, by := range stamps {
			partitionWide := kind == "*messages.Envelope_MerkleRequest" || kind == "*messages.Envelope_BucketKeysRequest"
			for size, n := range by {
				if partitionWide && size != 1 {
					t.Errorf("%s: %d %s said a ring of %d partitions, want 1 (the view's)", node, n, kind, size)
				}
				if !partitionWide && size != 0 {
					t.Errorf("%s: %d %s said a ring of %d partitions, want none", node, n, kind, size)
				}
			}
		}
		if stamps["*messages.Envelope_MerkleRequest"][1] == 0 {
			t.Errorf("%s: no tree request seen: %v", node, stamps)
		}
	}
	if stamps := h.replicas["b"].stampsSeen(); stamps["*messages.Envelope_MergeRequest"][0] == 0 {
		t.Errorf("b was sent no repair: %v", stamps)
	}
}
