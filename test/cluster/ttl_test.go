package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/test/cluster"
	"github.com/dhtkv/dht/test/testutil"
)

// The TTL tests run 3 nodes at N=3 on one clock the test advances, with
// anti-entropy off unless a test turns it on, so that only the path under
// test (hints, read repair) can carry a write to a replica.

// ttlPartition returns key's partition.
func ttlPartition(t *testing.T, ctx context.Context, c *cluster.Cluster, key string) uint32 {
	t.Helper()
	r, err := c.Client(1).Ring(ctx)
	if err != nil {
		t.Fatalf("ring: %v", err)
	}
	return ring.PartitionOf([]byte(key), r.Partitions)
}

// sameRoots waits until the running nodes' Merkle roots of partition p are
// equal: their copies of every key in it are the same bytes, expiry
// included, which is what anti-entropy compares.
func sameRoots(t *testing.T, c *cluster.Cluster, p uint32, nodes ...int) {
	t.Helper()
	sloppyRetry(t, c, fmt.Sprintf("partition %d's Merkle roots equal on %v", p, nodes), func(ctx context.Context) error {
		var first uint64
		for k, i := range nodes {
			s, err := c.Client(i).Status(ctx)
			if err != nil {
				return err
			}
			root, ok := s.MerkleRoots[p]
			if !ok {
				return fmt.Errorf("%s holds no partition %d", c.ID(i), p)
			}
			if k == 0 {
				first = root
			} else if root != first {
				return fmt.Errorf("%s's root %x, %s's %x", c.ID(nodes[0]), first, c.ID(i), root)
			}
		}
		return nil
	})
}

// wantGone fails unless key reads as not found through node i at r.
func wantGone(t *testing.T, ctx context.Context, c *cluster.Cluster, i, r int, key string) {
	t.Helper()
	obj, err := c.Client(i).Get(ctx, key, &client.ReadOptions{R: r})
	if err != nil {
		t.Fatalf("get %s through %s at r=%d: %v", key, c.ID(i), r, err)
	}
	if obj.Found {
		t.Fatalf("get %s through %s at r=%d after its expiry: %q (expires %v); want not found", key, c.ID(i), r, values(obj), obj.Expires)
	}
}

// TestTTL_ExpiresOnEveryReplicaAtOnce writes with a TTL at w=3: every
// replica holds the same expiry (equal Merkle roots), every node answers
// the value with it until then, and not found from then on, each at r=1.
func TestTTL_ExpiresOnEveryReplicaAtOnce(t *testing.T) {
	clock := testutil.NewClock()
	c := cluster.Start(t, 3, cluster.WithClock(clock.Now), cluster.WithConfig(handoffOnly))
	ctx := sloppyCtx(t)
	const key = "ttl-everywhere"
	p := ttlPartition(t, ctx, c, key)

	start := clock.Now()
	res, err := c.Client(1).Put(ctx, key, []byte("v"), &client.WriteOptions{W: 3, TTL: 30 * time.Second})
	if err != nil {
		t.Fatalf("put with ttl at w=3: %v", err)
	}
	if d := res.Expires.Sub(start); d < 30*time.Second-time.Millisecond || d > 31*time.Second {
		t.Fatalf("put answered expires %v, %v after the write; want 30s", res.Expires, d)
	}
	sameRoots(t, c, p, 1, 2, 3)
	for i := 1; i <= 3; i++ {
		obj, err := c.Client(i).Get(ctx, key, &client.ReadOptions{R: 1})
		if err != nil || !obj.Found || !slices.Equal(values(obj), []string{"v"}) {
			t.Fatalf("get through %s at r=1 before the expiry: %q, %v", c.ID(i), values(obj), err)
		}
		if !obj.Expires.Equal(res.Expires) {
			t.Fatalf("%s answers expires %v, the write said %v: every replica holds one instant", c.ID(i), obj.Expires, res.Expires)
		}
	}

	clock.Advance(31 * time.Second)
	for i := 1; i <= 3; i++ {
		wantGone(t, ctx, c, i, 1, key)
	}
	wantGone(t, ctx, c, 1, 3, key)
	// Reads repaired nothing: the copies were, and stay, equal.
	sameRoots(t, c, p, 1, 2, 3)
}

// ttlStale sets up a replica that misses a TTL'd write over a value without
// one: "old" is written at w=3, node 3 is killed, "new" is written with
// old's context and a 30s TTL at w=2, and the clock passes its expiry
// before node 3 comes back, still holding "old".
func ttlStale(t *testing.T, ctx context.Context, c *cluster.Cluster, clock *testutil.Clock, key string) {
	t.Helper()
	old, err := c.Client(1).Put(ctx, key, []byte("old"), &client.WriteOptions{W: 3})
	if err != nil {
		t.Fatalf("put old at w=3: %v", err)
	}
	c.Kill(3)
	c.WaitStatus(t, 3, client.MemberDown, sloppyWait)
	if _, err := c.Client(1).Put(ctx, key, []byte("new"), &client.WriteOptions{W: 2, Context: old.Context, TTL: 30 * time.Second}); err != nil {
		t.Fatalf("put new with ttl at w=2, %s down: %v", c.ID(3), err)
	}
	clock.Advance(31 * time.Second)
	wantGone(t, ctx, c, 1, 2, key)
	c.Restart(3)
	c.WaitConverged(t, sloppyWait)
}

// onlyNode3 kills nodes 1 and 2, so that a read through node 3 at r=1
// answers from its own copy alone.
func onlyNode3(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	c.Kill(1)
	c.Kill(2)
	c.WaitStatus(t, 1, client.MemberDown, sloppyWait)
	c.WaitStatus(t, 2, client.MemberDown, sloppyWait)
}

// TestTTL_HintReplayAfterExpiry: the write node 3 missed is kept as a hint
// and replayed once it is back, after the expiry. The hint carries the
// expiry, so node 3 ends with the very object the others hold (equal
// roots), which reads as not found: neither the hint nor node 3's older
// value comes back.
func TestTTL_HintReplayAfterExpiry(t *testing.T) {
	clock := testutil.NewClock()
	c := cluster.Start(t, 3, cluster.WithClock(clock.Now), cluster.WithConfig(handoffOnly))
	ctx := sloppyCtx(t)
	const key = "ttl-hinted"
	p := ttlPartition(t, ctx, c, key)

	ttlStale(t, ctx, c, clock, key)
	sloppyRetry(t, c, "the hint for n3 replayed", func(ctx context.Context) error {
		for _, i := range []int{1, 2} {
			s, err := c.Client(i).Status(ctx)
			if err != nil {
				return err
			}
			if n := s.HintsPending[c.ID(3)]; n != 0 {
				return fmt.Errorf("%s still keeps %d hints for n3", c.ID(i), n)
			}
		}
		return nil
	})
	sameRoots(t, c, p, 1, 2, 3)
	wantGone(t, ctx, c, 3, 3, key)

	onlyNode3(t, c)
	wantGone(t, ctx, c, 3, 1, key)
}

// TestTTL_ReadRepairAfterExpiry: without hints, node 3 comes back holding
// the old value. A read at r=3 answers not found (the expired write
// supersedes "old"), and its read repair ships the expired object to node
// 3, which then holds what the others hold and reads as not found alone.
func TestTTL_ReadRepairAfterExpiry(t *testing.T) {
	clock := testutil.NewClock()
	noHints := func(i int, cfg *config.Config) {
		handoffOnly(i, cfg)
		cfg.Handoff.Hints = false
	}
	c := cluster.Start(t, 3, cluster.WithClock(clock.Now), cluster.WithConfig(noHints))
	ctx := sloppyCtx(t)
	const key = "ttl-repaired"
	p := ttlPartition(t, ctx, c, key)

	ttlStale(t, ctx, c, clock, key)
	sloppyRetry(t, c, "a read at r=3 repairing n3", func(ctx context.Context) error {
		obj, err := c.Client(1).Get(ctx, key, &client.ReadOptions{R: 3})
		if err != nil {
			return err
		}
		if obj.Found {
			t.Fatalf("get at r=3 after the expiry: %q; want not found", values(obj))
		}
		return nil
	})
	sameRoots(t, c, p, 1, 2, 3)

	onlyNode3(t, c)
	wantGone(t, ctx, c, 3, 1, key)
}

// TestTTL_AntiEntropyAfterExpiry: with anti-entropy on and no hints, the
// exchange brings node 3 the expired object (its expiry is part of what the
// trees hash), and node 3 alone then reads not found.
func TestTTL_AntiEntropyAfterExpiry(t *testing.T) {
	clock := testutil.NewClock()
	withAE := func(i int, cfg *config.Config) {
		handoffOnly(i, cfg)
		cfg.Handoff.Hints = false
		cfg.Entropy.Enabled = true
		cfg.Entropy.Interval = 10 * time.Millisecond
		cfg.Entropy.SweepInterval = 4 * time.Second
	}
	c := cluster.Start(t, 3, cluster.WithClock(clock.Now), cluster.WithConfig(withAE))
	ctx := sloppyCtx(t)
	const key = "ttl-entropy"
	p := ttlPartition(t, ctx, c, key)

	ttlStale(t, ctx, c, clock, key)
	sameRoots(t, c, p, 1, 2, 3)

	onlyNode3(t, c)
	wantGone(t, ctx, c, 3, 1, key)
}
