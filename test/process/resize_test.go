package process_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

// TestMembership_ResizesTheRingOnline grows a 5-node ring from 64 to 256
// partitions in two steps (`dhtctl resize`'s API) under a write and read
// load: no read or write fails while the nodes switch, and every node ends
// on the resized ring. The split itself moves nothing; the rebalance each
// resize records (5 nodes do not divide 3 × 64 replicas evenly, and the
// split doubles the spread) hands a few replicas from the nodes above
// their share to those below with ordinary transfers, which must finish
// and settle: a small fraction of the keys moves, where a resize that
// builds a new ring would send every replica. A node restarted then comes
// back on the resized ring, and a sixth node joins it and takes its share.
// Nothing acknowledged is lost or answered not-found, and every key is on
// exactly 3 replicas, once each, under the resized layout.
func TestMembership_ResizesTheRingOnline(t *testing.T) {
	const size = 5
	nodes := startCluster(t, size, membershipArgs...)
	waitSameRing(t, nodes, size, 30*time.Second)
	waitSettled(t, nodes, size, 60*time.Second)
	waitRecordsSettled(t, nodes, 30*time.Second)
	l := startPacedLoad(t, 2, 5*time.Millisecond, nodes)
	time.Sleep(3 * time.Second) // some data before the split

	// A listing begun before the first resize: its first page here, the
	// rest once the ring has grown.
	// The keys acknowledged by now, at W=2, are on at least 2 of their 3
	// replicas, so a page merged from 2 of them (listPage) lists each.
	l.mu.Lock()
	present := slices.Clone(l.ackKeys)
	l.mu.Unlock()
	listed := map[string]int{}
	cursor := listPage(t, nodes[0], "", listed)
	if cursor == "" {
		t.Fatal("the first page of the listing ended it: the test wants a cursor from before the resize")
	}

	movedBefore := sumMetric(t, nodes, "dht_handoff_bytes_total")
	keysBefore := sumMetric(t, nodes, "dht_handoff_keys_total")
	failures := func() int64 { return l.readErrors.Load() + l.failed.Load() + l.indeterminate.Load() }
	failedBefore, readsBefore, writesBefore := failures(), l.reads.Load(), l.attempted.Load()
	resizes := 0
	for _, q := range []int{128, 256} {
		resizeAndWait(t, nodes, nodes[resizes%size], q, 30*time.Second)
		resizes++
		// The rebalance's transfers finish and the cluster agrees they
		// have: the next resize waits for that.
		t.Logf("the rebalance after the resize to %d settled in %v", q, waitSettled(t, nodes, size, 60*time.Second).Round(time.Millisecond))
		waitRecordsSettled(t, nodes, 30*time.Second)
		if q == 128 {
			// The cursor from the ring of 64 goes on over 128, and the
			// listing covers every key present since before it began
			// exactly once.
			pages := 0
			for ; cursor != ""; pages++ {
				cursor = listPage(t, nodes[pages%size], cursor, listed)
			}
			for _, k := range present {
				if listed[k] != 1 {
					t.Fatalf("key %s listed %d times by a listing across the resize", k, listed[k])
				}
			}
			t.Logf("a listing begun on 64 partitions ended on 128 in %d more pages: %d keys present throughout each listed once", pages, len(present))
		}
		time.Sleep(2 * time.Second) // the load goes on over the new ring
	}
	moved := sumMetric(t, nodes, "dht_handoff_bytes_total") - movedBefore
	movedKeys := sumMetric(t, nodes, "dht_handoff_keys_total") - keysBefore
	// Every key readable throughout: no request fails while the nodes
	// switch (each vnode holds what arrives, and a request for a vnode a
	// node has not yet is sent on by its key).
	failedDuring := failures() - failedBefore
	t.Logf("during the resizes: %d reads and %d writes, %d failed or indeterminate",
		l.reads.Load()-readsBefore, l.attempted.Load()-writesBefore, failedDuring)
	if failedDuring > 0 {
		t.Errorf("%d requests failed during the resizes, want 0 (the load's report below names them)", failedDuring)
	}
	for _, n := range nodes {
		replaced := 0
		for _, line := range strings.Split(n.Log(), "\n") {
			if strings.Contains(line, "replaced the vnodes for the resized ring") {
				replaced++
				t.Logf("%s: %s", n.ID(), line)
			}
		}
		if replaced != resizes {
			t.Errorf("%s replaced its vnodes %d times, want %d", n.ID(), replaced, resizes)
		}
	}

	// A node restarted on the resized ring comes back on it, and a node
	// that joins the resized ring (configured, like every node, with the
	// count the ring started with) takes its share of the new partitions.
	restartOutOfLoad(t, l, nodes)
	if ring := waitSameRing(t, nodes, size, 30*time.Second); ring.Partitions != 256 {
		t.Fatalf("after a restart the nodes agree on %d partitions, want 256", ring.Partitions)
	}
	joiner := addNode(t, "p6", nodes[0])
	nodes = append(nodes, joiner)
	waitSettled(t, nodes, size+1, 120*time.Second)
	if ring := waitSameRing(t, nodes, size+1, 30*time.Second); ring.Partitions != 256 {
		t.Fatalf("with a joiner the nodes agree on %d partitions, want 256", ring.Partitions)
	}

	acked := l.halt()
	l.report(t)
	stored := 0
	for _, v := range acked {
		stored += len(v)
	}
	t.Logf("resized 64 → 256 in %d steps: the rebalances sent %d keys (%d bytes) by handoff; a resize that builds a new ring would send every replica, %d keys × 3 (%d value bytes and more)",
		resizes, movedKeys, moved, len(acked), 3*stored)
	// 5 nodes cannot share 3 × 64 replicas evenly, and the split
	// doubles the spread: the rebalances move a handful of the 384 and
	// 768 replicas, about 1% of the keys.
	if movedKeys == 0 || movedKeys*10 > 3*len(acked) {
		t.Errorf("the rebalances moved %d keys by handoff, want some and at most a tenth of the %d replicas of the keys", movedKeys, 3*len(acked))
	}
	if n := l.falseNotFound.Load(); n > 0 {
		t.Fatalf("%d false not-found reads", n)
	}
	assertReadable(t, nodes[0], acked)
	assertReplicas(t, nodes, acked, 3) // stops the nodes
}

// listPage lists a page of 100 keys, merged from 2 replicas of each
// partition, via node from cursor, counting each
// key in listed, and returns the next cursor ("" at the end). A page
// refused as not ready is asked again.
func listPage(t *testing.T, via *process.Node, cursor string, listed map[string]int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		page, err := via.Client().List(ctx, client.ListOptions{Limit: 100, Cursor: cursor, R: 2})
		cancel()
		if err == nil && page.Partial == "" {
			for _, k := range page.Keys {
				listed[k.Key]++
			}
			return page.Cursor
		}
		if time.Now().After(deadline) {
			t.Fatalf("listing via %s from cursor %q: %v (partial: %q)", via.ID(), cursor, err, page.Partial)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// resizeAndWait resizes the ring to q partitions via node via and waits,
// at most timeout, until every node of nodes agrees on a ring of q
// partitions.
func resizeAndWait(t *testing.T, nodes []*process.Node, via *process.Node, q int, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	resize(t, via, q)
	deadline := start.Add(timeout)
	for {
		ring := waitSameRing(t, nodes, len(nodes), 30*time.Second)
		if ring.Partitions == q {
			t.Logf("every node on %d partitions %v after the resize was accepted", q, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes agree on a ring of %d partitions, %v after a resize to %d", ring.Partitions, timeout, q)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// resize asks via to resize the ring to q partitions, retrying while the
// cluster is not ready (409: a peer has not the latest ring yet).
func resize(t *testing.T, via *process.Node, q int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := via.Client().Resize(ctx, q)
		cancel()
		if err == nil {
			return
		}
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("resize to %d via %s: %v", q, via.ID(), err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestMembership_HalvesTheRingOnline halves a 5-node ring from 64
// partitions to 32, below the count it started with, under a write and
// read load, then grows it back to 64. The halving first aligns each pair
// of sibling partitions onto one replica set by ordinary transfers, then
// merges the pairs in place once those have settled; a resize that
// builds a new ring would send every replica, the align sends about half.
// On the halved ring a node restarts and comes back on it, and a sixth
// node (configured, like every node, with the count the ring started
// with) joins it. No read or write fails while the ring changes size,
// every node ends on each new count, nothing acknowledged is lost or
// answered not-found, and every key is on exactly 3 replicas, once each,
// at the end.
func TestMembership_HalvesTheRingOnline(t *testing.T) {
	size := 5
	nodes := startCluster(t, size, membershipArgs...)
	waitSameRing(t, nodes, size, 30*time.Second)
	waitSettled(t, nodes, size, 60*time.Second)
	waitRecordsSettled(t, nodes, 30*time.Second)
	l := startPacedLoad(t, 2, 5*time.Millisecond, nodes)
	time.Sleep(3 * time.Second) // some data before the halving

	failures := func() int64 { return l.readErrors.Load() + l.failed.Load() + l.indeterminate.Load() }
	failedDuring := int64(0)
	keysBefore := sumMetric(t, nodes, "dht_handoff_keys_total")
	for i, q := range []int{32, 64} {
		if q == 64 {
			// On the halved ring: a restart, and a join.
			restartOutOfLoad(t, l, nodes)
			if ring := waitSameRing(t, nodes, size, 30*time.Second); ring.Partitions != 32 {
				t.Fatalf("after a restart the nodes agree on %d partitions, want 32", ring.Partitions)
			}
			nodes = append(nodes, addNode(t, "p6", nodes[0]))
			size++
			l.setTargets(nodes)
			waitSettled(t, nodes, size, 120*time.Second)
			if ring := waitSameRing(t, nodes, size, 30*time.Second); ring.Partitions != 32 {
				t.Fatalf("with a joiner the nodes agree on %d partitions, want 32", ring.Partitions)
			}
			waitRecordsSettled(t, nodes, 30*time.Second)
		}
		failedBefore, phaseKeys := failures(), sumMetric(t, nodes, "dht_handoff_keys_total")
		resizeAndWait(t, nodes, nodes[i], q, 120*time.Second)
		t.Logf("settled on %d partitions in %v more", q, waitSettled(t, nodes, size, 90*time.Second).Round(time.Millisecond))
		waitRecordsSettled(t, nodes, 30*time.Second)
		time.Sleep(2 * time.Second) // the load goes on over the new ring
		failedDuring += failures() - failedBefore
		t.Logf("the resize to %d sent %d keys by handoff; %d acknowledged so far", q, sumMetric(t, nodes, "dht_handoff_keys_total")-phaseKeys, l.attempted.Load())
	}
	movedKeys := sumMetric(t, nodes, "dht_handoff_keys_total") - keysBefore
	if failedDuring > 0 {
		t.Errorf("%d requests failed while the ring halved and grew back, want 0 (the load's report below names them)", failedDuring)
	}
	acked := l.halt()
	l.report(t)
	t.Logf("halved 64 → 32, a restart and a join, grew back to 64: %d keys sent by handoff (the join's share included); a resize that builds a new ring would send every replica, %d keys × 3 each time",
		movedKeys, len(acked))
	if movedKeys == 0 || movedKeys >= 2*3*len(acked) {
		t.Errorf("the resizes and the join sent %d keys by handoff, want some and fewer than two new rings' %d", movedKeys, 2*3*len(acked))
	}
	if n := l.falseNotFound.Load(); n > 0 {
		t.Fatalf("%d false not-found reads", n)
	}
	assertReadable(t, nodes[0], acked)
	assertReplicas(t, nodes, acked, 3) // stops the nodes
}

// restartOutOfLoad restarts the last of nodes with the load kept off it
// while it is down, and puts the load back on every node once it is ready.
func restartOutOfLoad(t *testing.T, l *load, nodes []*process.Node) {
	t.Helper()
	last := nodes[len(nodes)-1]
	l.setTargets(nodes[:len(nodes)-1])
	if _, err := last.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	last.Restart()
	if err := last.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	l.setTargets(nodes)
}
