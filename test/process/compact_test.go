package process_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/test/process"
)

// TestMembership_CompactsTheRingAfterChurn replaces members one after
// another (a node joins, its transfers settle, it is decommissioned and
// exits) under a light load until the removed members' entries outweigh
// a base of the ring (ring.State.Compact): a node compacts the ring's
// history, gossip carries the smaller state to every node, a node
// restarted on its data directory reads the base back, and nothing is
// lost or answered not-found.
func TestMembership_CompactsTheRingAfterChurn(t *testing.T) {
	nodes := startCluster(t, 3, membershipArgs...)
	waitSameRing(t, nodes, 3, 30*time.Second)
	waitSettled(t, nodes, 3, 60*time.Second)
	l := startPacedLoad(t, 2, 10*time.Millisecond, nodes)

	stateBytes := func(n *process.Node) int { return sumMetric(t, []*process.Node{n}, "dht_ring_state_bytes ") }
	entries := func(n *process.Node) int { return sumMetric(t, []*process.Node{n}, "dht_ring_entries ") }
	compacted := func() bool {
		return slices.ContainsFunc(nodes, func(n *process.Node) bool { return strings.Contains(n.Log(), "compacted the ring's history") })
	}
	peak, peakEntries, rounds := 0, 0, 0
	for i := 0; i < 10 && !compacted(); i++ {
		x := addNode(t, fmt.Sprintf("churn%d", i), nodes[i%3])
		waitSettled(t, append(slices.Clone(nodes), x), 4, 120*time.Second)
		decommission(t, nodes[(i+1)%3], x)
		waitSettled(t, nodes, 3, 120*time.Second)
		waitRecordsSettled(t, nodes, 30*time.Second)
		rounds++
		if !compacted() {
			peak, peakEntries = max(peak, stateBytes(nodes[0])), max(peakEntries, entries(nodes[0]))
		}
	}
	if !compacted() {
		t.Fatalf("no node compacted the ring after %d members were replaced (ring state %d B)", rounds, peak)
	}
	// Every node ends on the compacted state: the owners' entries alone,
	// and one size. (The node compacted only because the state would
	// otherwise be larger: the round that compacted added an entry to the
	// last size measured before.)
	deadline := time.Now().Add(30 * time.Second)
	for {
		sizes, counts := make([]int, len(nodes)), make([]int, len(nodes))
		for i, n := range nodes {
			sizes[i], counts[i] = stateBytes(n), entries(n)
		}
		if slices.Max(counts) == 3 && slices.Min(sizes) == slices.Max(sizes) {
			t.Logf("%d members replaced: ring state %d B and %d entries the round before the compaction, %d B and 3 entries after, on every node",
				rounds, peak, peakEntries, sizes[0])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ring state sizes %v and entries %v after compaction; before, %d B and %d entries", sizes, counts, peak, peakEntries)
		}
		time.Sleep(250 * time.Millisecond)
	}
	version := waitSameRing(t, nodes, 3, 30*time.Second).Version

	// The base survives a restart: the node reads it from disk and
	// routes by the same ring.
	l.setTargets(nodes[:2])
	if _, err := nodes[2].Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	nodes[2].Restart()
	l.setTargets(nodes)
	if v := waitSameRing(t, nodes, 3, 30*time.Second).Version; v != version {
		t.Fatalf("ring version %d after the restart, %d before", v, version)
	}

	acked := l.halt()
	l.report(t)
	if l.falseNotFound.Load() > 0 {
		t.Fatalf("%d false not-found reads", l.falseNotFound.Load())
	}
	assertReadable(t, nodes[0], acked)
	assertReplicas(t, nodes, acked, 3) // stops the nodes
}
