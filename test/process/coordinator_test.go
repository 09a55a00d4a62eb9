//go:build unix

package process_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/ring"
)

// TestCoordinator_StoppedCoordinatorDoesNotStallWrites stops (SIGSTOP) the
// node that coordinates most of the keys being written, mid-load, and
// keeps writing through the other two at w=2 for several seconds: long
// enough that gossip may or may not mark it down meanwhile. A stopped
// process keeps its sockets, so nothing fails fast: without the handover
// each write it coordinates waits out replication.request_timeout (8s
// here) and is answered 503. With it, the write goes to the next owner
// after replication.coordinate_timeout (500ms), so:
//
//   - no write takes longer than coordinate_timeout plus one request's
//     time (allowed 3s on a loaded machine: well below request_timeout);
//   - every write is acknowledged (two of three owners are up);
//   - after the node is continued, every acknowledged value is read back
//     from all three replicas, once: the stopped node's late coordination
//     of the same write carries the same write id and is no second
//     sibling.
func TestCoordinator_StoppedCoordinatorDoesNotStallWrites(t *testing.T) {
	const (
		coordinateTimeout = 500 * time.Millisecond
		requestTimeout    = 8 * time.Second
		oneRequest        = 3 * time.Second
		bound             = coordinateTimeout + oneRequest
		partitions        = 64
		warmup            = 2 * time.Second
		paused            = 6 * time.Second
		writersPerNode    = 2
	)
	nodes := startCluster(t, 3, "--replication.request_timeout", requestTimeout.String(),
		"--replication.coordinate_timeout", coordinateTimeout.String())
	r := waitSameRing(t, nodes, 3, 30*time.Second)
	victim, gateways := nodes[2], nodes[:2]
	// coordinator returns the node that coordinates key while all are up:
	// its partition's first owner.
	coordinator := func(key string) string {
		return r.Replicas[ring.PartitionOf([]byte(key), partitions)][0]
	}

	type write struct {
		key, value string
		start      time.Time
		took       time.Duration
		err        error
	}
	var (
		mu     sync.Mutex
		writes []write
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	for g, gw := range gateways {
		for w := range writersPerNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := gw.Client()
				for i := 0; !stop.Load(); i++ {
					// Three writes in four go to keys the victim
					// coordinates; each key is written once, so a second
					// sibling can only be a duplicate coordination.
					var key string
					for j := 0; ; j++ {
						key = fmt.Sprintf("coord-%d-%d-%d-%d", g, w, i, j)
						if (coordinator(key) == victim.ID()) == (i%4 != 3) {
							break
						}
					}
					value := "value-of-" + key
					ctx, cancel := context.WithTimeout(context.Background(), 3*requestTimeout)
					began := time.Now()
					_, err := c.Put(ctx, key, []byte(value), &client.WriteOptions{W: 2})
					took := time.Since(began)
					cancel()
					mu.Lock()
					writes = append(writes, write{key: key, value: value, start: began, took: took, err: err})
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
	}

	// When the first gateway's gossip marks the victim as not alive, for
	// the figures: the bound must hold before and after.
	var markedDown atomic.Int64
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for !stop.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			members, err := gateways[0].Client().Members(ctx)
			cancel()
			for _, m := range members {
				if err == nil && m.ID == victim.ID() && m.Status != client.MemberAlive && markedDown.Load() == 0 {
					markedDown.Store(time.Now().UnixNano())
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	time.Sleep(warmup)
	pausedAt := time.Now()
	victim.Pause()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			victim.Resume()
		}
	})
	time.Sleep(paused)
	victim.Resume()
	resumed = true
	resumedAt := time.Now()
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	<-watchDone

	handovers := sumMetric(t, gateways, "dht_coordinator_handovers_total ")
	var (
		acked                         []write
		failed                        []string
		maxTook, maxPaused, maxBefore time.Duration
		duringPause, victimKeys       int
	)
	down := time.Unix(0, markedDown.Load())
	for _, w := range writes {
		maxTook = max(maxTook, w.took)
		if w.start.Before(resumedAt) && w.start.Add(w.took).After(pausedAt) {
			duringPause++
			maxPaused = max(maxPaused, w.took)
			if markedDown.Load() == 0 || w.start.Before(down) {
				maxBefore = max(maxBefore, w.took)
			}
			if coordinator(w.key) == victim.ID() {
				victimKeys++
			}
		}
		if w.took > bound {
			failed = append(failed, fmt.Sprintf("%s took %v (bound %v): %v", w.key, w.took, bound, w.err))
			continue
		}
		if w.err != nil {
			failed = append(failed, fmt.Sprintf("%s failed after %v: %v", w.key, w.took, w.err))
			continue
		}
		acked = append(acked, w)
	}

	// Read every acknowledged write back from all three replicas.
	waitAllAlive(t, nodes, 60*time.Second)
	var lost []string
	duplicates := 0
	for _, w := range acked {
		var obj *client.Object
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			obj, err = gateways[attempt%2].Client().Get(ctx, w.key, &client.ReadOptions{R: 3})
			cancel()
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil || !obj.Found {
			lost = append(lost, fmt.Sprintf("%s: %+v, %v", w.key, obj, err))
			continue
		}
		if !slices.ContainsFunc(obj.Siblings, func(s client.Sibling) bool { return string(s.Value) == w.value }) {
			lost = append(lost, fmt.Sprintf("%s: read %d siblings without %q", w.key, len(obj.Siblings), w.value))
			continue
		}
		for _, s := range obj.Siblings {
			if string(s.Value) != w.value {
				lost = append(lost, fmt.Sprintf("%s: a sibling %q that was never written", w.key, s.Value))
			}
		}
		if len(obj.Siblings) > 1 {
			// Each key is written once: two siblings are the write's two
			// coordinations, which its write id makes one.
			duplicates++
			t.Errorf("%s: %d siblings of one write, want 1 (a handed-over write's copies are one sibling)", w.key, len(obj.Siblings))
		}
	}

	downAfter := "not within the run"
	if markedDown.Load() != 0 {
		downAfter = down.Sub(pausedAt).Round(time.Millisecond).String()
	}
	t.Logf("writes attempted=%d acknowledged=%d failed_or_over_bound=%d lost=%d duplicate_siblings=%d handovers=%d",
		len(writes), len(acked), len(failed), len(lost), duplicates, handovers)
	t.Logf("during the %v pause: writes=%d (victim-coordinated=%d) max_latency=%v, before gossip marked it down=%v; overall max_latency=%v bound=%v; victim marked down after %s",
		paused, duringPause, victimKeys, maxPaused.Round(time.Millisecond), maxBefore.Round(time.Millisecond),
		maxTook.Round(time.Millisecond), bound, downAfter)
	if len(failed) > 0 {
		t.Errorf("%d writes failed or waited past coordinate_timeout + one request (%v), e.g.:\n%s", len(failed), bound, strings.Join(first(failed, 10), "\n"))
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged writes not read back, e.g.:\n%s", len(lost), strings.Join(first(lost, 10), "\n"))
	}
	if victimKeys == 0 || handovers == 0 {
		t.Errorf("%d writes to keys the stopped node coordinates during the pause, %d handovers: the test did not exercise a handover", victimKeys, handovers)
	}
}
