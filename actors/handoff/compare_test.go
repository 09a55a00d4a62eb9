package handoff

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/testutil"
)

// realNodes are nodes of real vnode actors, each node over an engine of its
// own, in one actor system: what a handoff actor talks to in a cluster, but
// with local PIDs.
type realNodes struct {
	t       *testing.T
	system  *actor.ActorSystem
	engines map[string]persistence.Engine
	pids    map[string][]*actor.PID
	keys    []atomic.Int64 // the first node's vnodes' key counts
	done    *recorder[topology.HandoffDone]
}

func newRealNodes(t *testing.T, partitions int, nodes ...string) *realNodes {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(system.Shutdown)
	c := &realNodes{t: t, system: system, engines: map[string]persistence.Engine{}, pids: map[string][]*actor.PID{},
		keys: make([]atomic.Int64, partitions), done: &recorder[topology.HandoffDone]{}}
	for _, n := range nodes {
		engine, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { engine.Close() })
		minter, _, err := vnode.OpenMinter(engine, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.engines[n] = engine
		for p := range partitions {
			cfg := vnode.Config{Partition: uint32(p), Engine: engine, Minter: minter, Logger: slog.New(slog.DiscardHandler)}
			if n == nodes[0] {
				cfg.Keys = &c.keys[p]
			}
			c.pids[n] = append(c.pids[n], system.Root.Spawn(vnode.Props(cfg)))
		}
	}
	return c
}

func (c *realNodes) ask(node string, p uint32, env *messages.Envelope) *messages.Envelope {
	c.t.Helper()
	res, err := c.system.Root.RequestFuture(c.pids[node][p], env, 30*time.Second).Result()
	if err != nil {
		c.t.Fatalf("%s's vnode %d did not answer: %v", node, p, err)
	}
	reply := res.(*messages.Envelope)
	if e := reply.GetErrorReply(); e != nil {
		c.t.Fatalf("%s's vnode %d: %s", node, p, e.GetMessage())
	}
	return reply
}

// merge stores entries in node's vnode of p, as a transfer's merge does.
func (c *realNodes) merge(node string, p uint32, entries []*messages.KeyObject) {
	c.t.Helper()
	for chunk := range slices.Chunk(entries, 500) {
		c.ask(node, p, &messages.Envelope{Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: &messages.MergeBatchRequest{
			Partition: p, Entries: chunk}}})
	}
}

func (c *realNodes) root(node string, p uint32) uint64 {
	reply := c.ask(node, p, &messages.Envelope{Body: &messages.Envelope_MerkleRequest{MerkleRequest: &messages.MerkleRequest{Partition: p}}})
	return reply.GetMerkleReply().GetHashes()[0]
}

// start spawns the first node's handoff actor.
func (c *realNodes) start(cfg Config, snap *topology.Snapshot) {
	view := &fixedView{}
	view.p.Store(snap)
	topo := c.system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if d, ok := ctx.Message().(*topology.HandoffDone); ok {
			c.done.add(*d)
		}
	}))
	cfg.View, cfg.Engine, cfg.Keys, cfg.TopologyPID = view, c.engines[cfg.Self], c.keys, topo
	cfg.VnodePID = func(node string, p uint32) *actor.PID { return c.pids[node][p] }
	c.system.Root.Spawn(Props(cfg))
}

// objects returns n keys of partition p, each a 100-byte value written once.
func objects(p uint32, n int) []*messages.KeyObject {
	out := make([]*messages.KeyObject, n)
	for i := range out {
		dot := &messages.Dot{Actor: 1, Counter: uint64(i + 1)}
		out[i] = &messages.KeyObject{Key: fmt.Appendf(nil, "p%d-key-%05d", p, i), Object: &messages.Object{
			Context: []*messages.Dot{dot},
			Siblings: []*messages.Sibling{{Dot: dot, Value: bytes.Repeat([]byte{byte(i)}, 100),
				ContentType: "application/octet-stream", TimestampUnixMs: 1}},
		}}
	}
	return out
}

// TestActor_ReceiveComparesFirst: a joins b's cluster and receives its
// partitions from b's real vnodes. When a already holds 99% of each
// partition (the same objects), the comparison of trees sends only the 1%
// that differs; when a's store was wiped, the partition is sent whole. Either
// way a ends up with b's exact partition (equal Merkle roots).
func TestActor_ReceiveComparesFirst(t *testing.T) {
	const keys = 2000
	for _, tc := range []struct {
		name string
		// held says whether a already holds key i, as b does.
		held       func(i int) bool
		wantSent   int
		wantResult string
	}{
		{"holding 99%", func(i int) bool { return i%100 != 0 }, keys / 100, "difference"},
		{"wiped", func(int) bool { return false }, keys, "full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newRealNodes(t, partitions, "a", "b")
			s := ring.State{}.Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "a"})
			snap := snapshotFor("a", s, "b")
			wanted := snap.Plan.Transfers("a")
			if len(wanted) == 0 {
				t.Fatal("a receives nothing; the test needs a partition")
			}
			dataBytes := 0
			for _, w := range wanted {
				all := objects(w.Partition, keys)
				c.merge("b", w.Partition, all)
				var mine []*messages.KeyObject
				for i, o := range all {
					dataBytes += len(o.GetKey()) + sizeOf(o.GetObject())
					if tc.held(i) {
						mine = append(mine, o)
					}
				}
				if len(mine) > 0 {
					c.merge("a", w.Partition, mine)
				}
			}
			reg := prometheus.NewRegistry()
			cfg := testConfig(reg)
			cfg.BatchKeys, cfg.Compare = 256, true
			c.start(cfg, snap)

			testutil.Eventually(t, 20*time.Second, 5*time.Millisecond, func() error {
				if got := len(c.done.all()); got != len(wanted) {
					return fmt.Errorf("%d of %d placements reported done", got, len(wanted))
				}
				return nil
			})
			for _, w := range wanted {
				if a, b := c.root("a", w.Partition), c.root("b", w.Partition); a != b {
					t.Errorf("partition %d: a's root %x, b's %x: a lacks some of b's data", w.Partition, a, b)
				}
				if n := c.keys[w.Partition].Load(); n != keys {
					t.Errorf("partition %d: a holds %d keys, want %d", w.Partition, n, keys)
				}
			}
			sent := counter(t, cfg.Metrics.Keys.WithLabelValues(KindReceive))
			sentBytes := counter(t, cfg.Metrics.Bytes.WithLabelValues(KindReceive))
			compareBytes := counter(t, cfg.Metrics.CompareBytes.WithLabelValues(KindReceive))
			skipped := counter(t, cfg.Metrics.SkippedKeys.WithLabelValues(KindReceive))
			t.Logf("%d partitions of %d keys (%d bytes): sent %v keys, %v bytes; compared with %v bytes; skipped %v keys",
				len(wanted), keys, dataBytes, sent, sentBytes, compareBytes, skipped)
			if want := tc.wantSent * len(wanted); int(sent) != want {
				t.Errorf("handoff_keys_total{receive} = %v, want %d", sent, want)
			}
			if got := counter(t, cfg.Metrics.Compares.WithLabelValues(KindReceive, tc.wantResult)); int(got) != len(wanted) {
				t.Errorf("handoff_compares_total{receive,%s} = %v, want %d", tc.wantResult, got, len(wanted))
			}
			switch tc.wantResult {
			case "difference":
				// 1% of the keys' bytes, plus the comparison: the
				// descent's hashes (from both trees: the handoff actor
				// holds neither) cost about 9 KB a partition whatever its
				// size, 2.6% of these small ones.
				if sentBytes != 0.01*float64(dataBytes) || sentBytes+compareBytes > 0.05*float64(dataBytes) {
					t.Errorf("sent %v bytes and compared with %v of %d bytes of data; want 1%% sent and under 5%% in all", sentBytes, compareBytes, dataBytes)
				}
				if want := (keys - tc.wantSent) * len(wanted); int(skipped) != want {
					t.Errorf("handoff_skipped_keys_total{receive} = %v, want %d", skipped, want)
				}
			case "full":
				if sentBytes != float64(dataBytes) {
					t.Errorf("sent %v bytes of %d bytes of data; want all of it", sentBytes, dataBytes)
				}
			}
		})
	}
}

// TestActor_DrainComparesFirst: a is decommissioned; the replicas that
// take its partitions already hold most of them. The drain pushes only
// what some replica lacks, then drops a's copy, and every replica ends with
// all of a's data.
func TestActor_DrainComparesFirst(t *testing.T) {
	const keys = 1000
	c := newRealNodes(t, partitions, "a", "b", "c")
	s := settle(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}))
	held := ring.NewPlan(partitions, replicas, s).Table.Holds("a")
	if len(held) == 0 {
		t.Fatal("a holds no partition; the test needs some")
	}
	s = settle(s.Remove("a"))
	pl := ring.NewPlan(partitions, replicas, s)
	for _, p := range held {
		all := objects(p, keys)
		c.merge("a", p, all)
		for n, id := range pl.Table.Preference(p) {
			// Each replica lacks another 1% of the keys.
			var some []*messages.KeyObject
			for i, o := range all {
				if i%100 != n {
					some = append(some, o)
				}
			}
			c.merge(id, p, some)
		}
	}
	reg := prometheus.NewRegistry()
	cfg := testConfig(reg)
	cfg.BatchKeys, cfg.Compare = 256, true
	c.start(cfg, snapshotFor("a", s, "b", "c"))

	testutil.Eventually(t, 20*time.Second, 5*time.Millisecond, func() error {
		if got := counter(t, cfg.Metrics.Transfers.WithLabelValues(KindDrain, "done")); int(got) != len(held) {
			return fmt.Errorf("%v of %d drains done", got, len(held))
		}
		return nil
	})
	for _, p := range held {
		if n := c.keys[p].Load(); n != 0 {
			t.Errorf("partition %d: a still holds %d keys", p, n)
		}
		for _, id := range pl.Table.Preference(p) {
			reply := c.ask(id, p, &messages.Envelope{Body: &messages.Envelope_MerkleRequest{MerkleRequest: &messages.MerkleRequest{Partition: p}}})
			if got := reply.GetMerkleReply().GetTotalKeys(); got != keys {
				t.Errorf("partition %d: %s holds %d keys after the drain, want %d", p, id, got, keys)
			}
		}
	}
	sent := counter(t, cfg.Metrics.Keys.WithLabelValues(KindDrain))
	t.Logf("drained %d partitions of %d keys: pushed %v keys", len(held), keys, sent)
	// Each replica lacks 1% of a partition's keys, another 1% each: the
	// union is 2%.
	if want := 2 * keys / 100 * len(held); int(sent) != want {
		t.Errorf("handoff_keys_total{drain} = %v, want %d", sent, want)
	}
}
