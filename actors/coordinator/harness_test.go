package coordinator

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/test/testutil"
	"github.com/dhtkv/dht/wire"
)

// fakeReplica is what one node's vnode (and hint queue) answers in a test:
// enough of the vnode's contract for a coordinator, and a record of what it
// was sent.
type fakeReplica struct {
	// held is the key's object at this replica, answered to reads and
	// grown by merges and writes.
	held dvv.Set
	// putErr and mergeErr, when set, are answered instead of a write's or a
	// merge's success.
	putErr, mergeErr *messages.ErrorReply
	// getErr, when set, is answered to a read instead of the copy.
	getErr *messages.ErrorReply
	// synchronous answers a write once, durable, rather than minted then
	// confirmed.
	synchronous bool
	// silent never answers: a node that is down and not yet noticed.
	silent bool
	// hintRefusal, when set, refuses hints with this reason.
	hintRefusal string
	// actorID is the dvv actor of the dots this replica mints (7 when
	// unset): two replicas that coordinate one write need distinct ones.
	actorID dvv.Actor
	// putDelay delays the answers to a write this long: a coordinator
	// that stores the write at once but answers late, as a stopped node
	// does once it is continued.
	putDelay time.Duration

	mu       sync.Mutex
	received []*messages.Envelope
	hints    []*messages.HintRequest
}

// actor is the fake vnode: it answers as the fields say.
func (f *fakeReplica) actor() actor.Actor {
	return actor.ReceiveFunc(func(ctx actor.Context) {
		env, ok := ctx.Message().(*messages.Envelope)
		if !ok {
			return
		}
		f.mu.Lock()
		f.received = append(f.received, env)
		answers := f.answer(env)
		f.mu.Unlock()
		if f.silent || ctx.Sender() == nil {
			return
		}
		if f.putDelay > 0 && env.GetPutRequest() != nil {
			root, sender, id := ctx.ActorSystem().Root, ctx.Sender(), env.GetRequestId()
			time.AfterFunc(f.putDelay, func() {
				for _, a := range answers {
					a.RequestId = id
					root.Send(sender, a)
				}
			})
			return
		}
		for _, a := range answers {
			a.RequestId = env.GetRequestId()
			ctx.Respond(a)
		}
	})
}

func (f *fakeReplica) answer(env *messages.Envelope) []*messages.Envelope {
	switch {
	case env.GetPutRequest() != nil:
		if f.putErr != nil {
			return []*messages.Envelope{{Body: &messages.Envelope_ErrorReply{ErrorReply: f.putErr}}}
		}
		req := env.GetPutRequest()
		ctx, _ := wire.VVFromProto(req.GetContext())
		sib := wire.SiblingFromProto(req.GetValue())
		sib.Timestamp = 1
		self := f.actorID
		if self == 0 {
			self = 7
		}
		obj, err := f.held.Update(ctx, sib, dvv.Dot{Actor: self, Counter: f.held.Context.Get(self) + 1}, int(req.GetMaxSiblings()))
		if err != nil {
			return []*messages.Envelope{{Body: &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{
				Code: messages.ErrorCode_ERROR_CODE_TOO_MANY_SIBLINGS, Message: err.Error()}}}}
		}
		f.held = obj
		if f.synchronous {
			return []*messages.Envelope{{Body: &messages.Envelope_PutReply{PutReply: &messages.PutReply{Object: wire.ObjectToProto(obj)}}}}
		}
		return []*messages.Envelope{
			{Body: &messages.Envelope_PutReply{PutReply: &messages.PutReply{Object: wire.ObjectToProto(obj), Minted: true}}},
			{Body: &messages.Envelope_PutReply{PutReply: &messages.PutReply{}}},
		}
	case env.GetMergeRequest() != nil:
		if f.mergeErr != nil {
			return []*messages.Envelope{{Body: &messages.Envelope_ErrorReply{ErrorReply: f.mergeErr}}}
		}
		obj, _ := wire.ObjectFromProto(env.GetMergeRequest().GetObject())
		f.held = dvv.Merge(f.held, obj)
		return []*messages.Envelope{{Body: &messages.Envelope_MergeReply{MergeReply: &messages.MergeReply{}}}}
	case env.GetGetRequest() != nil:
		if f.getErr != nil {
			return []*messages.Envelope{{Body: &messages.Envelope_ErrorReply{ErrorReply: f.getErr}}}
		}
		reply := &messages.GetReply{}
		if !f.held.IsEmpty() {
			reply.Object = wire.ObjectToProto(f.held)
		}
		return []*messages.Envelope{{Body: &messages.Envelope_GetReply{GetReply: reply}}}
	}
	return nil
}

// hintActor is the fake hint queue of the same node.
func (f *fakeReplica) hintActor() actor.Actor {
	return actor.ReceiveFunc(func(ctx actor.Context) {
		env, ok := ctx.Message().(*messages.Envelope)
		if !ok || env.GetHintRequest() == nil {
			return
		}
		f.mu.Lock()
		f.hints = append(f.hints, env.GetHintRequest())
		f.mu.Unlock()
		if ctx.Sender() == nil {
			return
		}
		reply := &messages.HintReply{Stored: f.hintRefusal == "", Reason: f.hintRefusal}
		ctx.Respond(&messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_HintReply{HintReply: reply}})
	})
}

// merges counts the merge requests the replica was sent.
func (f *fakeReplica) merges() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, env := range f.received {
		if env.GetMergeRequest() != nil {
			n++
		}
	}
	return n
}

// hintsFor returns the targets of the hints this node's queue was sent.
func (f *fakeReplica) hintsFor() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var targets []string
	for _, h := range f.hints {
		targets = append(targets, h.GetTarget())
	}
	return targets
}

// cluster is an actor system with a fake replica (vnode and hint queue)
// per node, and a Router over them.
type cluster struct {
	t        *testing.T
	system   *actor.ActorSystem
	replicas map[string]*fakeReplica
	vnodes   map[string]*actor.PID
	queues   map[string]*actor.PID
	route    Route
	// coordinateTimeout, handOverAllowed and metrics go into the
	// coordinators' Config.
	coordinateTimeout time.Duration
	handOverAllowed   func() bool
	metrics           *metrics.Metrics
}

func newCluster(t *testing.T, replicas map[string]*fakeReplica) *cluster {
	t.Helper()
	c := &cluster{t: t, system: actor.NewActorSystem(), replicas: replicas,
		vnodes: map[string]*actor.PID{}, queues: map[string]*actor.PID{}}
	t.Cleanup(c.system.Shutdown)
	for node, r := range replicas {
		c.vnodes[node] = c.system.Root.Spawn(actor.PropsFromProducer(r.actor))
		c.queues[node] = c.system.Root.Spawn(actor.PropsFromProducer(r.hintActor))
	}
	return c
}

func (c *cluster) Route(uint32) Route                        { return c.route }
func (c *cluster) VnodePID(node string, _ uint32) *actor.PID { return c.vnodes[node] }
func (c *cluster) HintsPID(node string) *actor.PID           { return c.queues[node] }

// run spawns a coordinator, starts req on it, and returns the answer and
// the coordinator's PID.
func (c *cluster) run(req Request, hints bool) (*Reply, *actor.PID) {
	c.t.Helper()
	if req.Deadline.IsZero() {
		req.Deadline = time.Now().Add(5 * time.Second)
	}
	cfg := Config{Hints: hints, Router: c, CoordinateTimeout: c.coordinateTimeout, HandOverAllowed: c.handOverAllowed, Metrics: c.metrics,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pid := c.system.Root.Spawn(Props(cfg))
	done := make(chan *Reply, 1)
	c.system.Root.Send(pid, &Start{Request: req, Done: done})
	select {
	case reply := <-done:
		return reply, pid
	case <-time.After(time.Until(req.Deadline) + 5*time.Second):
		c.t.Fatal("no answer from the coordinator")
		return nil, nil
	}
}

// awaitForgotten waits until the coordinator runs no request: it has
// heard every answer it awaits, or given up on them at the deadline.
func (c *cluster) awaitForgotten(pid *actor.PID) {
	c.t.Helper()
	testutil.Eventually(c.t, 10*time.Second, 10*time.Millisecond, func() error {
		n, err := c.system.Root.RequestFuture(pid, &inflightQuery{}, time.Second).Result()
		if err != nil {
			return err
		}
		if n != 0 {
			return fmt.Errorf("%v requests still running", n)
		}
		return nil
	})
}

func primaries(nodes ...string) []quorum.Target {
	ts := make([]quorum.Target, len(nodes))
	for i, n := range nodes {
		ts[i] = quorum.Target{Node: n, Primary: true}
	}
	return ts
}

func putRequest(value string, w int) Request {
	return Request{Op: OpPut, Key: []byte("k"), Value: []byte(value), ContentType: "text/plain",
		Params: quorum.Params{N: 3, R: 2, W: w}}
}
