package cluster_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/cluster"
	"github.com/dhtkv/dht/test/testutil"
	"github.com/dhtkv/dht/wire"
)

// TestCluster_SyncWritesReachEveryReplica runs the durable write path: with
// sync_writes on, the coordinating vnode answers a write twice, the object
// and then its durability, and the coordinator sends the object to the
// other replicas on the first answer. A write acknowledged at w=3 must then
// be in every node's engine, which is read directly once the nodes are
// stopped (anti-entropy off, no reads: nothing else copies it there), and a
// read-modify-write chain through changing nodes must supersede as it goes.
func TestCluster_SyncWritesReachEveryReplica(t *testing.T) {
	const keys, chain, partitions = 60, 20, 64
	c := cluster.Start(t, 3, cluster.WithPartitions(partitions), cluster.WithConfig(func(_ int, cfg *config.Config) {
		cfg.Storage.SyncWrites = true
		cfg.Entropy.Enabled = false
	}))
	ctx := ctxFor(t)
	rng := testutil.Rand(t)

	acked := map[string]string{}
	for k := range keys {
		i := 1 + rng.IntN(c.N())
		key, value := fmt.Sprintf("sync-%03d", k), fmt.Sprintf("value-%03d", k)
		res, err := c.Client(i).Put(ctx, key, []byte(value), &client.WriteOptions{W: 3})
		if err != nil {
			t.Fatalf("put %s through %s at w=3: %v", key, c.ID(i), err)
		}
		if res.Siblings != 1 {
			t.Errorf("put %s: %d siblings after the first write, want 1", key, res.Siblings)
		}
		acked[key] = value
	}

	// Each write carries the context of the one before, taken from the
	// write's answer, through a different node each time.
	var wctx string
	for k := range chain {
		i := 1 + k%c.N()
		value := fmt.Sprintf("link-%02d", k)
		res, err := c.Client(i).Put(ctx, "chain", []byte(value), &client.WriteOptions{W: 3, Context: wctx})
		if err != nil {
			t.Fatalf("chain write %d through %s: %v", k, c.ID(i), err)
		}
		if res.Siblings != 1 {
			t.Fatalf("chain write %d through %s left %d siblings, want 1: the context did not supersede", k, c.ID(i), res.Siblings)
		}
		wctx = res.Context
	}
	acked["chain"] = fmt.Sprintf("link-%02d", chain-1)

	for i := 1; i <= c.N(); i++ {
		c.Kill(i)
	}
	for i := 1; i <= c.N(); i++ {
		e, err := persistence.Open(persistence.Options{Dir: c.DataDir(i), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("open %s's engine: %v", c.ID(i), err)
		}
		missing := 0
		for key, want := range acked {
			raw, err := e.Get(persistence.DataKey(ring.PartitionOf([]byte(key), partitions), []byte(key)))
			if err != nil {
				missing++
				t.Errorf("%s's engine: %s: %v", c.ID(i), key, err)
				continue
			}
			set, err := wire.DecodeObject(raw)
			if err != nil || len(set.Siblings) != 1 || string(set.Siblings[0].Value) != want {
				missing++
				t.Errorf("%s's engine: %s holds %v (%v), want exactly %q", c.ID(i), key, set, err, want)
			}
		}
		_ = e.Close()
		t.Logf("%s: %d of %d writes acknowledged at w=3 in its engine", c.ID(i), len(acked)-missing, len(acked))
	}
}
