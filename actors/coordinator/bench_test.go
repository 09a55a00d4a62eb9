package coordinator

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// benchRouter routes every partition to three fake vnodes that answer at
// once with a fixed object: what is measured is the coordinator's own cost
// per request (the actor hop, the machine, the ledger, the envelopes), not
// a vnode's.
type benchRouter struct {
	route  Route
	vnodes map[string]*actor.PID
}

func (r *benchRouter) Route(uint32) Route                        { return r.route }
func (r *benchRouter) VnodePID(node string, _ uint32) *actor.PID { return r.vnodes[node] }
func (r *benchRouter) HintsPID(node string) *actor.PID           { return r.vnodes[node] }

func benchVnode(obj *messages.Object) actor.Actor {
	return actor.ReceiveFunc(func(ctx actor.Context) {
		env, ok := ctx.Message().(*messages.Envelope)
		if !ok || ctx.Sender() == nil {
			return
		}
		reply := &messages.Envelope{RequestId: env.GetRequestId()}
		switch {
		case env.GetPutRequest() != nil:
			reply.Body = &messages.Envelope_PutReply{PutReply: &messages.PutReply{Object: obj}}
		case env.GetMergeRequest() != nil:
			reply.Body = &messages.Envelope_MergeReply{MergeReply: &messages.MergeReply{}}
		case env.GetGetRequest() != nil:
			reply.Body = &messages.Envelope_GetReply{GetReply: &messages.GetReply{Object: obj}}
		default:
			return
		}
		ctx.Respond(reply)
	})
}

// benchCoordinators starts the fake vnodes and a coordinator per CPU, as
// the gateway runs them, and returns a function that runs one request.
// coordinateTimeout is Config.CoordinateTimeout: non-zero, every write
// gets a write id and arms the handover timer.
func benchCoordinators(b *testing.B, coordinateTimeout time.Duration) func(req Request) *Reply {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	b.Cleanup(system.Shutdown)
	set, err := dvv.Set{}.Update(nil, dvv.Sibling{Value: make([]byte, 100), Timestamp: 1}, dvv.Dot{Actor: 7, Counter: 1}, 0)
	if err != nil {
		b.Fatal(err)
	}
	obj := wire.ObjectToProto(set)
	r := &benchRouter{route: Route{Targets: primaries("a", "b", "c")}, vnodes: map[string]*actor.PID{}}
	for _, node := range []string{"a", "b", "c"} {
		r.vnodes[node] = system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return benchVnode(obj) }))
	}
	cfg := Config{Router: r, Logger: slog.New(slog.DiscardHandler), CoordinateTimeout: coordinateTimeout}
	pids := make([]*actor.PID, 4)
	for i := range pids {
		pids[i] = system.Root.Spawn(Props(cfg))
	}
	var next uint64
	return func(req Request) *Reply {
		next++
		done := make(chan *Reply, 1)
		system.Root.Send(pids[next%uint64(len(pids))], &Start{Request: req, Done: done})
		return <-done
	}
}

// BenchmarkCoordinator measures a write (W=2 of 3) and a read (R=2 of 3)
// through a coordinator, one request at a time; put-no-handover is a write
// with replication.coordinate_timeout 0 (no write id, no timer), against
// put at the default 1s.
func BenchmarkCoordinator(b *testing.B) {
	params := quorum.Params{N: 3, R: 2, W: 2}
	for _, tt := range []struct {
		name              string
		req               Request
		coordinateTimeout time.Duration
	}{
		{"put", Request{Op: OpPut, Key: []byte("k"), Value: make([]byte, 100), Params: params}, time.Second},
		{"put-no-handover", Request{Op: OpPut, Key: []byte("k"), Value: make([]byte, 100), Params: params}, 0},
		{"get", Request{Op: OpGet, Key: []byte("k"), Params: params}, time.Second},
	} {
		b.Run(tt.name, func(b *testing.B) {
			run := benchCoordinators(b, tt.coordinateTimeout)
			b.ReportAllocs()
			for b.Loop() {
				req := tt.req
				req.Deadline = time.Now().Add(5 * time.Second)
				if reply := run(req); reply.Err != nil {
					b.Fatal(reply.Err)
				}
			}
		})
	}
}
