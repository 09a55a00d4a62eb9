package cluster_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/cluster"
)

// TestCluster_RacingIfMatchOneWins sends writes with the same ETag through
// every node at once. Each node sends a conditional write of the key to its
// first live primary, which tests the ETag as it mints the write: exactly
// one succeeds, every other is refused with 412, and every node then reads
// the winner's value alone.
func TestCluster_RacingIfMatchOneWins(t *testing.T) {
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)
	const key, perNode = "cas-race", 4

	created, err := c.Client(1).Put(ctx, key, []byte("v0"), &client.WriteOptions{IfNoneMatch: "*", W: 3})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	type result struct {
		value string
		err   error
	}
	results := make(chan result, c.N()*perNode)
	var wg sync.WaitGroup
	for i := 1; i <= c.N(); i++ {
		for j := range perNode {
			wg.Go(func() {
				value := fmt.Sprintf("from-%s-%d", c.ID(i), j)
				_, err := c.Client(i).Put(ctx, key, []byte(value), &client.WriteOptions{IfMatch: created.ETag})
				results <- result{value, err}
			})
		}
	}
	wg.Wait()
	close(results)
	var winners []string
	for r := range results {
		switch {
		case r.err == nil:
			winners = append(winners, r.value)
		case !errors.Is(r.err, client.ErrPreconditionFailed):
			t.Fatalf("write %s: %v, want success or 412", r.value, r.err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d writes with the same ETag succeeded (%v), want exactly 1", len(winners), winners)
	}
	for i := 1; i <= c.N(); i++ {
		obj, err := c.Client(i).Get(ctx, key, &client.ReadOptions{R: 3})
		if err != nil {
			t.Fatalf("get through %s: %v", c.ID(i), err)
		}
		if !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != winners[0] {
			t.Fatalf("get through %s = %v, want the winner %q alone", c.ID(i), values(obj), winners[0])
		}
	}

	// A delete without a context, through another node, deletes it.
	if _, err := c.Client(2).Delete(ctx, key, &client.WriteOptions{W: 3}); err != nil {
		t.Fatalf("delete without a context: %v", err)
	}
	for i := 1; i <= c.N(); i++ {
		obj, err := c.Client(i).Get(ctx, key, &client.ReadOptions{R: 3})
		if err != nil {
			t.Fatalf("get through %s after the delete: %v", c.ID(i), err)
		}
		if obj.Found {
			t.Fatalf("get through %s after the delete = %v, want not found", c.ID(i), values(obj))
		}
	}
}
