package cluster_test

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
	"github.com/dhtkv/dht/test/cluster"
)

// TestCluster_OperatorMetrics reads the metrics an operator's dashboard and
// alerts are built on from a real cluster, before and after a node fails:
// members by status, partitions short of live replicas, the ring version
// (the admin API's), the engine's size, and serf's and memberlist's own.
func TestCluster_OperatorMetrics(t *testing.T) {
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)
	for i := range 50 {
		if _, err := c.Client(1).Put(ctx, fmt.Sprintf("m-%d", i), []byte("v"), &client.WriteOptions{W: 3}); err != nil {
			t.Fatal(err)
		}
	}
	ring, err := c.Client(1).Ring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= c.N(); i++ {
		m, err := scrape(ctx, c.HTTPAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{
			`dht_members{status="alive"}`:        3,
			`dht_members{status="down"}`:         0,
			`dht_partitions_under_replicated`:    0,
			`dht_ring_version`:                   float64(ring.Version),
			`dht_storage_disk_bytes`:             -1, // present
			`dht_storage_compaction_bytes_total`: -1, // badger's, process-wide
		}
		if i == 1 { // the node the writes went through
			// The top bucket reaches the 5s request timeout.
			want[`dht_request_duration_seconds_bucket{op="put",le="6.5536"}`] = -1
		}
		for name, v := range want {
			got, ok := m[name]
			if !ok || v >= 0 && got != v {
				t.Errorf("%s: %s = %v (present %v), want %v", c.ID(i), name, got, ok, v)
			}
		}
		if !hasPrefix(m, "dht_memberlist_") || !hasPrefix(m, "dht_serf_") {
			t.Errorf("%s: no dht_memberlist_* or dht_serf_* series", c.ID(i))
		}
	}

	// Node 3 fails: at N=3 on three nodes it holds a replica of every
	// partition, so every partition is short of one.
	c.Kill(3)
	c.WaitStatus(t, 3, client.MemberDown, 30*time.Second)
	c.Retry(t, 10*time.Second, "metrics after a failure", func(ctx context.Context) error {
		m, err := scrape(ctx, c.HTTPAddr(1))
		if err != nil {
			return err
		}
		for name, v := range map[string]float64{
			`dht_members{status="alive"}`:     2,
			`dht_members{status="down"}`:      1,
			`dht_partitions_under_replicated`: float64(ring.Partitions),
		} {
			if m[name] != v {
				return fmt.Errorf("%s = %v, want %v", name, m[name], v)
			}
		}
		return nil
	})
}

// scrape reads a node's /metrics samples, by name with labels.
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		f, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", line, err)
		}
		out[line[:i]] = f
	}
	return out, sc.Err()
}

func hasPrefix(m map[string]float64, prefix string) bool {
	for name := range m {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}
