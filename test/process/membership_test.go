package process_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/process"
)

// membershipArgs are the extra flags of the membership tests: anti-entropy
// off, so only ownership handoff can move data to a new owner, and a short
// drop delay so that old owners hand back and drop within the test.
var membershipArgs = []string{"--entropy.enabled=false", "--handoff.drop_delay=2s"}

// load writes unique keys and reads back acknowledged ones, concurrently,
// through whichever nodes are in its target list, until stopped. It counts
// what the issue asks for: acknowledged writes, and false not-found reads
// (an acknowledged key answered 404).
type load struct {
	// gate is held shared by each operation from picking its node to its
	// answer, and exclusively by setTargets: once setTargets returns, no
	// operation still runs against a node it took out (one picked just
	// before would otherwise reach a node the test is stopping, and fail
	// for the test's own reason).
	gate    sync.RWMutex
	mu      sync.Mutex
	targets []target
	acked   map[string]string
	ackKeys []string
	// errs keeps the first failures' words, for the report.
	errs []string

	attempted, indeterminate, failed atomic.Int64
	reads, falseNotFound, readErrors atomic.Int64

	// pace is each worker's pause between two operations; 0 runs them
	// back to back.
	pace time.Duration

	stop chan struct{}
	wg   sync.WaitGroup
	t    *testing.T
	pool clients
}

// clients keeps one client per node address over one connection pool: a
// client per request would open a connection per request.
type clients struct {
	mu   sync.Mutex
	http *http.Client
	by   map[string]*client.Client
}

func (c *clients) of(t *testing.T, n target) *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.http == nil {
		c.http, c.by = process.HTTPClient(), map[string]*client.Client{}
	}
	url := n.url
	if cl, ok := c.by[url]; ok {
		return cl
	}
	cl, err := client.New(url, client.WithHTTPClient(c.http), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
	if err != nil {
		t.Errorf("client of %s: %v", n.id, err)
		return nil
	}
	c.by[url] = cl
	return cl
}

// target is a node as the load's workers see it: they must not touch a
// process.Node, which a restart changes under them.
type target struct{ id, url string }

func targetsOf(nodes []*process.Node) []target {
	out := make([]target, len(nodes))
	for i, n := range nodes {
		out[i] = target{id: n.ID(), url: n.URL()}
	}
	return out
}

func startLoad(t *testing.T, workers int, nodes []*process.Node) *load {
	return startPacedLoad(t, workers, 0, nodes)
}

// startPacedLoad is startLoad with each worker pausing pace between two
// operations: a light load, for clusters that share a small machine.
func startPacedLoad(t *testing.T, workers int, pace time.Duration, nodes []*process.Node) *load {
	l := &load{targets: targetsOf(nodes), acked: map[string]string{}, pace: pace, stop: make(chan struct{}), t: t}
	for w := range workers {
		l.wg.Go(func() { l.run(w) })
	}
	return l
}

// setTargets changes the nodes clients talk to (a node about to leave is
// taken out first, as an operator's load balancer would).
func (l *load) setTargets(nodes []*process.Node) {
	ts := targetsOf(nodes)
	l.gate.Lock()
	defer l.gate.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.targets = ts
}

// noteError keeps the first few failures' words for the report.
func (l *load) noteError(what string, n target, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, fmt.Sprintf("%s %s through %s: %v", time.Now().UTC().Format("15:04:05.000"), what, n.id, err))
	}
}

func (l *load) pick(r *rand.Rand) (target, string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.targets[r.IntN(len(l.targets))]
	if len(l.ackKeys) == 0 {
		return n, "", false
	}
	return n, l.ackKeys[r.IntN(len(l.ackKeys))], true
}

func (l *load) run(worker int) {
	r := rand.New(rand.NewPCG(uint64(worker), 7))
	// Bounded: at most 200k operations per worker, and it stops when told.
	for i := 0; i < 200_000; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		l.gate.RLock()
		ok := l.op(r, worker, i)
		l.gate.RUnlock()
		if !ok {
			return
		}
		if l.pace > 0 {
			select {
			case <-l.stop:
				return
			case <-time.After(l.pace):
			}
		}
	}
}

// op runs one operation, a read of an acknowledged key or a write of a new
// one, through a node of the target list; false when the load must end.
func (l *load) op(r *rand.Rand, worker, i int) bool {
	n, readKey, canRead := l.pick(r)
	c := l.pool.of(l.t, n)
	if c == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if canRead && i%2 == 1 {
		l.reads.Add(1)
		obj, err := c.Get(ctx, readKey, &client.ReadOptions{R: 2})
		switch {
		case err != nil:
			l.readErrors.Add(1)
			l.noteError("read "+readKey, n, err)
		case !obj.Found:
			l.falseNotFound.Add(1)
			l.t.Errorf("false not-found: acknowledged key %s read through %s; %s", readKey, n.id, l.diagnose(c, readKey))
		}
		return true
	}
	key, value := fmt.Sprintf("m%d-%d", worker, i), fmt.Sprintf("v%d-%d", worker, i)
	l.attempted.Add(1)
	_, err := c.Put(ctx, key, []byte(value), &client.WriteOptions{W: 2})
	switch {
	case err == nil:
		l.mu.Lock()
		l.acked[key] = value
		l.ackKeys = append(l.ackKeys, key)
		l.mu.Unlock()
	case client.IsIndeterminate(err):
		l.indeterminate.Add(1)
	default:
		l.failed.Add(1)
		l.noteError("write "+key, n, err)
	}
	return true
}

// diagnose says, for a read that missed an acknowledged key, whether every
// replica misses it (a read at R=3 right after) and which nodes the
// answering node routes the key to: the evidence a rare miss leaves.
func (l *load) diagnose(c *client.Client, key string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	again := "R=3 read: "
	if obj, err := c.Get(ctx, key, &client.ReadOptions{R: 3}); err != nil {
		again += err.Error()
	} else {
		again += fmt.Sprintf("found=%v", obj.Found)
	}
	rg, err := c.Ring(ctx)
	if err != nil || rg.Partitions == 0 {
		return again + fmt.Sprintf("; ring: %v", err)
	}
	p := ring.PartitionOf([]byte(key), rg.Partitions)
	return again + fmt.Sprintf("; ring version %d routes partition %d to %v", rg.Version, p, rg.Replicas[p])
}

func (l *load) halt() map[string]string {
	close(l.stop)
	l.wg.Wait()
	return l.acked
}

func (l *load) report(t *testing.T) {
	t.Logf("load: attempted=%d acknowledged=%d indeterminate=%d failed=%d reads=%d false_not_found=%d read_errors=%d",
		l.attempted.Load(), len(l.acked), l.indeterminate.Load(), l.failed.Load(), l.reads.Load(), l.falseNotFound.Load(), l.readErrors.Load())
	for _, e := range l.errs {
		t.Logf("load: %s", e)
	}
}

// waitSettled retries until every node reports no handoff work left and
// the same ring with the given owners; it returns how long that took.
func waitSettled(t *testing.T, nodes []*process.Node, owners int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last error
	logged := start
	for time.Now().Before(deadline) {
		last = settled(nodes, owners)
		if last == nil {
			return time.Since(start)
		}
		if time.Since(logged) > 5*time.Second {
			logged = time.Now()
			t.Logf("not settled after %v: %v", time.Since(start).Round(time.Second), last)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("handoffs did not settle within %v: %v", timeout, last)
	return 0
}

func settled(nodes []*process.Node, owners int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rings := make([]*client.Ring, len(nodes))
	for i, n := range nodes {
		st, err := n.Client().Status(ctx)
		if err != nil {
			return fmt.Errorf("%s status: %w", n.ID(), err)
		}
		if h := st.Handoff; h.Pending != 0 || h.Draining != 0 || len(h.Active) != 0 {
			return fmt.Errorf("%s: %d to receive, %d draining, running %+v", n.ID(), h.Pending, h.Draining, h.Active)
		}
		if rings[i], err = n.Client().Ring(ctx); err != nil {
			return err
		}
		if !st.Handoff.Settled {
			return fmt.Errorf("%s: some replica still lacks its data, as far as it knows", n.ID())
		}
		if st.Handoff.RingVersion != rings[i].Version {
			return fmt.Errorf("%s: handoff figures are of ring version %d, the node's ring is at %d", n.ID(), st.Handoff.RingVersion, rings[i].Version)
		}
	}
	return sameRing(rings, owners)
}

// replicaCounts stops nothing: it opens each (stopped) node's data
// directory and counts, per key, the nodes that store it.
func replicaCounts(t *testing.T, nodes []*process.Node) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, n := range nodes {
		if n.Running() {
			t.Fatalf("%s is still running; stop it before reading its data", n.ID())
		}
		e, err := persistence.Open(persistence.Options{Engine: persistence.EngineBadger, Dir: n.DataDir()})
		if err != nil {
			t.Fatalf("open %s's data: %v", n.ID(), err)
		}
		err = e.Scan(nil, nil, func(k, _ []byte) bool {
			if _, key, ok := persistence.SplitDataKey(k); ok {
				counts[string(key)]++
			}
			return true
		})
		if cerr := e.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("scan %s's data: %v", n.ID(), err)
		}
	}
	return counts
}

// assertReplicas checks that every acknowledged key is stored on exactly n
// of the nodes, and returns how many are not.
func assertReplicas(t *testing.T, nodes []*process.Node, acked map[string]string, n int) {
	t.Helper()
	for _, node := range nodes {
		if node.Running() {
			if code, err := node.Stop(30 * time.Second); err != nil || code != 0 {
				t.Fatalf("stopping %s: exit %d, %v", node.ID(), code, err)
			}
		}
	}
	counts := replicaCounts(t, nodes)
	wrong := 0
	for key := range acked {
		if counts[key] != n {
			wrong++
			if wrong <= 5 {
				t.Errorf("key %s is on %d replicas, want %d", key, counts[key], n)
			}
		}
	}
	over := 0
	for _, c := range counts {
		if c > n {
			over++
		}
	}
	t.Logf("replicas: %d acknowledged keys, %d not on exactly %d nodes; %d stored keys in all, %d on more than %d", len(acked), wrong, n, len(counts), over, n)
	if wrong > 0 || over > 0 {
		t.Fatalf("%d acknowledged keys not on exactly %d replicas, %d keys on more", wrong, n, over)
	}
}

// assertReadable reads every acknowledged key through via at R=2.
func assertReadable(t *testing.T, via *process.Node, acked map[string]string) {
	t.Helper()
	lost := 0
	c := via.Client()
	for key, value := range acked {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		obj, err := c.Get(ctx, key, &client.ReadOptions{R: 2})
		cancel()
		if err != nil || !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != value {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged %s through %s: %+v, %v", key, via.ID(), obj, err)
			}
		}
	}
	t.Logf("lost=%d of %d acknowledged writes (read through %s)", lost, len(acked), via.ID())
	if lost > 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
}

func addNode(t *testing.T, id string, seed *process.Node) *process.Node {
	t.Helper()
	n := process.Launch(t, process.Options{ID: id, Args: clusterArgs(seed.GossipAddr(), membershipArgs...)})
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return n
}

func decommission(t *testing.T, via *process.Node, leaving *process.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := via.Client().Decommission(ctx, leaving.ID()); err != nil {
		t.Fatalf("decommission %s via %s: %v", leaving.ID(), via.ID(), err)
	}
	// The node hands everything over, leaves gossip and exits by itself.
	code, err := leaving.Wait(180 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("decommissioned %s: exit %d, %v", leaving.ID(), code, err)
	}
}

// TestMembership_GrowThenShrinkUnderLoad goes from 3 to 5 nodes and back
// to 3 (two joins, then two decommissions) while clients write and read
// continuously at N=3, R=2, W=2.
func TestMembership_GrowThenShrinkUnderLoad(t *testing.T) {
	nodes := startCluster(t, 3, membershipArgs...)
	waitSameRing(t, nodes, 3, 30*time.Second)
	waitSettled(t, nodes, 3, 60*time.Second)
	l := startLoad(t, 4, nodes)
	time.Sleep(time.Second) // some data before the first join

	p4 := addNode(t, "p4", nodes[0])
	all := append(nodes, p4)
	l.setTargets(all)
	d := waitSettled(t, all, 4, 120*time.Second)
	t.Logf("join p4: settled in %v", d.Round(time.Millisecond))

	p5 := addNode(t, "p5", nodes[1])
	all = append(all, p5)
	l.setTargets(all)
	d = waitSettled(t, all, 5, 120*time.Second)
	t.Logf("join p5: settled in %v", d.Round(time.Millisecond))

	for i, leaving := range []*process.Node{nodes[0], nodes[1]} {
		rest := all[1:]
		l.setTargets(rest)
		start := time.Now()
		decommission(t, rest[len(rest)-1], leaving)
		exited := time.Since(start)
		waitSettled(t, rest, 5-i-1, 120*time.Second)
		t.Logf("decommission %s: handed over and exited after %v, all settled after %v", leaving.ID(), exited.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		all = rest
	}
	acked := l.halt()
	l.report(t)
	if l.falseNotFound.Load() > 0 {
		t.Fatalf("%d false not-found reads", l.falseNotFound.Load())
	}
	// The event stream (dhtctl events) of a node that saw it all tells
	// the story: both joins, both decommissions, the transfers.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	evs, err := all[0].Client().RecentEvents(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[e.Kind]++
	}
	t.Logf("events seen by %s: %v", all[0].ID(), kinds)
	for _, k := range []string{"member-join", "member-leave", "ring-change", "cluster-event", "handoff-start", "handoff-finish"} {
		if kinds[k] == 0 {
			t.Errorf("no %s event in %s's history", k, all[0].ID())
		}
	}
	assertReadable(t, all[0], acked)
	waitRecordsSettled(t, all, 30*time.Second)
	assertReplicas(t, all, acked, 3) // stops the nodes
}

// waitRecordsSettled retries until no node keeps a handoff record: once a
// plan has settled and every owner has its ring, the records are dropped
// for the settled register (ring.State.SettleHandoffs) and gossip spreads
// that. It logs each node's ring state size.
func waitRecordsSettled(t *testing.T, nodes []*process.Node, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left, sizes := 0, make([]string, 0, len(nodes))
		for _, n := range nodes {
			left += sumMetric(t, []*process.Node{n}, "dht_ring_handoff_records ")
			sizes = append(sizes, fmt.Sprintf("%s %d B", n.ID(), sumMetric(t, []*process.Node{n}, "dht_ring_state_bytes ")))
		}
		if left == 0 {
			t.Logf("handoff records settled on every node; ring state: %s", strings.Join(sizes, ", "))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d handoff records left across the nodes %v after the plan settled; ring state: %s", left, timeout, strings.Join(sizes, ", "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestMembership_ForceRemoveRebuildsReplicas kills one of four nodes for
// good and force-removes it: its partitions are rebuilt on new owners from
// the surviving replicas.
func TestMembership_ForceRemoveRebuildsReplicas(t *testing.T) {
	nodes := startCluster(t, 4, membershipArgs...)
	waitSameRing(t, nodes, 4, 30*time.Second)
	acked := writeKeys(t, nodes, 2000)
	gone := nodes[3]
	gone.Kill()
	waitStatus(t, nodes[0], gone.ID(), client.MemberDown, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	// A live node is refused: it must be decommissioned instead.
	if _, err := nodes[0].Client().ForceRemove(ctx, nodes[1].ID()); err == nil {
		t.Fatal("force-remove of a live node was accepted")
	}
	_, err := nodes[0].Client().ForceRemove(ctx, gone.ID())
	cancel()
	if err != nil {
		t.Fatalf("force-remove %s: %v", gone.ID(), err)
	}
	rest := nodes[:3]
	d := waitSettled(t, rest, 3, 120*time.Second)
	t.Logf("force-remove %s: settled in %v", gone.ID(), d.Round(time.Millisecond))
	assertReadable(t, rest[0], acked)
	assertReplicas(t, rest, acked, 3)
}

// TestMembership_TransferResumesAfterReceiverKilled kills a joining node in
// the middle of a partition transfer; restarted, it resumes from its
// persisted cursor and completes.
func TestMembership_TransferResumesAfterReceiverKilled(t *testing.T) {
	// Few, large partitions and tiny batches make a transfer long enough
	// (about a thousand round trips) to be caught mid-stream.
	slow := append(slicesClone(membershipArgs), "--ring.partitions=8", "--handoff.transfer_batch_keys=2", "--handoff.transfer_concurrency=1")
	nodes := startCluster(t, 3, slow...)
	waitSameRing(t, nodes, 3, 30*time.Second)
	acked := writeKeys(t, nodes, 10000)

	p4 := process.Launch(t, process.Options{ID: "p4", Args: clusterArgs(nodes[0].GossipAddr(), slow...)})
	if err := p4.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Wait (bounded) until a transfer has moved some keys but not all.
	deadline := time.Now().Add(60 * time.Second)
	midStream := false
	var received int64
	for time.Now().Before(deadline) && !midStream {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := p4.Client().Status(ctx)
		cancel()
		if err == nil {
			for _, tr := range st.Handoff.Active {
				if tr.Kind == client.TransferReceive && tr.Keys > 0 && tr.Keys < tr.TotalKeys {
					midStream, received = true, tr.Keys
				}
			}
		}
		if !midStream {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !midStream {
		t.Fatal("never saw a transfer to p4 in mid-stream")
	}
	p4.Kill()
	p4.Restart()
	all := append(nodes, p4)
	d := waitSettled(t, all, 4, 180*time.Second)

	// p4's own event history says where it resumed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	evs, err := p4.Client().RecentEvents(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	resumed := 0
	for _, e := range evs {
		if e.Kind == "handoff-start" && strings.Contains(e.Detail, "resuming after key") {
			resumed++
		}
	}
	t.Logf("killed p4 after %d keys of a transfer; after restart %d transfer(s) resumed mid-partition; settled in %v", received, resumed, d.Round(time.Millisecond))
	if resumed == 0 {
		t.Fatal("no transfer resumed from its cursor after the restart")
	}
	assertReadable(t, nodes[0], acked)
	assertReplicas(t, all, acked, 3)
}

// TestMembership_RollingRestartUnderLoad restarts every node, one by one,
// under load: nothing acknowledged is lost, ownership does not change, no
// write is refused with a definite answer and no read fails. Writes that
// time out (503, indeterminate) are counted, not failed: a stopped node
// leaves gossip without a word (it keeps its place in the ring), so until
// peers mark it down, writes it would coordinate wait out the request
// timeout.
func TestMembership_RollingRestartUnderLoad(t *testing.T) {
	nodes := startCluster(t, 3, membershipArgs...)
	before := waitSameRing(t, nodes, 3, 30*time.Second)
	waitSettled(t, nodes, 3, 60*time.Second)
	l := startLoad(t, 4, nodes)
	time.Sleep(time.Second)
	for i, n := range nodes {
		// Clients leave the node first, as a load balancer following
		// /readyz would; what they see measures the other nodes.
		others := append(append([]*process.Node{}, nodes[:i]...), nodes[i+1:]...)
		l.setTargets(others)
		if code, err := n.Stop(30 * time.Second); err != nil || code != 0 {
			t.Fatalf("stopping %s: exit %d, %v", n.ID(), code, err)
		}
		n.Restart()
		waitAllAlive(t, nodes, 60*time.Second)
		// And they come back to it once it is ready, as that load
		// balancer would: until it has merged a live peer's ring it
		// refuses requests (503, retry), since its stored ring may be
		// older than the cluster's.
		if err := n.WaitReady(60 * time.Second); err != nil {
			t.Fatalf("%s after its restart: %v", n.ID(), err)
		}
		l.setTargets(nodes) // the restarted node listens on a new port
	}
	after := waitSameRing(t, nodes, 3, 30*time.Second)
	acked := l.halt()
	l.report(t)
	if before.Version != after.Version {
		t.Errorf("ring version %d before the rolling restart, %d after: a restart changed ownership", before.Version, after.Version)
	}
	if l.falseNotFound.Load() > 0 {
		t.Fatalf("%d false not-found reads", l.falseNotFound.Load())
	}
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d writes refused with a definite answer during the rolling restart, want 0", n)
	}
	if n := l.readErrors.Load(); n > 0 {
		t.Errorf("%d reads failed during the rolling restart, want 0", n)
	}
	assertReadable(t, nodes[0], acked)
}

// writeKeys writes n keys through the nodes in turn at W=2 and returns the
// acknowledged ones; any failure fails the test (the cluster is healthy).
func writeKeys(t *testing.T, nodes []*process.Node, n int) map[string]string {
	t.Helper()
	acked := map[string]string{}
	var pool clients
	ts := targetsOf(nodes)
	for i := range n {
		key, value := fmt.Sprintf("k%05d", i), fmt.Sprintf("value-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := pool.of(t, ts[i%len(ts)]).Put(ctx, key, []byte(value), &client.WriteOptions{W: 2})
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("write %s: %v", key, err)
		}
		if err == nil {
			acked[key] = value
		}
	}
	return acked
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestMembership_DecommissionedNodeRejoinsOnlyWhenAsked decommissions a
// node, restarts it on its data directory (it stays out of the ring: not
// ready, no replicas), then asks it to join again: it receives its share
// and every key ends on exactly N replicas.
func TestMembership_DecommissionedNodeRejoinsOnlyWhenAsked(t *testing.T) {
	nodes := startCluster(t, 4, membershipArgs...)
	waitSameRing(t, nodes, 4, 30*time.Second)
	acked := writeKeys(t, nodes, 1500)
	leaving := nodes[3]
	decommission(t, nodes[0], leaving)
	rest := nodes[:3]
	waitSettled(t, rest, 3, 120*time.Second)
	version := waitSameRing(t, rest, 3, 30*time.Second).Version

	leaving.Relaunch()
	// Bounded wait for its answer: it runs, but must not become ready.
	deadline := time.Now().Add(30 * time.Second)
	var members []client.Member
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ms, err := leaving.Client().Members(ctx)
		cancel()
		if err == nil && len(ms) >= 4 {
			members = ms
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := leaving.WaitReady(3 * time.Second); err == nil {
		t.Fatal("a decommissioned node became ready after a restart without being asked to join")
	}
	for _, m := range members {
		if m.ID == leaving.ID() && (m.Owner || m.Status != client.MemberRemoved) {
			t.Fatalf("restarted decommissioned node reports itself as %+v, want removed and not an owner", m)
		}
	}
	if !leaving.Running() {
		t.Fatalf("the restarted decommissioned node exited; it should wait, idle, for dhtctl join:\n%s", leaving.Log())
	}
	if v := waitSameRing(t, rest, 3, 10*time.Second).Version; v != version {
		t.Fatalf("the restart of a removed node changed the ring version from %d to %d", version, v)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	_, err := leaving.Client().Join(ctx)
	cancel()
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if err := leaving.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	d := waitSettled(t, nodes, 4, 120*time.Second)
	t.Logf("rejoin of %s settled in %v", leaving.ID(), d.Round(time.Millisecond))
	assertReadable(t, nodes[0], acked)
	assertReplicas(t, nodes, acked, 3)
}
