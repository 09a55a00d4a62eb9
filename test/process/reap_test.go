package process_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
)

// TestReap_DeletedKeysStayDeleted deletes keys while one replica is down
// (hinted handoff off, so it keeps the old values), checks that no tombstone
// is reaped while that node is away, then brings it back: anti-entropy must
// spread the tombstones to it, then reap them everywhere, and no path may
// bring a deleted value back.
func TestReap_DeletedKeysStayDeleted(t *testing.T) {
	const keys = 30
	nodes := startCluster(t, 3, "--handoff.hints=false", "--entropy.interval", "100ms", "--entropy.sweep_interval", "20s", "--entropy.tombstone_grace", "1s")
	waitSameRing(t, nodes, 3, 30*time.Second)
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}
	for i := 0; i < keys; i++ {
		c, cancel := ctx()
		_, err := nodes[0].Client().Put(c, fmt.Sprintf("doomed-%d", i), []byte("old value"), &client.WriteOptions{W: 3})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	away := nodes[2]
	away.Kill()
	waitStatus(t, nodes[0], away.ID(), client.MemberDown, 30*time.Second)
	for i := 0; i < keys; i++ {
		key := fmt.Sprintf("doomed-%d", i)
		c, cancel := ctx()
		obj, err := nodes[0].Client().Get(c, key, nil)
		if err == nil {
			_, err = nodes[0].Client().Delete(c, key, &client.WriteOptions{Context: obj.Context})
		}
		cancel()
		if err != nil {
			t.Fatalf("delete %s: %v", key, err)
		}
	}

	// With a node away, no tombstone may be reaped: it may still hold, or
	// keep hints of, the deleted values. Let many exchanges pass to be
	// sure: reaping follows an exchange that found two replicas in sync,
	// so without such exchanges "nothing reaped" would prove nothing.
	live := nodes[:2]
	const awayExchanges = 30
	exchanges := aeInSync(t, live)
	deadline := time.Now().Add(60 * time.Second)
	for aeInSync(t, live) < exchanges+awayExchanges && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	ran := aeInSync(t, live) - exchanges
	if n := sumMetric(t, live, "dht_tombstones_reaped_total "); n != 0 {
		t.Fatalf("%d tombstone copies reaped while a replica holding the old values was away", n)
	}
	if ran < awayExchanges {
		t.Fatalf("only %d in-sync anti-entropy exchanges ran between the live nodes while %s was away, want %d: the check that none reaped saw too little",
			ran, away.ID(), awayExchanges)
	}
	t.Logf("while %s was away: %d in-sync exchanges between the live nodes, 0 tombstone copies reaped", away.ID(), ran)

	start := time.Now()
	away.Restart()
	deadline = time.Now().Add(90 * time.Second)
	reaped := 0
	for reaped < 3*keys && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		reaped = sumMetric(t, nodes, "dht_tombstones_reaped_total ")
	}
	if reaped < 3*keys {
		t.Fatalf("only %d of %d tombstone copies reaped 90s after the replica returned", reaped, 3*keys)
	}
	waitRootsEqual(t, nodes, 60*time.Second)

	resurrected := 0
	for _, n := range nodes {
		for i := 0; i < keys; i++ {
			c, cancel := ctx()
			obj, err := n.Client().Get(c, fmt.Sprintf("doomed-%d", i), &client.ReadOptions{R: 3})
			cancel()
			if err != nil {
				t.Fatalf("read after reaping: %v", err)
			}
			if obj.Found {
				resurrected++
			}
		}
	}
	t.Logf("keys=%d tombstone_copies_reaped=%d resurrected=%d reaped_after_return=%v", keys, reaped, resurrected, time.Since(start).Round(time.Millisecond))
	if resurrected > 0 {
		t.Fatalf("%d reads found a deleted key alive again", resurrected)
	}
}
