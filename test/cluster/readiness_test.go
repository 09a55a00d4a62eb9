package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/test/cluster"
)

// TestCluster_ReadyOnlyWithTheClusterRing restarts a node on wiped storage
// (the memory engine) and checks it the moment its /readyz first says 200:
// readiness promises a known ring, so the node must route by the cluster's
// ring, not by one it made up alone, and a read at r=2 must find every key
// acknowledged at w=3 before the wipe.
func TestCluster_ReadyOnlyWithTheClusterRing(t *testing.T) {
	const keys = 20
	c := cluster.Start(t, 3, cluster.WithMemoryStorage())
	ctx := ctxFor(t)
	for k := range keys {
		if _, err := c.Client(1).Put(ctx, fmt.Sprintf("k%02d", k), []byte("v"), &client.WriteOptions{W: 3}); err != nil {
			t.Fatalf("put at w=3: %v", err)
		}
	}
	want, err := c.Client(1).Ring(ctx)
	if err != nil {
		t.Fatalf("ring through n1: %v", err)
	}

	c.Kill(3)
	c.WaitStatus(t, 3, client.MemberDown, 15*time.Second)
	c.Restart(3)
	readyAfter := waitFirstReady(t, c, 3, 15*time.Second)
	got, err := c.Client(3).Ring(ctx)
	if err != nil {
		t.Fatalf("ring through n3: %v", err)
	}
	notFound, failed := 0, 0
	for k := range keys {
		obj, err := c.Client(3).Get(ctx, fmt.Sprintf("k%02d", k), &client.ReadOptions{R: 2})
		switch {
		case err != nil:
			failed++
		case !obj.Found:
			notFound++
		}
	}
	t.Logf("n3 ready %v after its restart, with ring version %d and partition 0 on %q (the cluster's: %q); "+
		"reads at r=2 through it: %d of %d keys not found, %d failed",
		readyAfter.Round(time.Millisecond), got.Version, got.Replicas[0], want.Replicas[0], notFound, keys, failed)
	if !slices.EqualFunc(got.Replicas, want.Replicas, slices.Equal) {
		t.Errorf("n3 became ready with a ring other than the cluster's")
	}
	if notFound+failed > 0 {
		t.Errorf("right after n3 became ready, %d of %d acknowledged keys were not found and %d reads failed through it", notFound, keys, failed)
	}
}

// TestCluster_SeedlessRestartReadyWithItsPeers restarts the node that has
// no seeds (the first node of a cluster, which finds its peers again from
// gossip's snapshot) and reads through it the moment /readyz first says
// 200: serf rejoins those peers in the background, so a node ready before
// they answer would, once they do, refuse every request until it merged
// their ring (in one process the rejoin usually comes first; the process
// suite's TestCleanStop_LameDuckLeaveAndRejoin met that race in CI). Then,
// with every peer down, the same node must still become
// ready alone, within cluster.ready_agreement_wait, and take writes.
func TestCluster_SeedlessRestartReadyWithItsPeers(t *testing.T) {
	const keys = 20
	const agreementWait = 3 * time.Second
	c := cluster.Start(t, 3, cluster.WithConfig(func(i int, cfg *config.Config) {
		cfg.Cluster.ReadyAgreementWait = agreementWait
		if i == 1 {
			cfg.Cluster.Seeds = ""
		}
	}))
	ctx := ctxFor(t)
	c.Kill(1)
	c.WaitStatus(t, 1, client.MemberDown, 15*time.Second)
	for k := range keys {
		if _, err := c.Client(2).Put(ctx, fmt.Sprintf("k%02d", k), []byte("v"), &client.WriteOptions{W: 2}); err != nil {
			t.Fatalf("put at w=2 while n1 is down: %v", err)
		}
	}
	c.Restart(1)
	readyAfter := waitFirstReady(t, c, 1, 30*time.Second)
	var failures []error
	for k := range keys {
		obj, err := c.Client(1).Get(ctx, fmt.Sprintf("k%02d", k), &client.ReadOptions{R: 2})
		switch {
		case err != nil:
			failures = append(failures, err)
		case !obj.Found:
			failures = append(failures, fmt.Errorf("k%02d not found", k))
		}
	}
	t.Logf("n1, restarted without seeds, ready %v after its restart; reads at r=2 through it: %d of %d failed",
		readyAfter.Round(time.Millisecond), len(failures), keys)
	if len(failures) > 0 {
		t.Fatalf("right after n1 became ready, %d of %d reads through it failed; the first: %v", len(failures), keys, failures[0])
	}

	// Alone: its peers down, it waits for them at most the agreement wait.
	c.Kill(2)
	c.Kill(3)
	c.Kill(1)
	c.Restart(1)
	readyAfter = waitFirstReady(t, c, 1, 4*agreementWait)
	t.Logf("n1 alone ready %v after its restart (cluster.ready_agreement_wait %v)", readyAfter.Round(time.Millisecond), agreementWait)
	if _, err := c.Client(1).Put(ctx, "alone", []byte("v"), &client.WriteOptions{W: 1}); err != nil {
		t.Fatalf("a write at w=1 through n1 alone: %v", err)
	}
}

// waitFirstReady polls node i's /readyz without pause until it first
// answers 200, the moment the tests check, and returns how long that took.
func waitFirstReady(t *testing.T, c *cluster.Cluster, i int, timeout time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	c.Retry(t, timeout, fmt.Sprintf("n%d ready", i), func(ctx context.Context) error {
		for ctx.Err() == nil {
			if readyz(ctx, c.HTTPAddr(i)) == nil {
				return nil
			}
		}
		return errors.New("/readyz never answered 200")
	})
	return time.Since(begin)
}

// readyz returns nil when the node at addr answers /readyz with 200.
func readyz(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
