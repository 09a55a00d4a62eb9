package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/test/cluster"
)

// TestEntropy_EveryPairWithinTheSweep runs three full nodes (64
// partitions, N=3: each node exchanges 64 partitions with 2 peers, 128
// pairs) with a short entropy.sweep_interval (4s) and a rate limit of 10ms.
// Hinted handoff is off and keys are written while n3 is down, so only
// anti-entropy brings n3 up to date. Within a bounded wait every node must
// complete two sweeps; afterwards, sampled over one more sweep interval,
// every node's oldest pair (dht_ae_max_seconds_since_exchange) and last
// sweep (dht_ae_sweep_seconds) stay within the interval, and every
// partition's replicas report the same Merkle root.
func TestEntropy_EveryPairWithinTheSweep(t *testing.T) {
	const sweep = 4 * time.Second
	c := cluster.Start(t, 3, cluster.WithConfig(func(_ int, cfg *config.Config) {
		cfg.Handoff.Hints = false
		cfg.Entropy.Interval = 10 * time.Millisecond
		cfg.Entropy.SweepInterval = sweep
	}))
	c.Kill(3)
	c.WaitStatus(t, 3, client.MemberDown, 30*time.Second)
	for i := range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Client(1).Put(ctx, fmt.Sprintf("sweep-%d", i), []byte("v"), &client.WriteOptions{W: 2})
		cancel()
		if err != nil {
			t.Fatalf("write %d with n3 down: %v", i, err)
		}
	}
	c.Restart(3)
	c.WaitConverged(t, 30*time.Second)

	c.Retry(t, 6*sweep, "every node completes two sweeps", func(ctx context.Context) error {
		for i := 1; i <= 3; i++ {
			m, err := aeMetrics(ctx, c.HTTPAddr(i))
			if err != nil {
				return err
			}
			if m["dht_ae_sweeps_total"] < 2 {
				return fmt.Errorf("n%d has completed %v sweeps: %v", i, m["dht_ae_sweeps_total"], m)
			}
		}
		return nil
	})
	// One window of a sweep interval in which every sample holds. A node
	// that gossip suspects for a moment (fast test timings on a loaded
	// machine) has its exchanges skipped meanwhile, which legitimately
	// ages its pairs; so a window that fails starts over after the
	// cluster has converged again, at most three times. A scheduler that
	// misses its bound fails every window.
	window := func() error {
		for end := time.Now().Add(sweep); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			for i := 1; i <= 3; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				m, err := aeMetrics(ctx, c.HTTPAddr(i))
				cancel()
				if err != nil {
					return err
				}
				age, last, pairs := m["dht_ae_max_seconds_since_exchange"], m["dht_ae_sweep_seconds"], m["dht_ae_pairs"]
				if pairs != 128 || age > sweep.Seconds() || last <= 0 || last > sweep.Seconds() {
					return fmt.Errorf("n%d: %v pairs (want 128), oldest pair %.3fs, last sweep %.3fs: want both within the %v sweep interval",
						i, pairs, age, last, sweep)
				}
			}
		}
		return nil
	}
	// A failed window's figures can come from a sweep that began before
	// the failure's cause ended (dht_ae_sweep_seconds is the last completed
	// sweep's): the next window waits until every node has completed a
	// sweep since.
	sweeps := func(ctx context.Context) ([]float64, error) {
		out := make([]float64, 3)
		for i := 1; i <= 3; i++ {
			m, err := aeMetrics(ctx, c.HTTPAddr(i))
			if err != nil {
				return nil, err
			}
			out[i-1] = m["dht_ae_sweeps_total"]
		}
		return out, nil
	}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = window(); err == nil {
			break
		}
		t.Logf("window %d: %v", attempt, err)
		c.WaitConverged(t, 30*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		before, serr := sweeps(ctx)
		cancel()
		if serr != nil {
			t.Fatal(serr)
		}
		c.Retry(t, 3*sweep, "every node completes a sweep after the failed window", func(ctx context.Context) error {
			now, err := sweeps(ctx)
			if err != nil {
				return err
			}
			for i := range now {
				if now[i] <= before[i] {
					return fmt.Errorf("n%d has completed no sweep since (%v)", i+1, now[i])
				}
			}
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		m, err := aeMetrics(context.Background(), c.HTTPAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("n%d: sweeps=%v last_sweep=%.3fs max_since_exchange=%.3fs exchanges in_sync=%v repaired=%v aborted=%v copies_repaired=%v",
			i, m["dht_ae_sweeps_total"], m["dht_ae_sweep_seconds"], m["dht_ae_max_seconds_since_exchange"],
			m[`dht_ae_exchanges_total{result="in_sync"}`], m[`dht_ae_exchanges_total{result="repaired"}`],
			m[`dht_ae_exchanges_total{result="aborted"}`], m["dht_ae_keys_repaired_total"])
	}
	c.Retry(t, 10*time.Second, "every partition's replicas report the same Merkle root", func(ctx context.Context) error {
		roots := map[uint32]map[uint64]bool{}
		for i := 1; i <= 3; i++ {
			st, err := c.Client(i).Status(ctx)
			if err != nil {
				return err
			}
			for p, r := range st.MerkleRoots {
				if roots[p] == nil {
					roots[p] = map[uint64]bool{}
				}
				roots[p][r] = true
			}
		}
		if len(roots) != 64 {
			return fmt.Errorf("roots reported for %d partitions, want 64", len(roots))
		}
		for p, rs := range roots {
			if len(rs) != 1 {
				return fmt.Errorf("partition %d's replicas have %d different roots", p, len(rs))
			}
		}
		return nil
	})
}

// aeMetrics reads a node's dht_ae_* samples, by name with labels.
func aeMetrics(ctx context.Context, addr string) (map[string]float64, error) {
	all, err := scrape(ctx, addr)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, v := range all {
		if strings.HasPrefix(name, "dht_ae_") {
			out[name] = v
		}
	}
	return out, nil
}
