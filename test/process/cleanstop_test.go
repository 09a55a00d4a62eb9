package process_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

// TestCleanStop_LameDuckLeaveAndRejoin stops the cluster's first node (the
// one with no seeds) with SIGTERM, as Kubernetes or a rolling restart
// does, and restarts it:
//   - during http.lame_duck it answers /readyz 503 and still serves reads;
//   - it leaves gossip before it exits, so no "Shutdown without a Leave";
//   - its peers log the lost connection to it at INFO, not ERROR, and show
//     it down (it keeps its partitions);
//   - restarted with no seeds, it rejoins the peers it knew.
func TestCleanStop_LameDuckLeaveAndRejoin(t *testing.T) {
	nodes := startCluster(t, 3, "--http.lame_duck", "2s")
	stopping, peers := nodes[0], nodes[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := stopping.Client().Put(ctx, "before-stop", []byte("v"), &client.WriteOptions{W: 3}); err != nil {
		t.Fatal(err)
	}
	peerLogAt := make([]int, len(peers))
	for i, p := range peers {
		peerLogAt[i] = len(p.Log())
	}

	type stopResult struct {
		code int
		err  error
	}
	stopped := make(chan stopResult, 1)
	go func() {
		code, err := stopping.Stop(60 * time.Second)
		stopped <- stopResult{code, err}
	}()
	// Lame duck: not ready, still serving.
	sawUnready := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !sawUnready; time.Sleep(20 * time.Millisecond) {
		resp, err := process.HTTPClient().Get(stopping.URL() + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		sawUnready = resp.StatusCode == http.StatusServiceUnavailable
	}
	if !sawUnready {
		t.Fatal("/readyz did not answer 503 after SIGTERM")
	}
	obj, err := stopping.Client().Get(ctx, "before-stop", nil)
	if err != nil || !obj.Found {
		t.Fatalf("a read during the lame duck: %+v, %v; want the value", obj, err)
	}
	res := <-stopped
	if res.err != nil || res.code != 0 {
		t.Fatalf("stop: exit %d, %v", res.code, res.err)
	}
	log := stopping.Log()
	if !strings.Contains(log, "lame duck") || !strings.Contains(log, "leaving gossip") {
		t.Errorf("the stopped node's log names no lame duck or no leave:\n%s", log)
	}
	if strings.Contains(log, "Shutdown without a Leave") {
		t.Errorf("the stopped node shut gossip down without a leave:\n%s", log)
	}
	for _, p := range peers {
		waitStatus(t, p, stopping.ID(), client.MemberDown, 30*time.Second)
	}
	for i, p := range peers {
		planned := 0
		for _, line := range strings.Split(p.Log()[peerLogAt[i]:], "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("%s logged an error for a planned stop: %s", p.ID(), line)
			}
			if strings.Contains(line, "planned=true") {
				planned++
			}
		}
		t.Logf("%s: %d lost-connection lines logged at INFO as planned", p.ID(), planned)
	}
	// Writes go on while it is down (hints keep its copies).
	if _, err := peers[0].Client().Put(ctx, "while-stopped", []byte("v"), &client.WriteOptions{W: 2}); err != nil {
		t.Fatalf("a write while the node is stopped: %v", err)
	}

	// Restarted without seeds, it finds its peers again.
	stopping.Restart()
	waitAllAlive(t, nodes, 30*time.Second)
	obj, err = stopping.Client().Get(ctx, "while-stopped", &client.ReadOptions{R: 2})
	if err != nil || !obj.Found {
		t.Fatalf("read through the restarted node: %+v, %v; want the value written while it was stopped", obj, err)
	}
}
