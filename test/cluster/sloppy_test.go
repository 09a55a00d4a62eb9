package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/test/cluster"
)

// sloppyWait bounds each wait of the sloppy-quorum tests: failure
// detection, hint delivery, convergence.
const sloppyWait = 20 * time.Second

// handoffOnly turns anti-entropy off, so that a replica that missed a write
// can only get it by hinted handoff, and delivers hints promptly.
func handoffOnly(_ int, cfg *config.Config) {
	cfg.Entropy.Enabled = false
	cfg.Handoff.Hints = true
	cfg.Handoff.DeliverInterval = 100 * time.Millisecond
}

// TestSloppy_FallbackTakesTheWriteAndHandsItBack kills one of a key's three
// owners in a 4-node cluster: the fourth node stands in for it, so a write
// at w=3 succeeds with the fallback's hint as the third acknowledgement,
// while pw=3 fails. Once the owner returns, the hint is handed back: with
// anti-entropy off, and the two other owners then killed, the owner alone
// serves the write it missed.
func TestSloppy_FallbackTakesTheWriteAndHandsItBack(t *testing.T) {
	c := cluster.Start(t, 4, cluster.WithConfig(handoffOnly))
	ctx := sloppyCtx(t)

	r, err := c.Client(1).Ring(ctx)
	if err != nil {
		t.Fatalf("ring: %v", err)
	}
	const key = "sloppy-key"
	p := ring.PartitionOf([]byte(key), r.Partitions)
	prefs := r.Replicas[p]
	if len(prefs) != 3 {
		t.Fatalf("partition %d of %s has replicas %q, want 3", p, key, prefs)
	}
	// The owner to kill is the key's first choice, so a live owner other
	// than the usual coordinator must coordinate.
	x, a, b := sloppyIndex(t, c, prefs[0]), sloppyIndex(t, c, prefs[1]), sloppyIndex(t, c, prefs[2])
	var fb int
	for i := 1; i <= c.N(); i++ {
		if !slices.Contains(prefs, c.ID(i)) {
			fb = i
		}
	}
	xid, fid := c.ID(x), c.ID(fb)
	t.Logf("key %q → partition %d, owners %q; killing %s, fallback %s", key, p, prefs, xid, fid)

	c.Kill(x)
	c.WaitStatus(t, x, client.MemberDown, sloppyWait)

	const value = "written-while-down"
	begin := time.Now()
	res, err := c.Client(a).Put(ctx, key, []byte(value), &client.WriteOptions{W: 3})
	if err != nil {
		t.Fatalf("put through %s at w=3 with %s down: %v; want success from 2 owners and %s's hint", c.ID(a), xid, err, fid)
	}
	t.Logf("put at w=3 through %s with %s down: acknowledged in %v, %d sibling(s)", c.ID(a), xid, time.Since(begin).Round(time.Millisecond), res.Siblings)

	// The write was acknowledged, so the fallback's hint is stored. The
	// owners keep none: the fallback covers the down one.
	if n := sloppyHints(t, ctx, c, fb, xid); n != 1 {
		t.Errorf("%s keeps %d hints for %s after the write, want 1", fid, n, xid)
	}
	for _, i := range []int{a, b} {
		if n := sloppyHints(t, ctx, c, i, xid); n != 0 {
			t.Errorf("owner %s keeps %d hints for %s; the fallback %s should hold them", c.ID(i), n, xid, fid)
		}
	}

	_, err = c.Client(a).Put(ctx, key, []byte("needs-three-primaries"), &client.WriteOptions{W: 3, PW: 3})
	e := wantAPIError(t, "put at w=3 pw=3 with an owner down", err, http.StatusServiceUnavailable, "unavailable")
	if e.Indeterminate || !strings.Contains(e.Message, "(2 primaries)") {
		t.Errorf("put at pw=3: %v; want a definite refusal saying 2 primaries were reachable", e)
	}
	t.Logf("put at w=3 pw=3 with %s down: %v", xid, err)
	if n := sloppyHints(t, ctx, c, fb, xid); n != 1 {
		t.Errorf("%s keeps %d hints for %s after the refused write, want still 1", fid, n, xid)
	}

	c.Restart(x)
	begin = time.Now()
	sloppyRetry(t, c, fmt.Sprintf("%s handing its hint back to %s", fid, xid), func(ctx context.Context) error {
		s, err := c.Client(fb).Status(ctx)
		if err != nil {
			return err
		}
		if n := s.HintsPending[xid]; n != 0 {
			return fmt.Errorf("%s still keeps %d hints for %s", fid, n, xid)
		}
		return nil
	})
	drained := time.Since(begin)
	// Replicas in sync have equal Merkle roots.
	sloppyRetry(t, c, fmt.Sprintf("%s's partition %d in sync with %s's", xid, p, c.ID(a)), func(ctx context.Context) error {
		sx, err := c.Client(x).Status(ctx)
		if err != nil {
			return err
		}
		sa, err := c.Client(a).Status(ctx)
		if err != nil {
			return err
		}
		if sx.MerkleRoots[p] != sa.MerkleRoots[p] {
			return fmt.Errorf("roots %x and %x differ", sx.MerkleRoots[p], sa.MerkleRoots[p])
		}
		return nil
	})
	t.Logf("%s restarted; %s's hint for it drained within %v", xid, fid, drained.Round(time.Millisecond))

	c.Kill(a)
	c.Kill(b)
	c.WaitStatus(t, a, client.MemberDown, sloppyWait)
	c.WaitStatus(t, b, client.MemberDown, sloppyWait)
	obj, err := c.Client(x).Get(ctx, key, &client.ReadOptions{R: 1})
	if err != nil {
		t.Fatalf("get through %s at r=1, its co-owners down: %v", xid, err)
	}
	if got := values(obj); !obj.Found || !slices.Equal(got, []string{value}) {
		t.Fatalf("get through %s at r=1: found=%v %q; want [%s], which only handoff could have brought", xid, obj.Found, got, value)
	}
	t.Logf("%s alone serves %q: the hint was handed back", xid, value)
}

// TestSloppy_ThreeNodesKeepHintOnAPrimary kills a node of a 3-node cluster
// at N=3: no node is left to stand in, so the coordinating owner keeps the
// hint, which does not count toward W. Once the node is back, those hints
// are handed to it.
func TestSloppy_ThreeNodesKeepHintOnAPrimary(t *testing.T) {
	const keys = 20
	c := cluster.Start(t, 3, cluster.WithConfig(handoffOnly))
	ctx := sloppyCtx(t)
	const dead = 3
	did := c.ID(dead)

	c.Kill(dead)
	c.WaitStatus(t, dead, client.MemberDown, sloppyWait)

	through := map[int]int{}
	for k := range keys {
		i := 1 + k%2
		key := fmt.Sprintf("primary-hint-%02d", k)
		if _, err := c.Client(i).Put(ctx, key, []byte("v-"+key), &client.WriteOptions{W: 2}); err != nil {
			t.Fatalf("put %s through %s at w=2 with %s down: %v", key, c.ID(i), did, err)
		}
		through[i]++
	}

	// The coordinator hands the primary its hint without waiting for it.
	var kept map[int]int
	sloppyRetry(t, c, fmt.Sprintf("the live owners keeping %d hints for %s", keys, did), func(ctx context.Context) error {
		kept = map[int]int{}
		sum := 0
		for _, i := range c.Live() {
			s, err := c.Client(i).Status(ctx)
			if err != nil {
				return err
			}
			kept[i] = s.HintsPending[did]
			sum += kept[i]
		}
		if sum < keys {
			return fmt.Errorf("%d hints kept (%v by node), want at least %d", sum, kept, keys)
		}
		return nil
	})
	t.Logf("%d writes at w=2 through n1/n2: %d/%d; hints kept for %s by n1/n2: %d/%d", keys, through[1], through[2], did, kept[1], kept[2])
	// Each write is coordinated by the owner it came through, which keeps
	// its hint.
	for i, n := range through {
		if kept[i] < n {
			t.Errorf("%s coordinated %d writes but keeps %d hints for %s", c.ID(i), n, kept[i], did)
		}
	}

	_, err := c.Client(1).Put(ctx, "primary-hint-w3", []byte("v"), &client.WriteOptions{W: 3})
	e := wantAPIError(t, "put at w=3 with a node of 3 down", err, http.StatusServiceUnavailable, "unavailable")
	if e.Indeterminate {
		t.Errorf("put at w=3: %v; marked indeterminate, but nothing was sent", e)
	}
	t.Logf("put at w=3 with %s down: %v", did, err)

	c.Restart(dead)
	begin := time.Now()
	sloppyRetry(t, c, "the primaries handing their hints back", func(ctx context.Context) error {
		for _, i := range []int{1, 2} {
			s, err := c.Client(i).Status(ctx)
			if err != nil {
				return err
			}
			if n := s.HintsPending[did]; n != 0 {
				return fmt.Errorf("%s still keeps %d hints for %s", c.ID(i), n, did)
			}
		}
		return nil
	})
	t.Logf("%s restarted; hints drained within %v", did, time.Since(begin).Round(time.Millisecond))

	c.Kill(1)
	c.Kill(2)
	c.WaitStatus(t, 1, client.MemberDown, sloppyWait)
	c.WaitStatus(t, 2, client.MemberDown, sloppyWait)
	for k := range keys {
		key := fmt.Sprintf("primary-hint-%02d", k)
		obj, err := c.Client(dead).Get(ctx, key, &client.ReadOptions{R: 1})
		if err != nil || !obj.Found || !slices.Equal(values(obj), []string{"v-" + key}) {
			t.Errorf("get %s through %s alone at r=1: %q, %v; want [v-%s] from the handed-back hint", key, did, values(obj), err, key)
		}
	}
}

// sloppyRetry is Cluster.Retry with the sloppy tests' wait bound.
func sloppyRetry(t *testing.T, c *cluster.Cluster, what string, check func(ctx context.Context) error) {
	t.Helper()
	c.Retry(t, sloppyWait, what, check)
}

// sloppyIndex returns the number of the node with the given id.
func sloppyIndex(t *testing.T, c *cluster.Cluster, id string) int {
	t.Helper()
	i := slices.Index(c.IDs(), id)
	if i < 0 {
		t.Fatalf("no node %q in %q", id, c.IDs())
	}
	return i + 1
}

// sloppyHints returns how many hints node i keeps for target.
func sloppyHints(t *testing.T, ctx context.Context, c *cluster.Cluster, i int, target string) int {
	t.Helper()
	s, err := c.Client(i).Status(ctx)
	if err != nil {
		t.Fatalf("status of %s: %v", c.ID(i), err)
	}
	return s.HintsPending[target]
}

func sloppyCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
