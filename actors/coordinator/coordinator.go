package coordinator

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/wire"
)

// Op is a client operation.
type Op int

// The client operations.
const (
	OpGet Op = iota
	OpPut
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Request is one validated client request.
type Request struct {
	Op        Op
	Key       []byte
	Partition uint32
	// Context is the client's causal context (writes only).
	Context     dvv.VersionVector
	Value       []byte
	ContentType string
	Params      quorum.Params
	// MaxSiblings refuses a write that would leave more siblings (0 = none).
	MaxSiblings int
	Deadline    time.Time
}

// Reply is the answer to a Request.
type Reply struct {
	// Object is the key's merged state: for a read what the quorum returned,
	// for a write the state at the coordinating replica.
	Object dvv.Set
	Acks   int
	Err    error
}

// RefusedError is a replica's definite refusal of a write: nothing was
// stored.
type RefusedError struct {
	Code    messages.ErrorCode
	Message string
}

func (e *RefusedError) Error() string { return e.Message }

// Route is where a request for one partition goes.
type Route struct {
	// Targets are the reachable replicas in preference order: live owners
	// (primaries), then fallbacks standing in for down owners.
	Targets []quorum.Target
	// Uncovered lists down owners no fallback stands in for (a cluster no
	// larger than N). A live primary keeps their hints, which do not count
	// toward W: one machine never counts twice.
	Uncovered []string
	// Pending are new owners still receiving the partition in a handoff:
	// they take every write, so they miss nothing meanwhile, but are not
	// read from and do not count toward W.
	Pending []string
}

// Router tells a coordinator where a partition's replicas are. It is called
// from coordinator actors concurrently and must be safe for that.
type Router interface {
	// Route returns where requests for partition p go.
	Route(p uint32) Route
	// VnodePID returns the PID of partition p's vnode on node.
	VnodePID(node string, p uint32) *actor.PID
	// HintsPID returns the PID of node's hint queue.
	HintsPID(node string) *actor.PID
}

// Config is shared by all coordinators of a node.
type Config struct {
	// Hints turns on hinted handoff for replicas that miss the deadline.
	Hints   bool
	Router  Router
	Metrics *metrics.Metrics
	// Dispatcher, when set, runs coordinators' mailboxes (the node's
	// worker pool); nil means protoactor's default.
	Dispatcher actor.Dispatcher
	Logger     *slog.Logger
}

// Props returns the props of a coordinator for req, which answers replyTo
// with a *Reply.
func Props(cfg Config, req Request, replyTo *actor.PID) *actor.Props {
	var opts []actor.PropsOption
	if cfg.Dispatcher != nil {
		opts = append(opts, actor.WithDispatcher(cfg.Dispatcher))
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &coordinator{cfg: cfg, req: req, replyTo: replyTo, pending: map[uint64]pending{}}
	}, opts...)
}

type deadlineExpired struct{}

type pending struct {
	node string
	kind string // "coordinate", "replicate", "pending", "read", "repair"
}

type coordinator struct {
	cfg     Config
	req     Request
	replyTo *actor.PID
	route   Route
	// coordNode is the replica that coordinates a write, and coordinated
	// the object it produced (nil until then).
	coordNode   string
	coordinated *dvv.Set
	// hintRefusals says why fallbacks refused hints, for the client's
	// answer when W is then missed.
	hintRefusals []string
	put          *quorum.Put
	get          *quorum.Get
	pending      map[uint64]pending
	nextID       uint64
	timer        *time.Timer
	replied      bool
}

func (c *coordinator) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		c.start(ctx)
	case *messages.Envelope:
		c.onReply(ctx, msg)
	case deadlineExpired:
		c.onDeadline(ctx)
	case *actor.Stopping:
		if c.timer != nil {
			c.timer.Stop()
		}
		return
	default:
		return
	}
	if c.finished() {
		ctx.Stop(ctx.Self())
	}
}

func (c *coordinator) start(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	c.timer = time.AfterFunc(time.Until(c.req.Deadline), func() { root.Send(self, deadlineExpired{}) })
	c.route = c.cfg.Router.Route(c.req.Partition)
	if c.req.Op == OpGet {
		// Fallbacks keep hints, not readable replicas: reads go to owners.
		var owners []quorum.Target
		for _, t := range c.route.Targets {
			if t.Primary {
				owners = append(owners, t)
			}
		}
		c.get = quorum.NewGet(c.req.Params, owners)
		c.applyGet(ctx, c.get.Start())
		return
	}
	c.put = quorum.NewPut(c.req.Params, c.route.Targets)
	c.applyPut(ctx, c.put.Start())
}

func (c *coordinator) onReply(ctx actor.Context, env *messages.Envelope) {
	p, ok := c.pending[env.GetRequestId()]
	if !ok {
		return
	}
	delete(c.pending, env.GetRequestId())
	errReply := env.GetErrorReply()
	if errReply != nil {
		c.cfg.Logger.Debug("replica error", "node", p.node, "kind", p.kind, "code", errReply.GetCode(), "err", errReply.GetMessage())
	}
	switch p.kind {
	case "coordinate":
		c.onCoordinated(ctx, p, env)
	case "hint":
		if h := env.GetHintReply(); h != nil && h.GetStored() {
			c.applyPut(ctx, c.put.Acked(p.node))
		} else {
			reason := env.GetHintReply().GetReason()
			if errReply != nil {
				reason = errReply.GetMessage()
			}
			c.cfg.Logger.Warn("hint refused; not counted toward w", "node", p.node, "reason", reason)
			c.hintRefusals = append(c.hintRefusals, p.node+": "+reason)
			c.applyPut(ctx, c.put.Failed(p.node))
		}
	case "replicate":
		if errReply != nil {
			c.applyPut(ctx, c.put.Failed(p.node))
		} else {
			c.applyPut(ctx, c.put.Acked(p.node))
		}
	case "read":
		obj, err := wire.ObjectFromProto(env.GetGetReply().GetObject())
		if errReply != nil || err != nil {
			c.applyGet(ctx, c.get.Failed(p.node))
		} else {
			c.applyGet(ctx, c.get.Answered(p.node, obj))
		}
	case "repair", "pending":
		// Not counted: a failed repair is retried by the next read or by
		// anti-entropy; a pending owner's miss is hinted at the deadline.
	}
}

// onCoordinated handles the coordinating vnode's answers: the object,
// minted and not yet durable, then the confirmation of its write; or one
// answer with both (a vnode that writes synchronously); or an error.
func (c *coordinator) onCoordinated(ctx actor.Context, p pending, env *messages.Envelope) {
	errReply, putReply := env.GetErrorReply(), env.GetPutReply()
	switch {
	case errReply != nil && !storageFailure(errReply.GetCode()):
		// A refusal (too many siblings, a bad request); the machine
		// decides whether it is definite.
		c.applyPut(ctx, c.put.Refused(&RefusedError{Code: errReply.GetCode(), Message: errReply.GetMessage()}))
	case errReply != nil:
		c.applyPut(ctx, c.put.Failed(p.node))
	case putReply.GetMinted():
		obj, err := wire.ObjectFromProto(putReply.GetObject())
		if err != nil {
			c.applyPut(ctx, c.put.Failed(p.node))
			return
		}
		// The confirmation comes under the same request id.
		c.pending[env.GetRequestId()] = p
		c.applyPut(ctx, c.put.Minted(obj))
		c.sendAlongside(ctx, obj)
	case c.coordinated != nil:
		c.applyPut(ctx, c.put.Coordinated(*c.coordinated))
	default:
		obj, err := wire.ObjectFromProto(putReply.GetObject())
		if err != nil {
			c.applyPut(ctx, c.put.Failed(p.node))
			return
		}
		c.applyPut(ctx, c.put.Coordinated(obj))
		c.sendAlongside(ctx, obj)
	}
}

// sendAlongside records the coordinated object and sends it where it goes
// besides the replicas counted toward W.
func (c *coordinator) sendAlongside(ctx actor.Context, obj dvv.Set) {
	if c.coordinated != nil {
		return
	}
	c.coordinated = &obj
	// No fallback exists for these owners: the coordinating replica keeps
	// their hints. Not counted toward W, so fire and forget.
	for _, down := range c.route.Uncovered {
		ctx.Send(c.cfg.Router.HintsPID(c.coordNode), c.hintRequest(down, obj))
	}
	// New owners mid-handoff get the write too; a miss is hinted at the
	// deadline like any straggler's.
	if len(c.route.Pending) > 0 {
		merge := c.mergeRequest(obj)
		for _, node := range c.route.Pending {
			c.send(ctx, quorum.Target{Node: node}, "pending", merge)
		}
	}
}

func (c *coordinator) onDeadline(ctx actor.Context) {
	if c.get != nil {
		c.applyGet(ctx, c.get.Timeout())
	} else {
		c.applyPut(ctx, c.put.Timeout())
		c.hintStragglers(ctx)
	}
	clear(c.pending) // whatever is still out will not be waited for
}

// hintStragglers hands the coordinating replica's hint queue a copy of the
// write for every replica that missed the deadline: gossip may not have
// noticed yet that it is down, and without a hint it would stay stale until
// a read repairs it.
func (c *coordinator) hintStragglers(ctx actor.Context) {
	if !c.cfg.Hints || c.coordinated == nil {
		return
	}
	for _, p := range c.pending {
		if p.kind == "replicate" || p.kind == "pending" {
			ctx.Send(c.cfg.Router.HintsPID(c.coordNode), c.hintRequest(p.node, *c.coordinated))
		}
	}
}

func (c *coordinator) finished() bool {
	if c.get != nil {
		return c.get.Done() && len(c.pending) == 0
	}
	return c.put.Done() && len(c.pending) == 0
}

func (c *coordinator) applyPut(ctx actor.Context, eff quorum.PutEffects) {
	if t := eff.Coordinate; t != nil {
		c.coordNode = t.Node
		sib := &messages.Sibling{Value: c.req.Value, ContentType: c.req.ContentType, Tombstone: c.req.Op == OpDelete}
		c.send(ctx, *t, "coordinate", &messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
			Partition: c.req.Partition, Key: c.req.Key, Context: wire.VVToProto(c.req.Context),
			Value: sib, MaxSiblings: uint32(c.req.MaxSiblings), Early: true,
		}}})
	}
	if len(eff.Replicate) > 0 {
		obj := c.mergeRequest(eff.Object)
		for _, t := range eff.Replicate {
			if t.HintFor != "" {
				c.send(ctx, t, "hint", c.hintRequest(t.HintFor, eff.Object))
				continue
			}
			c.send(ctx, t, "replicate", obj)
		}
	}

	if r := eff.Reply; r != nil {
		err := r.Err
		if err != nil && len(c.hintRefusals) > 0 {
			err = fmt.Errorf("%w; hints refused, not counted toward w: %s", err, strings.Join(c.hintRefusals, "; "))
		}
		c.reply(ctx, &Reply{Object: r.Object, Acks: r.Acks, Err: err})
	}
}

func (c *coordinator) applyGet(ctx actor.Context, eff quorum.GetEffects) {
	for _, t := range eff.Ask {
		c.send(ctx, t, "read", &messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{
			Partition: c.req.Partition, Key: c.req.Key,
		}}})
	}
	if r := eff.Reply; r != nil {
		c.reply(ctx, &Reply{Object: r.Object, Err: r.Err})
	}
	if len(eff.Repair) > 0 {
		repair := c.mergeRequest(eff.Merged)
		for _, t := range eff.Repair {
			c.send(ctx, t, "repair", repair)
		}
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.ReadRepairs.Add(float64(len(eff.Repair)))
		}
	}
}

func (c *coordinator) hintRequest(target string, obj dvv.Set) *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_HintRequest{HintRequest: &messages.HintRequest{
		Target: target, Partition: c.req.Partition, Key: c.req.Key, Object: wire.ObjectToProto(obj),
	}}}
}

func (c *coordinator) mergeRequest(obj dvv.Set) *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{
		Partition: c.req.Partition, Key: c.req.Key, Object: wire.ObjectToProto(obj),
	}}}
}

// send addresses one envelope to a replica's vnode. Each send gets its own
// request id: the reply carries it back, which tells which replica answered.
func (c *coordinator) send(ctx actor.Context, t quorum.Target, kind string, env *messages.Envelope) {
	c.nextID++
	out := &messages.Envelope{RequestId: c.nextID, DeadlineUnixMs: c.req.Deadline.UnixMilli(), Body: env.GetBody()}
	pid := c.cfg.Router.VnodePID(t.Node, c.req.Partition)
	if kind == "hint" {
		pid = c.cfg.Router.HintsPID(t.Node)
	}
	if kind == "repair" {
		ctx.Send(pid, out)
		return
	}
	c.pending[c.nextID] = pending{node: t.Node, kind: kind}
	ctx.Request(pid, out)
}

func (c *coordinator) reply(ctx actor.Context, r *Reply) {
	if c.replied {
		return
	}
	c.replied = true
	ctx.Send(c.replyTo, r)
}

// storageFailure reports whether a replica's error is its own engine's
// failure (or a code an older node leaves unset), which another replica may
// not share, rather than a definite refusal of the request itself.
func storageFailure(code messages.ErrorCode) bool {
	return code == messages.ErrorCode_ERROR_CODE_STORAGE || code == messages.ErrorCode_ERROR_CODE_UNSPECIFIED
}
