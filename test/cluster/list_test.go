package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/test/cluster"
)

// writeKeys writes n keys, prefix%05d, at w=3 so that every replica holds
// every key before the listing starts, through a few writers at once.
// unavailable reports whether err is a 503 the node answered before
// storing anything: too few replicas reachable for the quorum.
func unavailable(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Status == http.StatusServiceUnavailable && strings.Contains(e.Error(), "replicas reachable")
}

func writeKeys(t *testing.T, c *cluster.Cluster, prefix string, n int) []string {
	t.Helper()
	ctx := ctxFor(t)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				cl := c.Client(1 + i%3)
				// W=3 puts every key on every replica, so the listings
				// may read any. A node that gossip suspects for a moment
				// (a loaded CI machine, fast test timings) makes a write
				// unavailable; that is the setup's, not the listing's,
				// so it is retried a bounded number of times.
				var err error
				for attempt := 0; attempt < 5; attempt++ {
					if _, err = cl.Put(ctx, keys[i], []byte("v-"+keys[i]), &client.WriteOptions{W: 3}); !unavailable(err) {
						break
					}
					time.Sleep(500 * time.Millisecond)
				}
				if err != nil {
					errs <- fmt.Errorf("put %s: %w", keys[i], err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return keys
}

// lister pages through a listing, checking the order contract as it goes:
// partitions in index order, keys in order within each.
type lister struct {
	t     *testing.T
	q     int
	opts  client.ListOptions
	seen  map[string]int
	order []string
	pages int
	done  bool
	lastP int
	lastK string
}

func newLister(t *testing.T, q int, opts client.ListOptions) *lister {
	return &lister{t: t, q: q, opts: opts, seen: map[string]int{}, lastP: -1}
}

// page lists one page through cl, within a deadline of its own: a
// membership change between pages may take longer than one test context.
func (l *lister) page(cl *client.Client) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.t.Context(), 30*time.Second)
	defer cancel()
	p, err := cl.List(ctx, l.opts)
	if err != nil {
		l.t.Fatalf("list page %d: %v", l.pages+1, err)
	}
	if p.Partial != "" {
		l.t.Logf("page %d ended early: %s", l.pages+1, p.Partial)
	}
	if len(p.Keys) > l.opts.Limit {
		l.t.Fatalf("page %d: %d keys at limit %d", l.pages+1, len(p.Keys), l.opts.Limit)
	}
	for _, k := range p.Keys {
		l.seen[k.Key]++
		l.order = append(l.order, k.Key)
		part := int(ring.PartitionOf([]byte(k.Key), l.q))
		switch {
		case part < l.lastP:
			l.t.Errorf("%s (partition %d) listed after partition %d", k.Key, part, l.lastP)
		case part == l.lastP && bytes.Compare([]byte(k.Key), []byte(l.lastK)) <= 0:
			l.t.Errorf("%s listed after %s in partition %d", k.Key, l.lastK, part)
		}
		l.lastP, l.lastK = part, k.Key
	}
	l.pages++
	l.opts.Cursor = p.Cursor
	l.done = p.Cursor == ""
}

// check fails the test unless exactly want was listed, each key once.
func (l *lister) check(want []string) {
	l.t.Helper()
	wanted := map[string]bool{}
	for _, k := range want {
		wanted[k] = true
		switch l.seen[k] {
		case 1:
		case 0:
			l.t.Errorf("%s was not listed", k)
		default:
			l.t.Errorf("%s was listed %d times", k, l.seen[k])
		}
	}
	for k := range l.seen {
		if !wanted[k] {
			l.t.Errorf("%s was listed but should not be", k)
		}
	}
}

// TestList_EveryKeyOnceThroughCursors writes a few thousand keys across
// the partitions, deletes some, and lists through small pages: every live
// key exactly once, in partition order and key order within a partition,
// the prefix honoured, the deleted keys left out.
func TestList_EveryKeyOnceThroughCursors(t *testing.T) {
	const q = 64
	c := cluster.Start(t, 3, cluster.WithPartitions(q))
	ctx := ctxFor(t)
	users := writeKeys(t, c, "user/", 2500)
	items := writeKeys(t, c, "item/", 500)

	// Every tenth user is deleted.
	var live []string
	for i, k := range users {
		if i%10 != 0 {
			live = append(live, k)
			continue
		}
		if _, err := c.Client(1).Delete(ctx, k, &client.WriteOptions{W: 3}); err != nil {
			t.Fatalf("delete %s: %v", k, err)
		}
	}

	begin := time.Now()
	l := newLister(t, q, client.ListOptions{Prefix: "user/", Limit: 97})
	for !l.done {
		l.page(c.Client(1 + l.pages%3))
	}
	l.check(live)
	t.Logf("%d user/ keys listed in %d pages of at most 97 in %v", len(l.order), l.pages, time.Since(begin).Round(time.Millisecond))

	all := newLister(t, q, client.ListOptions{Limit: 1000, R: 2})
	for !all.done {
		all.page(c.Client(2))
	}
	all.check(append(live, items...))
	t.Logf("all %d keys listed at r=2 in %d pages", len(all.order), all.pages)
}

// TestList_CursorSurvivesMembershipChanges lists through small pages while
// a node joins and another is decommissioned: the cursor names a partition
// and a key, never a node, so whichever replica serves a partition next
// resumes it, and every key is still listed exactly once.
func TestList_CursorSurvivesMembershipChanges(t *testing.T) {
	const q = 64
	c := cluster.Start(t, 3, cluster.WithPartitions(q))
	keys := writeKeys(t, c, "k/", 2000)

	l := newLister(t, q, client.ListOptions{Limit: 60})
	pages := func(n int) {
		for i := 0; i < n && !l.done; i++ {
			l.page(c.Client(2))
		}
	}
	pages(6)
	t.Logf("after %d pages (%d keys): n4 joins", l.pages, len(l.order))
	four := c.Add()
	pages(4) // while it joins
	c.WaitConverged(t, 60*time.Second)
	pages(6) // while partitions move to it
	t.Logf("after %d pages (%d keys): n1 is decommissioned", l.pages, len(l.order))
	c.Decommission(2, 1)
	pages(6) // while n1 hands its partitions over
	c.WaitRetired(1, 120*time.Second)
	t.Logf("after %d pages (%d keys): n1 retired; listing through %s too", l.pages, len(l.order), c.ID(four))
	for !l.done {
		l.page(c.Client(four))
	}
	l.check(keys)
	t.Logf("%d keys listed once each in %d pages across a join and a decommission", len(l.order), l.pages)
}
