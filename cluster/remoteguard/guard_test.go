package remoteguard

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/messages"
)

// node is one actor system behind a guarded remote, with a probe actor
// that counts the envelopes it receives.
type node struct {
	system  *actor.ActorSystem
	remote  *remote.Remote
	addr    string
	probe   *actor.PID
	got     chan *messages.Envelope
	headers chan string
	refused atomic.Int64
}

// shared is the package's one node: protoactor's Remote.Start sets gRPC's
// global logger, which races with another remote's connections in the same
// process, so the tests share one remote rather than start one each.
var shared struct {
	once sync.Once
	n    *node
	err  error
}

func startNode(t testing.TB) *node {
	t.Helper()
	shared.once.Do(func() { shared.n, shared.err = newNode() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.n
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.n != nil {
		shared.n.remote.Shutdown(false)
		shared.n.system.Shutdown()
	}
	os.Exit(code)
}

func newNode() (*node, error) {
	n := &node{got: make(chan *messages.Envelope, 1024), headers: make(chan string, 1024)}
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	g := New(Config{
		LocalAddress: func() string { return n.system.Address() },
		Stamp:        func(id string) bool { return id == "probe" },
		OnRefuse:     func() { n.refused.Add(1) },
		Logger:       slog.New(slog.DiscardHandler),
	})
	n.remote = remote.NewRemote(n.system, remote.Configure("127.0.0.1", 0, remote.WithServerOptions(g.ServerOptions()...)))
	n.remote.Start()
	n.addr = n.system.Address()
	var err error
	n.probe, err = n.system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if e, ok := ctx.Message().(*messages.Envelope); ok {
			n.headers <- ctx.MessageHeader().Get(PeerHeader) + "|" + ctx.MessageHeader().Get(PeerAddrHeader)
			n.got <- e
		}
	}), "probe")
	return n, err
}

// dial opens a raw gRPC connection to the node's remote port, as an
// outsider would.
func (n *node) dial(t testing.TB) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.Dial(n.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// claimedAddr is the address the test client claims: 127.0.0.1, like the
// connection it comes from.
const claimedAddr = "127.0.0.1:1"

func connectFrame(addr string) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
		ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "outsider", Address: addr}},
	}}}
}

// validBatch is a well-formed batch carrying one envelope to the probe.
func (n *node) validBatch(t testing.TB, requestID uint64) *remote.MessageBatch {
	t.Helper()
	data, err := proto.Marshal(&messages.Envelope{RequestId: requestID})
	if err != nil {
		t.Fatal(err)
	}
	return &remote.MessageBatch{
		TypeNames: []string{EnvelopeType},
		Targets:   []*actor.PID{{Address: n.addr, Id: "probe"}},
		Senders:   []*actor.PID{{Address: claimedAddr, Id: "sender"}},
		Envelopes: []*remote.MessageEnvelope{{TypeId: 0, MessageData: data, Target: 0, Sender: 1}},
	}
}

func batchFrame(b *remote.MessageBatch) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}
}

// send opens a stream, sends frames, closes its side, and returns the
// status the server ended the stream with (nil for a clean end).
func (n *node) send(t testing.TB, frames ...*remote.RemoteMessage) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := remote.NewRemotingClient(n.dial(t)).Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := stream.Send(f); err != nil {
			break // the server already ended the stream; Recv says why
		}
	}
	_ = stream.CloseSend()
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// alive proves the node still serves: a fresh stream delivers a message.
func (n *node) alive(t testing.TB) {
	t.Helper()
	const id = 424242
	if err := n.send(t, connectFrame(claimedAddr), batchFrame(n.validBatch(t, id))); err != nil {
		t.Fatalf("a well-formed stream failed: %v", err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-n.got:
			<-n.headers
			if e.GetRequestId() == id {
				return
			}
		case <-deadline:
			t.Fatal("the node no longer delivers well-formed messages")
		}
	}
}

func TestGuard_RefusesEveryCrashShape(t *testing.T) {
	n := startNode(t)
	mutate := func(f func(b *remote.MessageBatch)) *remote.RemoteMessage {
		b := n.validBatch(t, 1)
		f(b)
		return batchFrame(b)
	}
	connect := connectFrame(claimedAddr)
	tests := []struct {
		name   string
		frames []*remote.RemoteMessage
		want   string
	}{
		{"an unknown type name", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.TypeNames[0] = "no.such.Type" })}, "type name"},
		{"a system message type", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.TypeNames[0] = "actor.Stop" })}, "type name"},
		{"a type index out of range", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Envelopes[0].TypeId = 7 })}, "type index"},
		{"a negative type index", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Envelopes[0].TypeId = -1 })}, "type index"},
		{"a target index out of range", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Envelopes[0].Target = 5 })}, "target index"},
		{"a sender index out of range", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Envelopes[0].Sender = 9 })}, "sender index"},
		{"an unknown serializer", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 77 })}, "serializer"},
		{"the JSON serializer", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 1 })}, "serializer"},
		{"a nil target", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Targets[0] = nil })}, "target 0"},
		{"a nil sender", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Senders[0] = nil })}, "sender 0"},
		{"a target on another node (relay)", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Targets[0].Address = "10.9.9.9:7070" })}, "not this node"},
		{"a sender speaking for another node", []*remote.RemoteMessage{connect, mutate(func(b *remote.MessageBatch) { b.Senders[0].Address = "127.0.0.1:2" })}, "connected as"},
		{"a batch before connecting", []*remote.RemoteMessage{batchFrame(n.validBatch(t, 1))}, "before the ConnectRequest"},
		{"a client connection", []*remote.RemoteMessage{{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
			ConnectionType: &remote.ConnectRequest_ClientConnection{ClientConnection: &remote.ClientConnection{}}}}}}, "without the peer's address"},
		{"an address the connection does not come from", []*remote.RemoteMessage{connectFrame("10.1.2.3:7070")}, "connects from"},
		{"this node's own address", []*remote.RemoteMessage{connectFrame(n.addr)}, "own address"},
		{"a frame nodes never send", []*remote.RemoteMessage{connect, {MessageType: &remote.RemoteMessage_DisconnectRequest{DisconnectRequest: &remote.DisconnectRequest{}}}}, "not sent by nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := n.refused.Load()
			err := n.send(t, tc.frames...)
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("stream ended with %v, want PermissionDenied mentioning %q", err, tc.want)
			}
			if n.refused.Load() == before {
				t.Error("the refusal was not counted")
			}
			n.alive(t)
		})
	}
}

func TestGuard_RefusesUnaryRPCs(t *testing.T) {
	n := startNode(t)
	client := remote.NewRemotingClient(n.dial(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.ListProcesses(ctx, &remote.ListProcessesRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("ListProcesses = %v, want Unimplemented", err)
	}
	if _, err := client.GetProcessDiagnostics(ctx, &remote.GetProcessDiagnosticsRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("GetProcessDiagnostics = %v, want Unimplemented", err)
	}
	n.alive(t)
}

func TestGuard_StampsThePeerAndStripsForgedHeaders(t *testing.T) {
	n := startNode(t)
	b := n.validBatch(t, 7)
	b.Envelopes[0].MessageHeader = &remote.MessageHeader{HeaderData: map[string]string{PeerHeader: "node-a", "other": "kept"}}
	if err := n.send(t, connectFrame(claimedAddr), batchFrame(b)); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-n.got:
		if e.GetRequestId() != 7 {
			t.Fatalf("got envelope %d, want 7", e.GetRequestId())
		}
		// No member is known at the claimed address: the forged "node-a"
		// must be gone, and the address stamped.
		if h := <-n.headers; h != "|"+claimedAddr {
			t.Errorf("peer headers = %q, want the forged one replaced by %q", h, "|"+claimedAddr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message was not delivered")
	}
}

func TestGuard_RecoversAPanicOnTheStream(t *testing.T) {
	g := New(Config{LocalAddress: func() string { return "x" }, Logger: slog.New(slog.DiscardHandler)})
	err := g.Stream(nil, fakeStream{}, &grpc.StreamServerInfo{FullMethod: receiveMethod}, func(any, grpc.ServerStream) error {
		var pids []*actor.PID
		_ = pids[3] // what protoactor's reader does with a bad index
		return nil
	})
	if status.Code(err) != codes.Internal {
		t.Fatalf("Stream = %v, want the panic as an Internal status", err)
	}
}

type fakeStream struct{ grpc.ServerStream }

func (fakeStream) Context() context.Context { return context.Background() }
