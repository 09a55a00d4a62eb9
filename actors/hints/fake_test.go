package hints

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/messages"
)

// testInterval is the queue's delivery interval in these tests.
const testInterval = 20 * time.Millisecond

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// fakeVnode stands in for a target node's vnodes: it answers MergeRequests
// and records what it got. Its fields are read by the test and written by
// the actor, hence the lock.
type fakeVnode struct {
	mu struct {
		sync.Mutex
		// attempts counts the MergeRequests received per key, answered or
		// not; merged holds the objects acknowledged with a MergeReply.
		attempts map[string]int
		merged   map[string]*messages.MergeRequest
		// fail makes it answer ErrorReply; drop makes it ignore the next
		// drop requests, as if they were lost.
		fail bool
		drop int
	}
}

func newFakeVnode() *fakeVnode {
	f := &fakeVnode{}
	f.mu.attempts = map[string]int{}
	f.mu.merged = map[string]*messages.MergeRequest{}
	return f
}

func (f *fakeVnode) Receive(ctx actor.Context) {
	env, ok := ctx.Message().(*messages.Envelope)
	if !ok {
		return
	}
	req := env.GetMergeRequest()
	if req == nil {
		ctx.Respond(&messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_ErrorReply{
			ErrorReply: &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE, Message: fmt.Sprintf("fake vnode: unexpected %T", env.GetBody())}}})
		return
	}
	f.mu.Lock()
	key := string(req.GetKey())
	f.mu.attempts[key]++
	drop, fail := f.mu.drop > 0, f.mu.fail
	switch {
	case drop:
		f.mu.drop--
	case !fail:
		f.mu.merged[key] = req
	}
	f.mu.Unlock()
	switch {
	case drop:
	case fail:
		ctx.Respond(&messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_ErrorReply{
			ErrorReply: &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_STORAGE, Message: "fake vnode: disk on fire"}}})
	default:
		ctx.Respond(&messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_MergeReply{MergeReply: &messages.MergeReply{}}})
	}
}

func (f *fakeVnode) setFail(fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.fail = fail
}

func (f *fakeVnode) setDrop(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.drop = n
}

// attempts returns how many MergeRequests arrived per key.
func (f *fakeVnode) attempts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.mu.attempts)
}

// merged returns the acknowledged merges by key.
func (f *fakeVnode) merged() map[string]*messages.MergeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.mu.merged)
}

func object(value string) *messages.Object {
	return &messages.Object{Siblings: []*messages.Sibling{{
		Dot: &messages.Dot{Actor: 7, Counter: 1}, Value: []byte(value), ContentType: "text/plain",
	}}}
}

// wantMerged fails the test unless fake acknowledged exactly the keys of
// want, each with its partition and value.
func wantMerged(t *testing.T, fake *fakeVnode, want map[string]uint32) {
	t.Helper()
	got := fake.merged()
	if len(got) != len(want) {
		t.Errorf("the target acknowledged %d keys, want %d", len(got), len(want))
	}
	for key, p := range want {
		req, ok := got[key]
		switch {
		case !ok:
			t.Errorf("key %s never reached the target", key)
		case req.GetPartition() != p:
			t.Errorf("key %s reached the target for partition %d, want %d", key, req.GetPartition(), p)
		case !proto.Equal(req.GetObject(), object("value-"+key)):
			t.Errorf("key %s reached the target as %v, want %v", key, req.GetObject(), object("value-"+key))
		}
	}
}
