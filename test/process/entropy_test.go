package process_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/process"
	"github.com/dhtkv/dht/wire"
)

// TestEntropy_ReplicasConverge runs three nodes with hinted handoff off, so
// only anti-entropy can mend what they miss, and checks two ways of falling
// behind: (a) a node's data dir is wiped and it restarts empty; (b) keys are
// written while a node is down, so they reach fewer than N replicas. Each
// time every partition's replicas must reach equal Merkle roots within a
// bounded time, and once in sync the repairs stop. Equal roots only say
// that the replicas agree; at the end every node's data directory is read
// and must hold every written key with its value, so that replicas agreeing
// on less data fail.
func TestEntropy_ReplicasConverge(t *testing.T) {
	const keys = 300
	written := map[string]string{}
	nodes := startCluster(t, 3, "--handoff.hints=false", "--entropy.interval", "100ms", "--entropy.sweep_interval", "20s")
	waitSameRing(t, nodes, 3, 30*time.Second)
	for i := 0; i < keys; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := nodes[i%3].Client().Put(ctx, fmt.Sprintf("ae-%d", i), []byte(fmt.Sprint(i)), &client.WriteOptions{W: 3})
		cancel()
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		written[fmt.Sprintf("ae-%d", i)] = fmt.Sprint(i)
	}
	waitRootsEqual(t, nodes, 60*time.Second)

	// (a) Wipe n3's data directory and restart it empty.
	wiped := nodes[2]
	wiped.Kill()
	if err := os.RemoveAll(wiped.DataDir()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	wiped.Restart()
	waitRootsEqual(t, nodes, 90*time.Second)
	t.Logf("(a) wiped node: keys=%d converged_after=%v repaired=%d", keys, time.Since(start).Round(time.Millisecond), aeRepaired(t, nodes))

	// (b) Keys written while n2 is down reach only two replicas.
	down := nodes[1]
	down.Kill()
	waitStatus(t, nodes[0], down.ID(), client.MemberDown, 30*time.Second)
	for i := 0; i < 100; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := nodes[0].Client().Put(ctx, fmt.Sprintf("short-%d", i), []byte("x"), &client.WriteOptions{W: 2})
		cancel()
		if err != nil {
			t.Fatalf("write with a node down: %v", err)
		}
		written[fmt.Sprintf("short-%d", i)] = "x"
	}
	start = time.Now()
	down.Restart()
	waitRootsEqual(t, nodes, 90*time.Second)
	t.Logf("(b) keys written to 2 of 3 replicas: 100, converged_after=%v", time.Since(start).Round(time.Millisecond))

	// Idle and in sync, anti-entropy finds nothing more to repair.
	before := aeRepaired(t, nodes)
	idleExchanges := aeInSync(t, nodes)
	deadline := time.Now().Add(10 * time.Second)
	for aeInSync(t, nodes) < idleExchanges+10 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if after := aeRepaired(t, nodes); after != before {
		t.Fatalf("anti-entropy repaired %d more copies while idle and in sync", after-before)
	}
	if aeInSync(t, nodes) < idleExchanges+10 {
		t.Fatal("anti-entropy ran fewer than 10 exchanges in 10s while idle")
	}

	// Every node is a replica of every partition (N=3 of 3): each must
	// hold every key with its value, read from its own data directory.
	assertEveryReplicaHolds(t, nodes, written)
}

// assertEveryReplicaHolds stops the nodes and reads each one's data
// directory: every node must store every key of want with exactly its
// value as the only live sibling. It reports, per node, what is missing,
// deleted or different.
func assertEveryReplicaHolds(t *testing.T, nodes []*process.Node, want map[string]string) {
	t.Helper()
	for _, n := range nodes {
		if code, err := n.Stop(30 * time.Second); err != nil || code != 0 {
			t.Fatalf("stopping %s: exit %d, %v", n.ID(), code, err)
		}
	}
	bad := 0
	for _, n := range nodes {
		stored := storedValues(t, n)
		missing, wrong := 0, 0
		for key, value := range want {
			got, ok := stored[key]
			switch {
			case !ok:
				missing++
			case len(got) != 1 || got[0] != value:
				wrong++
			default:
				continue
			}
			if missing+wrong <= 3 {
				t.Errorf("%s's data: key %s holds live values %q, want [%q]", n.ID(), key, got, value)
			}
		}
		t.Logf("%s's data: %d of %d keys with their value, %d missing, %d deleted or different", n.ID(), len(want)-missing-wrong, len(want), missing, wrong)
		bad += missing + wrong
	}
	if bad > 0 {
		t.Fatalf("%d replica copies missing or different, though every partition's replicas reported equal Merkle roots", bad)
	}
}

// storedValues opens a stopped node's data directory and returns every
// stored key's live values (none for a tombstone).
func storedValues(t *testing.T, n *process.Node) map[string][]string {
	t.Helper()
	e, err := persistence.Open(persistence.Options{Engine: persistence.EngineBadger, Dir: n.DataDir()})
	if err != nil {
		t.Fatalf("open %s's data: %v", n.ID(), err)
	}
	out := map[string][]string{}
	err = e.Scan(nil, nil, func(k, v []byte) bool {
		_, key, ok := persistence.SplitDataKey(k)
		if !ok {
			return true
		}
		obj, derr := wire.DecodeObject(v)
		if derr != nil {
			t.Errorf("%s's data: key %s: %v", n.ID(), key, derr)
			return true
		}
		values := []string{}
		for _, s := range obj.Live() {
			values = append(values, string(s.Value))
		}
		out[string(key)] = values
		return true
	})
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("scan %s's data: %v", n.ID(), err)
	}
	return out
}

// waitRootsEqual retries until, for every partition, all the nodes holding
// it report the same Merkle root.
func waitRootsEqual(t *testing.T, nodes []*process.Node, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		roots := map[uint32]map[uint64]bool{}
		holders := map[uint32]int{}
		ok := true
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := n.Client().Status(ctx)
			cancel()
			if err != nil {
				ok, last = false, err.Error()
				break
			}
			for p, root := range st.MerkleRoots {
				if roots[p] == nil {
					roots[p] = map[uint64]bool{}
				}
				roots[p][root] = true
				holders[p]++
			}
		}
		if ok {
			differing := 0
			for p := range roots {
				if len(roots[p]) != 1 || holders[p] != 3 {
					differing++
				}
			}
			if differing == 0 && len(roots) > 0 {
				return
			}
			last = fmt.Sprintf("%d of %d partitions have replicas with different roots", differing, len(roots))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("replicas did not converge within %v: %s", timeout, last)
}

// aeRepaired sums dht_ae_keys_repaired_total over nodes.
func aeRepaired(t *testing.T, nodes []*process.Node) int {
	return sumMetric(t, nodes, "dht_ae_keys_repaired_total ")
}

// aeInSync sums the exchanges that found replicas in sync.
func aeInSync(t *testing.T, nodes []*process.Node) int {
	return sumMetric(t, nodes, `dht_ae_exchanges_total{result="in_sync"} `)
}

// sumMetric adds up, on every node, the samples whose line starts with
// prefix: a metric's name (every sample, whatever its labels) or a name
// with its labels and the space before the value (that sample only).
func sumMetric(t *testing.T, nodes []*process.Node, prefix string) int {
	t.Helper()
	total := 0
	for _, n := range nodes {
		resp, err := process.HTTPClient().Get(n.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok || (rest != "" && !strings.HasSuffix(prefix, " ") && rest[0] != '{' && rest[0] != ' ') {
				continue
			}
			f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", n.ID(), line, err)
			}
			total += int(f)
		}
		resp.Body.Close()
	}
	return total
}
