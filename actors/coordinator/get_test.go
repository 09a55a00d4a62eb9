package coordinator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/test/testutil"
)

func held(t *testing.T, base dvv.Set, value string, actor dvv.Actor) dvv.Set {
	t.Helper()
	s, err := base.Update(base.Context, dvv.Sibling{Value: []byte(value), ContentType: "text/plain", Timestamp: 1},
		dvv.Dot{Actor: actor, Counter: base.Context.Get(actor) + 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCoordinator_GetMergesAndRepairs reads from replicas holding
// concurrent versions and nothing: the answer merges them, and every
// replica whose copy differs is repaired with the merge.
func TestCoordinator_GetMergesAndRepairs(t *testing.T) {
	v1 := held(t, dvv.Set{}, "v1", 1)
	a, b, c := &fakeReplica{held: held(t, v1, "v2", 1)}, &fakeReplica{held: held(t, v1, "v3", 2)}, &fakeReplica{}
	cl := newCluster(t, map[string]*fakeReplica{"a": a, "b": b, "c": c})
	// d stands in for a down owner: it keeps hints, and is not read.
	cl.route = Route{Targets: append(primaries("a", "b", "c"), quorum.Target{Node: "d", HintFor: "e"})}
	reply, pid := cl.run(Request{Op: OpGet, Key: []byte("k"), Params: quorum.Params{N: 3, R: 3, W: 2}}, false)
	if reply.Err != nil {
		t.Fatalf("get failed: %v", reply.Err)
	}
	if n := len(reply.Object.Live()); n != 2 {
		t.Fatalf("answered %d siblings, want the 2 concurrent ones", n)
	}
	cl.awaitForgotten(pid)
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		for name, r := range map[string]*fakeReplica{"a": a, "b": b, "c": c} {
			if r.merges() != 1 {
				return fmt.Errorf("%s repaired %d times, want 1", name, r.merges())
			}
		}
		return nil
	})
}

func TestCoordinator_GetFailures(t *testing.T) {
	t.Run("too few owners is unavailable", func(t *testing.T) {
		cl := newCluster(t, map[string]*fakeReplica{"a": {}})
		cl.route = Route{Targets: append(primaries("a"), quorum.Target{Node: "d", HintFor: "b"})}
		reply, pid := cl.run(Request{Op: OpGet, Key: []byte("k"), Params: quorum.Params{N: 3, R: 2}}, false)
		if !errors.Is(reply.Err, quorum.ErrUnavailable) {
			t.Fatalf("err = %v, want unavailable", reply.Err)
		}
		cl.awaitForgotten(pid)
	})
	// A replica rebuilding after a data loss refuses reads; when R is
	// missed because of it, the answer names it and says why, so that an
	// operator does not go looking for a node that is down.
	t.Run("a rebuilding owner is named", func(t *testing.T) {
		notReady := &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_NOT_READY, Message: "partition 3 is being rebuilt"}
		cl := newCluster(t, map[string]*fakeReplica{"a": {}, "b": {getErr: notReady}, "c": {}})
		cl.route = Route{Targets: primaries("a", "b", "c")}
		req := Request{Op: OpGet, Key: []byte("k"), Params: quorum.Params{N: 3, R: 3}, Deadline: time.Now().Add(5 * time.Second)}
		reply, pid := cl.run(req, false)
		if reply.Err == nil || !strings.Contains(reply.Err.Error(), "b is not ready to serve reads of this partition (partition 3 is being rebuilt)") {
			t.Fatalf("err = %v, want it to name b as not ready, with its reason", reply.Err)
		}
		if !errors.Is(reply.Err, quorum.ErrUnavailable) && !errors.Is(reply.Err, quorum.ErrTimeout) {
			t.Fatalf("err = %v, want the quorum's own error kept", reply.Err)
		}
		cl.awaitForgotten(pid)
	})
	t.Run("silent owners time out at the deadline", func(t *testing.T) {
		cl := newCluster(t, map[string]*fakeReplica{"a": {}, "b": {silent: true}, "c": {silent: true}})
		cl.route = Route{Targets: primaries("a", "b", "c")}
		req := Request{Op: OpGet, Key: []byte("k"), Params: quorum.Params{N: 3, R: 2}, Deadline: time.Now().Add(200 * time.Millisecond)}
		reply, pid := cl.run(req, false)
		if !errors.Is(reply.Err, quorum.ErrTimeout) {
			t.Fatalf("err = %v, want a timeout", reply.Err)
		}
		cl.awaitForgotten(pid)
	})
}
