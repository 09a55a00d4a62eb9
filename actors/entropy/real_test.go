package entropy

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/testutil"
	"github.com/dhtkv/dht/wire"
)

// realNode is one node of an in-process cluster of real actors: its memory
// engine, a real vnode per partition over it, and a real scheduler.
type realNode struct {
	engine  persistence.Engine
	vnodes  []*actor.PID
	roots   []*atomic.Uint64
	metrics *Metrics
	// stop stops the node's scheduler and waits for it.
	stop func()
}

// realCluster starts, for each id, an engine holding what load writes
// (before the vnodes start, so that each builds its Merkle tree from it),
// q vnodes over it, and a scheduler with the given rate limit and sweep
// interval, every node holding every partition and alive.
func realCluster(t *testing.T, ids []string, q int, interval, sweep time.Duration,
	load func(id string, b *persistence.Batch)) map[string]*realNode {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	t.Cleanup(system.Shutdown)
	view := &antientropy.View{Members: map[string]antientropy.Liveness{}, Owners: ids}
	for _, id := range ids {
		view.Members[id] = antientropy.Alive
	}
	for range q {
		view.Partitions = append(view.Partitions, antientropy.Partition{Replicas: ids, Primaries: ids})
	}
	nodes := map[string]*realNode{}
	for _, id := range ids {
		e, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		b := persistence.NewBatch()
		load(id, b)
		if err := e.Write(b); err != nil {
			t.Fatal(err)
		}
		minter, _, err := vnode.OpenMinter(e, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		n := &realNode{engine: e, metrics: NewMetrics(prometheus.NewRegistry())}
		for p := range q {
			root := &atomic.Uint64{}
			pid := system.Root.Spawn(vnode.Props(vnode.Config{Partition: uint32(p), Engine: e, Minter: minter, Logger: quiet, Root: root}))
			n.vnodes, n.roots = append(n.vnodes, pid), append(n.roots, root)
		}
		nodes[id] = n
	}
	for _, id := range ids {
		cfg := Config{
			Self: id, Interval: interval, SweepInterval: sweep, MaxKeys: 1000, Timeout: 30 * time.Second,
			VnodePID: func(node string, p uint32) *actor.PID { return nodes[node].vnodes[p] },
			// Reaping is off (no grace): no hint queue is asked.
			HintsPID: func(string) *actor.PID { return nil },
			Metrics:  nodes[id].metrics,
			Logger:   quiet,
		}
		pid := system.Root.Spawn(propsWithView(cfg, func() *antientropy.View { return view }))
		nodes[id].stop = func() { _ = system.Root.StopFuture(pid).Wait() }
	}
	return nodes
}

// differingPartitions counts the partitions whose vnodes' roots are not all
// equal.
func differingPartitions(nodes map[string]*realNode, q int) int {
	n := 0
	for p := range q {
		roots := map[uint64]bool{}
		for _, node := range nodes {
			roots[node.roots[p].Load()] = true
		}
		if len(roots) != 1 {
			n++
		}
	}
	return n
}

func object(actorID dvv.Actor, counter uint64, value []byte) dvv.Set {
	d := dvv.Dot{Actor: actorID, Counter: counter}
	return dvv.Set{Context: dvv.NewVersionVector(d),
		Siblings: []dvv.Sibling{{Dot: d, Value: value, Timestamp: 1_700_000_000_000}}}
}

func encode(t *testing.T, s dvv.Set) []byte {
	t.Helper()
	b, err := wire.EncodeObject(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAEBytes_GrowWithTheDifference: two nodes hold the same keys over 256
// partitions (100,000 of them; fewer under -race, see bytesKeys) but for
// 10: b lacks 5, and holds another concurrent version of 5 more. Real
// vnodes answer real schedulers until every partition's replicas have equal
// Merkle roots; the anti-entropy bytes spent (dht_ae_bytes_total of both
// nodes, every round included, in sync or not) must be under 1% of the
// data's bytes (the keys and stored objects of one replica).
func TestAEBytes_GrowWithTheDifference(t *testing.T) {
	const q, missing, concurrent = 256, 5, 5
	keys := bytesKeys
	value := make([]byte, 100)
	dataBytes := 0
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%07d", i) }
	nodes := realCluster(t, []string{"a", "b"}, q, 2*time.Millisecond, 10*time.Second, func(id string, b *persistence.Batch) {
		for i := range keys {
			obj := object(1, uint64(i+1), value)
			switch {
			case id == "b" && i%(keys/10) == 0 && i/(keys/10) < missing:
				continue
			case id == "b" && i%(keys/10) == 1 && i/(keys/10) < concurrent:
				obj = object(2, 1, value)
			}
			enc := encode(t, obj)
			if id == "a" {
				dataBytes += len(key(i)) + len(enc)
			}
			b.Put(persistence.DataKey(uint32(i%q), key(i)), enc)
		}
	})
	start := time.Now()
	testutil.Eventually(t, 60*time.Second, 10*time.Millisecond, func() error {
		if n := differingPartitions(nodes, q); n > 0 {
			return fmt.Errorf("%d partitions differ", n)
		}
		return nil
	})
	took := time.Since(start)
	// A round ends, and counts its repairs, when the merges it sent are
	// acknowledged, a moment after the roots agree. b needs the 5 keys it
	// lacks, and both sides the merge of the 5 concurrent ones.
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		var repaired float64
		for _, n := range nodes {
			repaired += count(n.metrics.KeysRepaired)
		}
		if repaired < missing+2*concurrent {
			return fmt.Errorf("%.0f replica copies repaired, want at least %d", repaired, missing+2*concurrent)
		}
		return nil
	})
	// Stop the schedulers, so the figure is of the repair: rounds after
	// it only compare equal roots.
	var aeBytes, repaired, exchanges float64
	for _, n := range nodes {
		n.stop()
	}
	for _, n := range nodes {
		aeBytes += count(n.metrics.Bytes)
		repaired += count(n.metrics.KeysRepaired)
		for _, o := range []antientropy.Outcome{antientropy.InSync, antientropy.Repaired, antientropy.Aborted} {
			exchanges += count(n.metrics.Exchanges.WithLabelValues(string(o)))
		}
	}
	ratio := aeBytes / float64(dataBytes)
	t.Logf("keys=%d differing=%d data_bytes=%d ae_bytes=%.0f (%.4f%% of the data) copies_repaired=%.0f exchanges=%.0f converged_after=%v",
		keys, missing+concurrent, dataBytes, aeBytes, 100*ratio, repaired, exchanges, took.Round(time.Millisecond))
	for i := range keys {
		if i%(keys/10) > 1 || i/(keys/10) >= 5 {
			continue
		}
		want := object(1, uint64(i+1), value)
		if i%(keys/10) == 1 {
			want = dvv.Merge(want, object(2, 1, value))
		}
		for id, n := range nodes {
			raw, err := n.engine.Get(persistence.DataKey(uint32(i%q), key(i)))
			if err != nil {
				t.Fatalf("%s: %s: %v", id, key(i), err)
			}
			got, err := wire.DecodeObject(raw)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s: %s = %+v (%v), want the merge %+v", id, key(i), got, err, want)
			}
		}
	}
	if ratio >= 0.01 {
		t.Fatalf("anti-entropy exchanged %.0f bytes to mend %d of %d keys: %.2f%% of the data's %d bytes, want under 1%%",
			aeBytes, missing+concurrent, keys, 100*ratio, dataBytes)
	}
}

// TestSweep_EveryPairWithinTheInterval: three nodes of real vnodes and
// schedulers, 64 partitions each held by all three (128 pairs a node), a
// sweep interval of 3s and a rate limit of 5ms. c lacks some keys at
// start. Within a bounded wait every scheduler completes sweeps, each
// within the interval; afterwards, sampled over another interval, no
// pair's age (dht_ae_max_seconds_since_exchange) exceeds it, and every
// partition's replicas have equal roots.
func TestSweep_EveryPairWithinTheInterval(t *testing.T) {
	const q = 64
	const sweep = 3 * time.Second
	ids := []string{"a", "b", "c"}
	nodes := realCluster(t, ids, q, 5*time.Millisecond, sweep, func(id string, b *persistence.Batch) {
		for i := range 2000 {
			if id == "c" && i%100 == 0 {
				continue
			}
			b.Put(persistence.DataKey(uint32(i%q), fmt.Appendf(nil, "k%d", i)), encode(t, object(1, uint64(i+1), []byte("v"))))
		}
	})
	// The first sweep may begin before the nodes' vnodes all answer; two
	// complete sweeps each within the bound show the schedule at work.
	testutil.Eventually(t, 5*sweep, 20*time.Millisecond, func() error {
		for _, id := range ids {
			m := nodes[id].metrics
			if n := count(m.Sweeps); n < 2 {
				return fmt.Errorf("%s has completed %v sweeps", id, n)
			}
		}
		return nil
	})
	for end := time.Now().Add(sweep); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, id := range ids {
			m := nodes[id].metrics
			age, last, pairs := gauge(m.MaxSinceExchange), gauge(m.Sweep), gauge(m.Pairs)
			if pairs != 2*q || age > sweep.Seconds() || last <= 0 || last > sweep.Seconds() {
				t.Fatalf("%s: pairs %v (want %d), oldest pair %.3fs, last sweep %.3fs: want both within the %v sweep interval",
					id, pairs, 2*q, age, last, sweep)
			}
		}
	}
	for _, id := range ids {
		m := nodes[id].metrics
		t.Logf("%s: sweeps=%v last_sweep=%.3fs max_since_exchange=%.3fs in_sync=%v repaired=%v aborted=%v", id,
			count(m.Sweeps), gauge(m.Sweep), gauge(m.MaxSinceExchange),
			count(m.Exchanges.WithLabelValues("in_sync")), count(m.Exchanges.WithLabelValues("repaired")),
			count(m.Exchanges.WithLabelValues("aborted")))
	}
	if n := differingPartitions(nodes, q); n > 0 {
		t.Fatalf("%d partitions' replicas still differ after the sweeps", n)
	}
}

// gauge reads a gauge's value.
func gauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		panic(err)
	}
	return m.GetGauge().GetValue()
}
