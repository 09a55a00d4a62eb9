package coordinator

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/test/testutil"
)

func TestCoordinator_PutReachesW(t *testing.T) {
	for _, tt := range []struct {
		name        string
		synchronous bool
	}{{"early answer then confirmation", false}, {"one durable answer", true}} {
		t.Run(tt.name, func(t *testing.T) {
			a, b, c := &fakeReplica{synchronous: tt.synchronous}, &fakeReplica{}, &fakeReplica{}
			cl := newCluster(t, map[string]*fakeReplica{"a": a, "b": b, "c": c})
			cl.route = Route{Targets: primaries("a", "b", "c")}
			reply, pid := cl.run(putRequest("v", 2), false)
			if reply.Err != nil {
				t.Fatalf("put failed: %v", reply.Err)
			}
			if reply.Acks < 2 {
				t.Fatalf("answered after %d acks, want at least w=2", reply.Acks)
			}
			if live := reply.Object.Live(); len(live) != 1 || string(live[0].Value) != "v" {
				t.Fatalf("answered object %+v, want the one value written", reply.Object)
			}
			// The coordinator waits out the third replica, then stops; both
			// others were sent the coordinated object.
			cl.awaitForgotten(pid)
			if b.merges() != 1 || c.merges() != 1 {
				t.Fatalf("merges sent: b %d, c %d; want 1 each", b.merges(), c.merges())
			}
		})
	}
}

func TestCoordinator_PutFailures(t *testing.T) {
	storage := &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_STORAGE, Message: "disk on fire"}
	tests := []struct {
		name     string
		replicas map[string]*fakeReplica
		w        int
		check    func(t *testing.T, err error)
	}{
		{
			name:     "coordinator storage error before minting is indeterminate",
			replicas: map[string]*fakeReplica{"a": {putErr: storage}, "b": {}, "c": {}},
			w:        2,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, quorum.ErrIndeterminate) {
					t.Fatalf("err = %v, want indeterminate", err)
				}
			},
		},
		{
			name:     "replica storage errors leaving w out of reach are indeterminate",
			replicas: map[string]*fakeReplica{"a": {}, "b": {mergeErr: storage}, "c": {mergeErr: storage}},
			w:        2,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, quorum.ErrIndeterminate) {
					t.Fatalf("err = %v, want indeterminate", err)
				}
			},
		},
		{
			name:     "one replica's storage error is outvoted",
			replicas: map[string]*fakeReplica{"a": {}, "b": {mergeErr: storage}, "c": {}},
			w:        2,
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Fatalf("err = %v, want success from a and c", err)
				}
			},
		},
		{
			name: "a refusal is a RefusedError with the replica's code",
			replicas: map[string]*fakeReplica{"a": {putErr: &messages.ErrorReply{
				Code: messages.ErrorCode_ERROR_CODE_TOO_MANY_SIBLINGS, Message: "too many siblings"}}, "b": {}, "c": {}},
			w: 2,
			check: func(t *testing.T, err error) {
				refused, ok := errors.AsType[*RefusedError](err)
				if !ok || refused.Code != messages.ErrorCode_ERROR_CODE_TOO_MANY_SIBLINGS || refused.Message != "too many siblings" {
					t.Fatalf("err = %#v, want a RefusedError for too many siblings", err)
				}
			},
		},
		{
			name:     "too few replicas is unavailable",
			replicas: map[string]*fakeReplica{"a": {}, "b": {}},
			w:        3,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, quorum.ErrUnavailable) {
					t.Fatalf("err = %v, want unavailable", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCluster(t, tt.replicas)
			var nodes []string
			for n := range tt.replicas {
				nodes = append(nodes, n)
			}
			slices.Sort(nodes)
			cl.route = Route{Targets: primaries(nodes...)}
			reply, pid := cl.run(putRequest("v", tt.w), false)
			tt.check(t, reply.Err)
			cl.awaitForgotten(pid)
		})
	}
}

// TestCoordinator_PutHints shows the hint paths: a fallback keeps the write
// for a down owner and counts toward W; a refused hint is named in the
// answer; at the deadline, a replica that never answered is hinted to the
// coordinating replica's queue.
func TestCoordinator_PutHints(t *testing.T) {
	t.Run("fallback stores a hint that counts", func(t *testing.T) {
		a, b, d := &fakeReplica{}, &fakeReplica{}, &fakeReplica{}
		cl := newCluster(t, map[string]*fakeReplica{"a": a, "b": b, "d": d})
		cl.route = Route{Targets: append(primaries("a", "b"), quorum.Target{Node: "d", HintFor: "c"})}
		reply, pid := cl.run(putRequest("v", 3), false)
		if reply.Err != nil || reply.Acks != 3 {
			t.Fatalf("reply %+v, want 3 acks", reply)
		}
		if got := d.hintsFor(); !slices.Equal(got, []string{"c"}) {
			t.Fatalf("d's queue got hints for %q, want [c]", got)
		}
		cl.awaitForgotten(pid)
	})
	t.Run("refused hint is named when w is missed", func(t *testing.T) {
		a, b, d := &fakeReplica{}, &fakeReplica{}, &fakeReplica{hintRefusal: "queue full"}
		cl := newCluster(t, map[string]*fakeReplica{"a": a, "b": b, "d": d})
		cl.route = Route{Targets: append(primaries("a", "b"), quorum.Target{Node: "d", HintFor: "c"})}
		reply, _ := cl.run(putRequest("v", 3), false)
		if !errors.Is(reply.Err, quorum.ErrIndeterminate) || !strings.Contains(reply.Err.Error(), "hints refused, not counted toward w: d: queue full") {
			t.Fatalf("err = %v, want indeterminate naming d's refusal", reply.Err)
		}
	})
	t.Run("a silent replica is hinted at the deadline", func(t *testing.T) {
		a, b, c := &fakeReplica{}, &fakeReplica{}, &fakeReplica{silent: true}
		cl := newCluster(t, map[string]*fakeReplica{"a": a, "b": b, "c": c})
		cl.route = Route{Targets: primaries("a", "b", "c"), Uncovered: []string{"e"}}
		req := putRequest("v", 2)
		req.Deadline = time.Now().Add(300 * time.Millisecond)
		reply, pid := cl.run(req, true)
		if reply.Err != nil {
			t.Fatalf("put failed: %v", reply.Err)
		}
		cl.awaitForgotten(pid)
		// a coordinated: its queue keeps the uncovered owner's hint at once
		// and the silent replica's at the deadline.
		testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
			if got := a.hintsFor(); !slices.Equal(got, []string{"e", "c"}) {
				return errors.New("a's queue got hints for " + strings.Join(got, ","))
			}
			return nil
		})
	})
}
