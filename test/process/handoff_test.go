package process_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

// TestHandoff_WritesReachAReplicaThatWasDown stops one of three replicas,
// writes 1000 keys at W=2, restarts it, waits for the hints to drain, then
// stops the other two: every key must be readable from the restarted node
// alone at R=1, which only hinted handoff can have put there.
func TestHandoff_WritesReachAReplicaThatWasDown(t *testing.T) {
	const keys = 1000
	// Anti-entropy off: only hinted handoff may bring the keys to the node.
	nodes := startCluster(t, 3, "--entropy.enabled=false")
	waitSameRing(t, nodes, 3, 30*time.Second)
	down := nodes[2]
	down.Kill()
	// Both coordinators must know: one that still counts the replica alive
	// sends it the write, and hints it only when its deadline passes.
	for _, n := range nodes[:2] {
		waitStatus(t, n, down.ID(), client.MemberDown, 30*time.Second)
	}

	acked := map[string]string{}
	indeterminate := 0
	for i := 0; i < keys; i++ {
		key, value := fmt.Sprintf("hinted-%d", i), fmt.Sprintf("v%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := nodes[i%2].Client().Put(ctx, key, []byte(value), &client.WriteOptions{W: 2})
		cancel()
		switch {
		case err == nil:
			acked[key] = value
		case client.IsIndeterminate(err):
			indeterminate++
		default:
			t.Fatalf("write %s with one replica down: %v", key, err)
		}
	}

	// The hints wait where the coordinators left them, and /admin/status
	// (what dhtctl status shows) says so. A coordinator's hint queue
	// stores them after it has answered the client, so retry.
	kept := 0
	deadline := time.Now().Add(30 * time.Second)
	for {
		kept = 0
		for _, n := range nodes[:2] {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := n.Client().Status(ctx)
			cancel()
			if err != nil {
				t.Fatalf("%s status: %v", n.ID(), err)
			}
			kept += st.HintsPending[down.ID()]
		}
		if kept >= len(acked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/admin/status shows %d hints for %s, want at least one per acknowledged write (%d)", kept, down.ID(), len(acked))
		}
		time.Sleep(200 * time.Millisecond)
	}

	start := time.Now()
	down.Restart()
	waitAllAlive(t, nodes, 30*time.Second)
	deadline = time.Now().Add(60 * time.Second)
	var pending int
	for {
		pending = 0
		for _, n := range nodes[:2] {
			p, err := pendingHints(n)
			if err != nil {
				t.Fatalf("%s metrics: %v", n.ID(), err)
			}
			pending += p
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d hints still pending 60s after the replica returned", pending)
		}
		time.Sleep(200 * time.Millisecond)
	}
	drained := time.Since(start)

	for _, n := range nodes[:2] {
		if code, err := n.Stop(15 * time.Second); err != nil || code != 0 {
			t.Fatalf("stopping %s: exit %d, %v", n.ID(), code, err)
		}
	}
	lost := 0
	for key, value := range acked {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		obj, err := down.Client().Get(ctx, key, &client.ReadOptions{R: 1})
		cancel()
		if err != nil || !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != value {
			lost++
			if lost <= 5 {
				t.Errorf("%s from the restarted node alone: %+v, %v", key, obj, err)
			}
		}
	}
	t.Logf("acknowledged=%d indeterminate=%d hints_kept=%d lost=%d hints_drained_after=%v", len(acked), indeterminate, kept, lost, drained.Round(time.Millisecond))
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes missing on the replica that was down", lost, len(acked))
	}
}

// waitStatus retries until via reports node with the given status.
func waitStatus(t *testing.T, via *process.Node, node, status string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		members, err := via.Client().Members(ctx)
		cancel()
		if err == nil {
			for _, m := range members {
				if m.ID == node && m.Status == status {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s never saw %s as %s within %v", via.ID(), node, status, timeout)
}

// pendingHints sums dht_hints_pending over targets in n's /metrics.
func pendingHints(n *process.Node) (int, error) {
	resp, err := process.HTTPClient().Get(n.URL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	total := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "dht_hints_pending{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", line, err)
		}
		total += int(v)
	}
	return total, sc.Err()
}
