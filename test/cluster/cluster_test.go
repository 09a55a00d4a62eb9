package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/cluster"
	"github.com/dhtkv/dht/test/testutil"
)

// ctxFor returns a context bounded like the test's requests.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestCluster_QuorumWriteIsReadableEverywhere writes keys at w=2 through
// random nodes and reads each back at r=2 through every node: with
// r + w > n every read meets at least one replica of every write.
func TestCluster_QuorumWriteIsReadableEverywhere(t *testing.T) {
	const keys = 100
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)
	rng := testutil.Rand(t)

	through := make([]int, c.N()+1)
	begin := time.Now()
	for k := range keys {
		i := 1 + rng.IntN(c.N())
		through[i]++
		key, value := fmt.Sprintf("key-%03d", k), fmt.Sprintf("value-%03d", k)
		res, err := c.Client(i).Put(ctx, key, []byte(value), &client.WriteOptions{W: 2})
		if err != nil {
			t.Fatalf("put %s through %s at w=2: %v", key, c.ID(i), err)
		}
		if res.Siblings != 1 {
			t.Errorf("put %s through %s: %d siblings after the first write, want 1", key, c.ID(i), res.Siblings)
		}
	}
	writes := time.Since(begin)

	begin = time.Now()
	for i := 1; i <= c.N(); i++ {
		for k := range keys {
			key, want := fmt.Sprintf("key-%03d", k), fmt.Sprintf("value-%03d", k)
			obj, err := c.Client(i).Get(ctx, key, &client.ReadOptions{R: 2})
			if err != nil {
				t.Fatalf("get %s through %s at r=2: %v", key, c.ID(i), err)
			}
			if !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != want {
				t.Fatalf("get %s through %s at r=2: found=%v siblings=%v, want exactly %q", key, c.ID(i), obj.Found, values(obj), want)
			}
		}
	}
	reads := time.Since(begin)
	t.Logf("%d keys written at w=2 (through n1/n2/n3: %d/%d/%d) in %v; %d reads at r=2 through every node in %v",
		keys, through[1], through[2], through[3], writes.Round(time.Millisecond), keys*c.N(), reads.Round(time.Millisecond))
}

// TestCluster_SameContextWritesBecomeSiblings makes two writers race from
// one read: both writes carry the same context, so neither covers the
// other, and every node must show both values, and not the one they
// replaced.
func TestCluster_SameContextWritesBecomeSiblings(t *testing.T) {
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)
	const key = "contended"

	if _, err := c.Client(1).Put(ctx, key, []byte("original"), nil); err != nil {
		t.Fatalf("initial put: %v", err)
	}
	obj, err := c.Client(1).Get(ctx, key, nil)
	if err != nil || !obj.Found || obj.Context == "" {
		t.Fatalf("get through n1: %+v, %v; want the value with a context", obj, err)
	}
	a, err := c.Client(1).Put(ctx, key, []byte("from-n1"), &client.WriteOptions{Context: obj.Context})
	if err != nil {
		t.Fatalf("put through n1 with the read's context: %v", err)
	}
	b, err := c.Client(2).Put(ctx, key, []byte("from-n2"), &client.WriteOptions{Context: obj.Context})
	if err != nil {
		t.Fatalf("put through n2 with the same context: %v", err)
	}
	t.Logf("writes acknowledged: n1 saw %d sibling(s), n2 saw %d", a.Siblings, b.Siblings)
	// n1's write replaced the original at n1's replica. n2's replica may
	// not hold n1's write yet when n2 coordinates (w=2 needs only one other
	// replica), so n2 sees 1 or 2.
	if a.Siblings != 1 || b.Siblings < 1 || b.Siblings > 2 {
		t.Errorf("sibling counts after the writes: n1 %d, n2 %d; want 1 and 1 or 2", a.Siblings, b.Siblings)
	}

	want := []string{"from-n1", "from-n2"}
	for i := 1; i <= c.N(); i++ {
		obj, err := c.Client(i).Get(ctx, key, nil)
		if err != nil {
			t.Fatalf("get through %s: %v", c.ID(i), err)
		}
		if got := values(obj); !slices.Equal(got, want) {
			t.Errorf("get through %s: siblings %q, want %q", c.ID(i), got, want)
		}
	}
	t.Logf("every one of %d nodes shows siblings %q", c.N(), want)
}

// TestCluster_QuorumOverrides checks per-request r and w: with every
// replica up the strictest legal quorums succeed, and one beyond n is
// refused with a 400 that says why.
func TestCluster_QuorumOverrides(t *testing.T) {
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)

	for i := 1; i <= c.N(); i++ {
		key := fmt.Sprintf("strict-%d", i)
		if _, err := c.Client(i).Put(ctx, key, []byte("v"), &client.WriteOptions{W: 3}); err != nil {
			t.Fatalf("put %s through %s at w=3 with all replicas up: %v", key, c.ID(i), err)
		}
		for j := 1; j <= c.N(); j++ {
			obj, err := c.Client(j).Get(ctx, key, &client.ReadOptions{R: 3})
			if err != nil || !obj.Found || string(obj.Siblings[0].Value) != "v" {
				t.Fatalf("get %s through %s at r=3: %v, %v; want the value", key, c.ID(j), values(obj), err)
			}
		}
	}
	t.Logf("%d writes at w=3 and %d reads at r=3 succeeded", c.N(), c.N()*c.N())

	_, err := c.Client(1).Get(ctx, "strict-1", &client.ReadOptions{R: 4})
	e := wantAPIError(t, "get at r=4", err, http.StatusBadRequest, "bad_quorum")
	if !strings.Contains(e.Message, "r=4") || !strings.Contains(e.Message, "n=3") {
		t.Errorf("get at r=4: message %q does not name r=4 and n=3", e.Message)
	}
	t.Logf("get at r=4: %v", err)

	_, err = c.Client(1).Put(ctx, "strict-1", []byte("x"), &client.WriteOptions{W: 4})
	e = wantAPIError(t, "put at w=4", err, http.StatusBadRequest, "bad_quorum")
	if !strings.Contains(e.Message, "w=4") || !strings.Contains(e.Message, "n=3") {
		t.Errorf("put at w=4: message %q does not name w=4 and n=3", e.Message)
	}
	t.Logf("put at w=4: %v", err)
}

// TestCluster_NodeAbsence kills a replica: writes that need all three fail
// honestly, writes at the default quorum go on, and the node's return
// changes no ownership.
func TestCluster_NodeAbsence(t *testing.T) {
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)

	before, err := c.Client(1).Ring(ctx)
	if err != nil {
		t.Fatalf("ring before the kill: %v", err)
	}

	c.Kill(3)
	c.WaitStatus(t, 3, client.MemberDown, 15*time.Second)
	for _, i := range c.Live() {
		members, err := c.Client(i).Members(ctx)
		if err != nil {
			t.Fatalf("members through %s: %v", c.ID(i), err)
		}
		for _, m := range members {
			if m.ID == c.ID(3) && !m.Owner {
				t.Errorf("%s shows the down node %s as no owner; a failure must not change ownership", c.ID(i), m.ID)
			}
		}
	}

	for _, i := range c.Live() {
		key := fmt.Sprintf("absent-%d", i)
		_, err := c.Client(i).Put(ctx, key, []byte("all"), &client.WriteOptions{W: 3})
		e := wantAPIError(t, fmt.Sprintf("put %s through %s at w=3 with n3 down", key, c.ID(i)), err, http.StatusServiceUnavailable, "unavailable")
		if !strings.Contains(e.Message, "2 replicas reachable") {
			t.Errorf("put at w=3 through %s: message %q does not say that 2 replicas were reachable", c.ID(i), e.Message)
		}
		if e.Indeterminate {
			t.Errorf("put at w=3 through %s: marked indeterminate, but nothing was sent", c.ID(i))
		}
		t.Logf("put at w=3 through %s with n3 down: %v", c.ID(i), err)

		if _, err := c.Client(i).Put(ctx, key, []byte("quorum"), &client.WriteOptions{W: 2}); err != nil {
			t.Fatalf("put %s through %s at w=2 with n3 down: %v", key, c.ID(i), err)
		}
		obj, err := c.Client(i).Get(ctx, key, &client.ReadOptions{R: 2})
		if err != nil || !obj.Found || !slices.Equal(values(obj), []string{"quorum"}) {
			t.Fatalf("get %s through %s at r=2 with n3 down: %q, %v; want [quorum]", key, c.ID(i), values(obj), err)
		}
	}

	c.Restart(3)
	c.WaitConverged(t, 30*time.Second)
	after, err := c.Client(3).Ring(ctx)
	if err != nil {
		t.Fatalf("ring after the restart: %v", err)
	}
	moved := 0
	for p := range before.Replicas {
		if p >= len(after.Replicas) || !slices.Equal(before.Replicas[p], after.Replicas[p]) {
			moved++
		}
	}
	t.Logf("ring version %d before the kill, %d after the restart; %d of %d partitions changed", before.Version, after.Version, moved, before.Partitions)
	if moved != 0 || after.Partitions != before.Partitions {
		t.Errorf("the restart changed the ring: %d of %d partitions have other replicas (q %d → %d)", moved, before.Partitions, before.Partitions, after.Partitions)
	}

	// Writes made while n3 was away are still read at r=2 through n3, whose
	// own replica lacks them.
	for _, i := range []int{1, 2} {
		key := fmt.Sprintf("absent-%d", i)
		obj, err := c.Client(3).Get(ctx, key, &client.ReadOptions{R: 2})
		if err != nil || !slices.Equal(values(obj), []string{"quorum"}) {
			t.Errorf("get %s through the restarted n3 at r=2: %q, %v; want [quorum]", key, values(obj), err)
		}
	}
	if _, err := c.Client(1).Put(ctx, "after-restart", []byte("all"), &client.WriteOptions{W: 3}); err != nil {
		t.Errorf("put at w=3 after n3 returned: %v", err)
	}
}

// TestCluster_Ring checks the partition table every node routes by: the
// same everywhere, n distinct replicas per partition, and balanced.
func TestCluster_Ring(t *testing.T) {
	c := cluster.Start(t, 3)
	ctx := ctxFor(t)

	var ref *client.Ring
	for i := 1; i <= c.N(); i++ {
		r, err := c.Client(i).Ring(ctx)
		if err != nil {
			t.Fatalf("ring through %s: %v", c.ID(i), err)
		}
		if ref == nil {
			ref = r
			continue
		}
		if r.Version != ref.Version || !slices.EqualFunc(r.Replicas, ref.Replicas, slices.Equal) {
			t.Errorf("%s's ring (version %d) differs from n1's (version %d)", c.ID(i), r.Version, ref.Version)
		}
	}
	if ref.Partitions != 64 || ref.N != 3 || len(ref.Replicas) != 64 {
		t.Fatalf("ring has %d partitions, n=%d, %d replica lists; want 64, 3, 64", ref.Partitions, ref.N, len(ref.Replicas))
	}

	counts := map[string]int{}
	for p, prefs := range ref.Replicas {
		distinct := slices.Compact(slices.Sorted(slices.Values(prefs)))
		if len(prefs) != 3 || len(distinct) != 3 {
			t.Errorf("partition %d has replicas %q, want 3 distinct nodes", p, prefs)
		}
		for _, id := range prefs {
			counts[id]++
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	mean := float64(total) / float64(c.N())
	for _, id := range c.IDs() {
		share := float64(counts[id]) / float64(total)
		t.Logf("%s holds %d of %d partition replicas (%.1f%%)", id, counts[id], total, 100*share)
		if f := float64(counts[id]); f < 0.9*mean || f > 1.1*mean {
			t.Errorf("%s holds %d replicas; the mean is %.1f, want within 10%%", id, counts[id], mean)
		}
	}

	// The members' replica counts are the ring's.
	members, err := c.Client(2).Members(ctx)
	if err != nil {
		t.Fatalf("members through n2: %v", err)
	}
	for _, m := range members {
		if m.Replicas != counts[m.ID] || !m.Owner || m.Status != client.MemberAlive {
			t.Errorf("n2 shows %s: status %q, owner %v, %d replicas; want alive, owner, %d", m.ID, m.Status, m.Owner, m.Replicas, counts[m.ID])
		}
	}
	t.Logf("ring version %d: %d partitions × n=%d, identical on %d nodes", ref.Version, ref.Partitions, ref.N, c.N())
}

// wantAPIError fails t unless err is a *client.Error with the status and
// code.
func wantAPIError(t *testing.T, what string, err error, status int, code string) *client.Error {
	t.Helper()
	e, ok := errors.AsType[*client.Error](err)
	if !ok {
		t.Fatalf("%s: error %v, want %d %s", what, err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("%s: %v, want %d %s", what, e, status, code)
	}
	return e
}

// values returns the sibling values of obj, sorted.
func values(obj *client.Object) []string {
	if obj == nil {
		return nil
	}
	var out []string
	for _, s := range obj.Siblings {
		out = append(out, string(s.Value))
	}
	slices.Sort(out)
	return out
}
