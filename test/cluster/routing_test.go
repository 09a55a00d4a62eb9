package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/cluster"
)

// TestRingRouting_StaleTableNoFailedRequest: a client that routes by the
// ring sends every key to an owner (no node sends a request on to another),
// and keeps working across a join made while it uses its table: writes and
// reads go on with no failed request, and the client picks up the new
// ring from the version the nodes answer with.
func TestRingRouting_StaleTableNoFailedRequest(t *testing.T) {
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)
	routed, err := client.New("http://"+c.HTTPAddr(1), client.WithRingRouting(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	plain := c.Client(1)
	if err := routed.RefreshRing(ctx); err != nil {
		t.Fatal(err)
	}
	before := routed.RingVersion()

	// Every owner holds a replica of every key on 3 nodes at N=3: add a
	// fourth first, so that owners matter.
	c.Add()
	c.WaitConverged(t, 60*time.Second)
	if err := routed.RefreshRing(ctx); err != nil {
		t.Fatal(err)
	}
	hops := func(cl *client.Client, keys int) (self, other float64) {
		b := ownerCounts(t, c)
		for i := range keys {
			if _, err := cl.Get(ctx, fmt.Sprintf("hop-%d", i), nil); err != nil {
				t.Fatal(err)
			}
		}
		a := ownerCounts(t, c)
		return a["self"] - b["self"], a["other"] - b["other"]
	}
	selfPlain, otherPlain := hops(plain, 200)
	selfRouted, otherRouted := hops(routed, 200)
	t.Logf("200 reads through %s: %v owned there, %v sent on to an owner; routed by the ring: %v at an owner, %v sent on",
		c.ID(1), selfPlain, otherPlain, selfRouted, otherRouted)
	if otherRouted != 0 || selfRouted != 200 {
		t.Errorf("routed reads: %v at an owner, %v sent on; want all 200 at an owner", selfRouted, otherRouted)
	}
	if otherPlain == 0 {
		t.Errorf("reads through one node of 4 at N=3 were never sent on: the measure cannot tell routing from none")
	}

	// A fifth node joins while the client writes and reads by the table
	// it holds: every request still succeeds.
	version := routed.RingVersion()
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("during-%d-%d", w, i)
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := routed.Put(rctx, key, []byte("v"), &client.WriteOptions{IfNoneMatch: "*"})
				if err == nil {
					var obj *client.Object
					obj, err = routed.Get(rctx, key, nil)
					if err == nil && !obj.Found {
						err = fmt.Errorf("%s: not found after its write", key)
					}
				}
				cancel()
				done.Add(1)
				if err != nil {
					failed.Add(1)
					t.Errorf("request during the join: %v", err)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	five := c.Add()
	c.WaitConverged(t, 60*time.Second)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d write-and-read rounds while %s joined: %d failed; ring version %d before, %d after (%d at the start)",
		done.Load(), c.ID(five), failed.Load(), version, routed.RingVersion(), before)
	if routed.RingVersion() == version {
		t.Errorf("the client still routes by ring version %d after %s joined", version, c.ID(five))
	}
}

// ownerCounts sums dht_requests_owner_total by owner over the running
// nodes.
func ownerCounts(t testing.TB, c *cluster.Cluster) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, i := range c.Live() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := scrape(ctx, c.HTTPAddr(i))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		out["self"] += m[`dht_requests_owner_total{owner="self"}`]
		out["other"] += m[`dht_requests_owner_total{owner="other"}`]
	}
	return out
}
