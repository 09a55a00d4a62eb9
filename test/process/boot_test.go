package process_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/test/process"
)

// bootRuns is how many fresh 3-node clusters TestBoot_WritesSucceedOnceAllReady
// boots.
const bootRuns = 10

// TestBoot_WritesSucceedOnceAllReady boots a fresh 3-node cluster (new data
// directories) bootRuns times. The moment every node answers /readyz 200 it
// writes a key through each node at the default quorum (W=2 of N=3) and
// reads it back through the same node (R=2). Readiness means the node and
// the peers it can reach route by the same ring, so no write may fail: a
// node still routing by a ring without its peers' joins answers 503 "1
// replicas reachable", which is what this test was written to catch.
func TestBoot_WritesSucceedOnceAllReady(t *testing.T) {
	if testing.Short() {
		t.Skip("boots ten clusters")
	}
	process.Binary(t) // built before the first boot's clock starts
	var readyTimes []time.Duration
	failures, byWait := 0, 0
	for run := range bootRuns {
		t.Run(fmt.Sprintf("boot%d", run+1), func(t *testing.T) {
			nodes := make([]*process.Node, 3)
			start := time.Now()
			nodes[0] = process.Launch(t, process.Options{ID: "p1", Args: clusterArgs("")})
			for i := 1; i < len(nodes); i++ {
				nodes[i] = process.Launch(t, process.Options{ID: fmt.Sprintf("p%d", i+1), Args: clusterArgs(nodes[0].GossipAddr())})
			}
			// Readiness stays once reached, so waiting for each in turn
			// ends the moment the last of them is ready.
			for _, n := range nodes {
				if err := n.WaitReady(60 * time.Second); err != nil {
					t.Fatalf("%s: %v", n.ID(), err)
				}
			}
			ready := time.Since(start)
			readyTimes = append(readyTimes, ready)
			// Every node first, then the reads: the writes are the ones
			// made at the moment all three are ready.
			keys := make([]string, len(nodes))
			for i, n := range nodes {
				keys[i] = fmt.Sprintf("boot%d-via-%s", run+1, n.ID())
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := n.Client().Put(ctx, keys[i], []byte(keys[i]), nil)
				cancel()
				if err != nil {
					failures++
					t.Errorf("PUT %s through %s %v after launch: %v", keys[i], n.ID(), time.Since(start).Round(time.Millisecond), err)
					keys[i] = ""
				}
			}
			for i, n := range nodes {
				if keys[i] == "" {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				obj, err := n.Client().Get(ctx, keys[i], nil)
				cancel()
				if err != nil || !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != keys[i] {
					failures++
					t.Errorf("GET %s through %s: %+v, %v", keys[i], n.ID(), obj, err)
				}
			}
			waited := 0
			for _, n := range nodes {
				n.Kill()
				// Ready because the agreement wait ran out, not because
				// the peers agreed: reported, as it is no failure by
				// itself on a loaded machine.
				if strings.Contains(n.Log(), "ready without ring agreement") {
					waited++
				}
			}
			byWait += waited
			t.Logf("boot %d: all 3 ready %v after launch (%d of them after the agreement wait ran out)", run+1, ready.Round(time.Millisecond), waited)
		})
	}
	t.Logf("%d boots, %d failed requests (of %d writes and their reads), %d nodes ready after the agreement wait ran out; time to all ready: %v",
		len(readyTimes), failures, 3*len(readyTimes), byWait, roundAll(readyTimes))
	if failures != 0 {
		t.Errorf("%d requests failed right after every node was ready, want 0", failures)
	}
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}
