package coordinator

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/test/testutil"
)

// spawn starts a coordinator for the cluster's route, without a request.
func (c *cluster) spawn() *actor.PID {
	cfg := Config{Router: c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return c.system.Root.Spawn(Props(cfg))
}

// TestCoordinator_ManyRequestsAtOnce: one coordinator runs many requests
// side by side, and each answer reaches its own request: every write's
// answer holds the value it wrote, and every read answers.
func TestCoordinator_ManyRequestsAtOnce(t *testing.T) {
	cl := newCluster(t, map[string]*fakeReplica{"a": {}, "b": {}, "c": {}})
	cl.route = Route{Targets: primaries("a", "b", "c")}
	pid := cl.spawn()
	const writes, reads = 40, 20
	done := make([]chan *Reply, writes+reads)
	for i := range done {
		done[i] = make(chan *Reply, 1)
		req := putRequest(fmt.Sprintf("v%d", i), 2)
		if i >= writes {
			req = Request{Op: OpGet, Key: []byte("k"), Params: quorum.Params{N: 3, R: 2, W: 2}}
		}
		req.Deadline = time.Now().Add(10 * time.Second)
		cl.system.Root.Send(pid, &Start{Request: req, Done: done[i]})
	}
	for i, ch := range done {
		var reply *Reply
		select {
		case reply = <-ch:
		case <-time.After(15 * time.Second):
			t.Fatalf("request %d: no answer", i)
		}
		if reply.Err != nil {
			t.Fatalf("request %d failed: %v", i, reply.Err)
		}
		if i >= writes {
			continue
		}
		var values []string
		for _, s := range reply.Object.Live() {
			values = append(values, string(s.Value))
		}
		if want := fmt.Sprintf("v%d", i); !slices.Contains(values, want) {
			t.Fatalf("write %d answered with %q, not the value it wrote (%s): an answer reached the wrong request", i, values, want)
		}
	}
	cl.awaitForgotten(pid)
}

// TestCoordinator_StoppedAnswersRequestsInFlight: a coordinator that stops
// (the node shutting down) or restarts (a panic) loses its requests' state;
// it answers them at once, a write as indeterminate and a read as timed out,
// rather than leaving their callers to wait out the deadline.
func TestCoordinator_StoppedAnswersRequestsInFlight(t *testing.T) {
	cl := newCluster(t, map[string]*fakeReplica{"a": {silent: true}, "b": {silent: true}, "c": {silent: true}})
	cl.route = Route{Targets: primaries("a", "b", "c")}
	pid := cl.spawn()
	deadline := time.Now().Add(time.Minute)
	put, get := putRequest("v", 2), Request{Op: OpGet, Key: []byte("k"), Params: quorum.Params{N: 3, R: 2, W: 2}}
	put.Deadline, get.Deadline = deadline, deadline
	putDone, getDone := make(chan *Reply, 1), make(chan *Reply, 1)
	cl.system.Root.Send(pid, &Start{Request: put, Done: putDone})
	cl.system.Root.Send(pid, &Start{Request: get, Done: getDone})
	cl.awaitRunning(pid, 2)
	cl.system.Root.Stop(pid)
	for _, tt := range []struct {
		name string
		done chan *Reply
		want error
	}{{"write", putDone, quorum.ErrIndeterminate}, {"read", getDone, quorum.ErrTimeout}} {
		select {
		case reply := <-tt.done:
			if !errors.Is(reply.Err, tt.want) {
				t.Errorf("%s answered %v, want %v", tt.name, reply.Err, tt.want)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: no answer after the coordinator stopped (its deadline is a minute away)", tt.name)
		}
	}
}

// awaitRunning waits until the coordinator runs n requests.
func (c *cluster) awaitRunning(pid *actor.PID, n int) {
	c.t.Helper()
	testutil.Eventually(c.t, 10*time.Second, 10*time.Millisecond, func() error {
		got, err := c.system.Root.RequestFuture(pid, &inflightQuery{}, time.Second).Result()
		if err == nil && got != n {
			err = fmt.Errorf("coordinator runs %v requests, want %d", got, n)
		}
		return err
	})
}
