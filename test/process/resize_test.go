package process_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

// TestMembership_ResizesTheRingOnline grows a 3-node ring from 64 to 256
// partitions in two steps (`dhtctl resize`'s API) under a write and read
// load: no read or write fails while the nodes switch, every node ends on
// the resized ring, no replica is moved over the
// network (the handoff counters do not move, where a resize that builds a
// new ring would send every replica). A node restarted then comes back on
// the resized ring, and a fourth node joins it and takes its share.
// Nothing acknowledged is lost or answered not-found, and every key is on
// exactly 3 replicas, once each, under the resized layout.
func TestMembership_ResizesTheRingOnline(t *testing.T) {
	nodes := startCluster(t, 3, membershipArgs...)
	waitSameRing(t, nodes, 3, 30*time.Second)
	waitSettled(t, nodes, 3, 60*time.Second)
	waitRecordsSettled(t, nodes, 30*time.Second)
	l := startPacedLoad(t, 2, 5*time.Millisecond, nodes)
	time.Sleep(3 * time.Second) // some data before the split

	movedBefore := sumMetric(t, nodes, "dht_handoff_bytes_total")
	failures := func() int64 { return l.readErrors.Load() + l.failed.Load() + l.indeterminate.Load() }
	failedBefore, readsBefore, writesBefore := failures(), l.reads.Load(), l.attempted.Load()
	resizes := 0
	for _, q := range []int{128, 256} {
		start := time.Now()
		resize(t, nodes[resizes%3], q)
		resizes++
		deadline := time.Now().Add(30 * time.Second)
		for {
			ring := waitSameRing(t, nodes, 3, 30*time.Second)
			if ring.Partitions == q {
				t.Logf("every node on %d partitions %v after the resize was accepted", q, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the nodes agree on a ring of %d partitions, 30 s after a resize to %d", ring.Partitions, q)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(3 * time.Second) // the load goes on over the new ring
	}
	moved := sumMetric(t, nodes, "dht_handoff_bytes_total") - movedBefore
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
	l.setTargets(nodes[:2])
	if _, err := nodes[2].Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	nodes[2].Restart()
	if err := nodes[2].WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	l.setTargets(nodes)
	if ring := waitSameRing(t, nodes, 3, 30*time.Second); ring.Partitions != 256 {
		t.Fatalf("after a restart the nodes agree on %d partitions, want 256", ring.Partitions)
	}
	joiner := addNode(t, "p4", nodes[0])
	nodes = append(nodes, joiner)
	waitSettled(t, nodes, 4, 120*time.Second)
	if ring := waitSameRing(t, nodes, 4, 30*time.Second); ring.Partitions != 256 {
		t.Fatalf("with a joiner the nodes agree on %d partitions, want 256", ring.Partitions)
	}

	acked := l.halt()
	l.report(t)
	stored := 0
	for _, v := range acked {
		stored += len(v)
	}
	t.Logf("resized 64 → 256 in %d steps: %d bytes sent by handoff; a resize that builds a new ring would send every replica, %d keys × 3 (%d value bytes and more)",
		resizes, moved, len(acked), 3*stored)
	if moved != 0 {
		t.Errorf("%d bytes moved by handoff during the resizes, want 0", moved)
	}
	if n := l.falseNotFound.Load(); n > 0 {
		t.Fatalf("%d false not-found reads", n)
	}
	assertReadable(t, nodes[0], acked)
	assertReplicas(t, nodes, acked, 3) // stops the nodes
}

// resize asks via to grow the ring to q partitions, retrying while the
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
