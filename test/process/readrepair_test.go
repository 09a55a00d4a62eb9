package process_test

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

// TestReadRepair_OneFullReadLeavesNoStaleReplica makes one replica stale
// with hinted handoff off (and no anti-entropy to mend it): its node is down
// while 200 keys are written at W=2. After it returns, one R=N read of each
// key must repair it: with the other two nodes stopped, the repaired node
// alone must hold every key.
func TestReadRepair_OneFullReadLeavesNoStaleReplica(t *testing.T) {
	const keys = 200
	nodes := startCluster(t, 3, "--handoff.hints=false", "--entropy.enabled=false")
	waitSameRing(t, nodes, 3, 30*time.Second)
	stale := nodes[2]
	stale.Kill()
	for _, n := range nodes[:2] {
		waitStatus(t, n, stale.ID(), client.MemberDown, 30*time.Second)
	}

	acked := map[string]string{}
	for i := 0; i < keys; i++ {
		key, value := fmt.Sprintf("repair-%d", i), fmt.Sprintf("v%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := nodes[i%2].Client().Put(ctx, key, []byte(value), nil); err != nil {
			cancel()
			t.Fatalf("write %s: %v", key, err)
		}
		cancel()
		acked[key] = value
	}
	stale.Restart()
	waitAllAlive(t, nodes, 30*time.Second)

	repairsBefore := readRepairs(t, nodes[0])
	for key := range acked {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		obj, err := nodes[0].Client().Get(ctx, key, &client.ReadOptions{R: 3})
		cancel()
		if err != nil || !obj.Found {
			t.Fatalf("R=3 read of %s: %+v, %v", key, obj, err)
		}
	}
	repaired := readRepairs(t, nodes[0]) - repairsBefore

	for _, n := range nodes[:2] {
		if code, err := n.Stop(15 * time.Second); err != nil || code != 0 {
			t.Fatalf("stopping %s: exit %d, %v", n.ID(), code, err)
		}
	}
	staleLeft := 0
	for key, value := range acked {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		obj, err := stale.Client().Get(ctx, key, &client.ReadOptions{R: 1})
		cancel()
		if err != nil || !obj.Found || string(obj.Siblings[0].Value) != value {
			staleLeft++
		}
	}
	t.Logf("keys=%d read_repairs=%d stale_replicas_left=%d", len(acked), repaired, staleLeft)
	if staleLeft > 0 {
		t.Fatalf("%d of %d keys still stale on the returned replica after one R=N read each", staleLeft, len(acked))
	}
	if repaired < len(acked) {
		t.Errorf("dht_read_repairs_total rose by %d, want at least %d", repaired, len(acked))
	}
}

// readRepairs reads dht_read_repairs_total from n's /metrics.
func readRepairs(t *testing.T, n *process.Node) int {
	t.Helper()
	resp, err := process.HTTPClient().Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "dht_read_repairs_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(f)
		}
	}
	return 0
}
