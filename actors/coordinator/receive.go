package coordinator

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
)

// Props returns the props of a coordinator for req, which answers replyTo
// with a *Reply.
func Props(cfg Config, req Request, replyTo *actor.PID) *actor.Props {
	var opts []actor.PropsOption
	if cfg.Dispatcher != nil {
		opts = append(opts, actor.WithDispatcher(cfg.Dispatcher))
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &coordinator{cfg: cfg, req: req, replyTo: replyTo}
	}, opts...)
}

// deadlineExpired is the timer's message: the request's deadline passed.
type deadlineExpired struct{}

// coordinator is one request's actor. Every decision is its machine's (put
// or get) or its ledger's; the actor converts messages to their events and
// carries out what they return.
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
	// ledger numbers the messages to replicas and remembers the ones whose
	// answers are awaited.
	ledger  quorum.Ledger
	timer   *time.Timer
	replied bool
}

// Receive steps the request's machine with each message and stops the
// actor once the machine is done and no answer is awaited.
func (c *coordinator) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		c.start(ctx)
	case *messages.Envelope:
		c.onAnswer(ctx, msg)
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

// start arms the deadline, looks up the partition's route, and starts the
// machine: a read asks the owners, a write its coordinating replica.
func (c *coordinator) start(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	c.timer = time.AfterFunc(time.Until(c.req.Deadline), func() { root.Send(self, deadlineExpired{}) })
	c.route = c.cfg.Router.Route(c.req.Partition)
	if c.req.Op == OpGet {
		c.get = quorum.NewGet(c.req.Params, quorum.ReadTargets(c.route.Targets))
		c.carryGet(ctx, c.get.Start())
		return
	}
	c.put = quorum.NewPut(c.req.Params, c.route.Targets)
	c.carryPut(ctx, c.put.Start())
}

// onAnswer routes a replica's answer, found by its request id in the
// ledger, to the handler of what it answers. An id the ledger does not
// await is a straggler's answer after the deadline, or a repair's: ignored.
func (c *coordinator) onAnswer(ctx actor.Context, env *messages.Envelope) {
	out, ok := c.ledger.Answer(env.GetRequestId())
	if !ok {
		return
	}
	if e := env.GetErrorReply(); e != nil {
		c.cfg.Logger.Debug("replica error", "node", out.Node, "kind", out.Kind.String(), "code", e.GetCode(), "err", e.GetMessage())
	}
	switch out.Kind {
	case quorum.KindCoordinate:
		c.onCoordinated(ctx, out, env)
	case quorum.KindHint:
		c.onHintAnswer(ctx, out, env)
	case quorum.KindReplicate:
		c.onReplicated(ctx, out, env)
	case quorum.KindRead:
		c.onRead(ctx, out, env)
	case quorum.KindPending, quorum.KindRepair:
		// Not counted: a pending owner's miss is hinted at the deadline; a
		// repair is never awaited.
	}
}

// onDeadline tells the machine the deadline passed, hints the write to the
// replicas that missed it, and gives up on every answer still out.
func (c *coordinator) onDeadline(ctx actor.Context) {
	if c.get != nil {
		c.carryGet(ctx, c.get.Timeout())
	} else {
		c.carryPut(ctx, c.put.Timeout())
		c.hintLate(ctx)
	}
	c.ledger.GiveUp()
}

// finished reports whether the actor may stop: the machine has nothing left
// to do and no answer is awaited.
func (c *coordinator) finished() bool {
	if c.get != nil {
		return c.get.Done() && c.ledger.Awaiting() == 0
	}
	return c.put.Done() && c.ledger.Awaiting() == 0
}
