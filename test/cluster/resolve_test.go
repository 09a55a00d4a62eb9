package cluster_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/test/cluster"
)

// TestCluster_ResolveOnWriteAcrossReplicas: n1 and n2 resolve with lww on
// write; n3 resolves nothing, so its reads show what the replicas store.
// Two writes with the same context are coordinated by n1 and n2. Whether
// the second coordinator had the first write by then (and resolved) or not
// (and the two met later, in replication), the replicas end up holding
// either the two writes or one resolution of them — never a third value
// minted by a replica resolving on merge — and every node serves the same
// value. A write with the read's context then leaves one sibling.
func TestCluster_ResolveOnWriteAcrossReplicas(t *testing.T) {
	c := cluster.Start(t, 3, cluster.WithConfig(func(i int, cfg *config.Config) {
		if i != 3 {
			cfg.Resolution.Default = "lww"
			cfg.Resolution.OnWrite = true
		}
	}))
	ctx := ctxFor(t)
	resolvedAtWrite := 0
	const keys = 5
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		base, err := c.Client(1).Put(ctx, key, []byte("base"), &client.WriteOptions{W: 3})
		if err != nil {
			t.Fatal(err)
		}
		var written []string
		for _, i := range []int{1, 2} {
			v := fmt.Sprintf("%s-from-%s", key, c.ID(i))
			if _, err := c.Client(i).Put(ctx, key, []byte(v), &client.WriteOptions{W: 2, Context: base.Context}); err != nil {
				t.Fatalf("put %s through %s: %v", key, c.ID(i), err)
			}
			written = append(written, v)
		}

		raw, err := c.Client(3).Get(ctx, key, &client.ReadOptions{R: 3})
		if err != nil {
			t.Fatal(err)
		}
		stored := values(raw)
		slices.Sort(stored)
		switch {
		case len(stored) == 2 && slices.Equal(stored, written):
		case len(stored) == 1 && slices.Contains(written, stored[0]):
			resolvedAtWrite++
		default:
			t.Fatalf("%s: the replicas hold %q, want the two writes %q or one resolution of them", key, stored, written)
		}

		var served []string
		for i := 1; i <= 2; i++ {
			obj, err := c.Client(i).Get(ctx, key, &client.ReadOptions{R: 3})
			if err != nil {
				t.Fatalf("get %s through %s: %v", key, c.ID(i), err)
			}
			if len(obj.Siblings) != 1 {
				t.Fatalf("get %s through %s: %q, want one resolved value", key, c.ID(i), values(obj))
			}
			served = append(served, string(obj.Siblings[0].Value))
		}
		if served[0] != served[1] || (len(stored) == 1 && served[0] != stored[0]) {
			t.Fatalf("%s: n1 and n2 serve %q, the replicas hold %q: want one value everywhere", key, served, stored)
		}

		if _, err := c.Client(2).Put(ctx, key, []byte("final"), &client.WriteOptions{W: 3, Context: raw.Context}); err != nil {
			t.Fatal(err)
		}
		raw, err = c.Client(3).Get(ctx, key, &client.ReadOptions{R: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := values(raw); !slices.Equal(got, []string{"final"}) {
			t.Fatalf("%s: after a write with the read's context the replicas hold %q, want final alone", key, got)
		}
	}
	t.Logf("%d of %d keys were resolved at the second write, the rest on read", resolvedAtWrite, keys)
}
