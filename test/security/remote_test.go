package security

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/remoteguard"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// Actor ids peers address on a node (actors/node: the node actor "node"
// and its children).
const topologyActorID = "node/topology"

func vnodeActorID(p uint32) string { return "node/" + vnode.Name(p) }

// partitionOf is the partition of key in the suite's ring.
func partitionOf(key string) uint32 { return ring.PartitionOf([]byte(key), partitions) }

// streamTimeout bounds one raw stream to a remote port.
const streamTimeout = 20 * time.Second

// dialRemote opens a gRPC connection to a remote port with creds (nil:
// plaintext), the way an outsider's program would.
func dialRemote(addr string, creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	return grpc.Dial(addr, grpc.WithTransportCredentials(creds))
}

// peerTLS is a TLS client config for the remote port presenting cert
// (none when nil). The server's certificate is not checked: an attacker
// does not care whom it talks to.
func peerTLS(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true} //nolint:gosec // an attacker's client
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// streamResult is what one raw stream ended with.
type streamResult struct {
	// connected is set when the node answered the ConnectRequest.
	connected bool
	// err is the status the stream ended with; nil for a clean end.
	err error
}

// sendFrames opens a Receive stream on conn, sends frames, closes its
// side, and reads until the node ends the stream.
func sendFrames(conn *grpc.ClientConn, frames ...*remote.RemoteMessage) streamResult {
	ctx, cancel := context.WithTimeout(context.Background(), streamTimeout)
	defer cancel()
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		return streamResult{err: err}
	}
	for _, f := range frames {
		if err := stream.Send(f); err != nil {
			break // the node already ended the stream; Recv says why
		}
	}
	_ = stream.CloseSend()
	var res streamResult
	// Bounded: the node answers a ConnectRequest once and sends nothing
	// else a peer did not ask for; the context ends a stuck stream.
	for range 1000 {
		m, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				res.err = err
			}
			return res
		}
		if m.GetConnectResponse() != nil {
			res.connected = true
		}
	}
	res.err = errors.New("the node kept sending frames")
	return res
}

// connectFrame is a ConnectRequest claiming the actor address addr.
func connectFrame(addr string) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
		ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "security-suite", Address: addr}},
	}}}
}

func batchFrame(b *remote.MessageBatch) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}
}

// envelopeBatch is a well-formed batch carrying env from the actor
// "attacker" at from to the actor targetID at node address to. With
// withSender the envelope names its sender (replies go there); without,
// replies go nowhere.
func envelopeBatch(env *messages.Envelope, from, to, targetID string, withSender bool) *remote.MessageBatch {
	data, err := proto.Marshal(env)
	if err != nil {
		panic(fmt.Sprintf("marshal an envelope: %v", err))
	}
	sender := int32(0)
	if withSender {
		sender = 1
	}
	return &remote.MessageBatch{
		TypeNames: []string{remoteguard.EnvelopeType},
		Targets:   []*actor.PID{{Address: to, Id: targetID}},
		Senders:   []*actor.PID{{Address: from, Id: "attacker"}},
		Envelopes: []*remote.MessageEnvelope{{TypeId: 0, MessageData: data, Target: 0, Sender: sender}},
	}
}

// forgedActor is the replica actor the forged objects claim to come from.
const forgedActor dvv.Actor = 0x5ec0_0000_0000_0001

// overwriteEnvelope is a MergeRequest that, if a replica accepted it,
// would replace every sibling of key that context (the key's version
// vector, as a client read it) covers with value: the object's context
// covers them and one dot of a replica that never existed.
func overwriteEnvelope(key string, context dvv.VersionVector, value string) *messages.Envelope {
	dot := dvv.Dot{Actor: forgedActor, Counter: uint64(time.Now().UnixNano())}
	obj := dvv.Set{
		Context:  context.With(dot),
		Siblings: []dvv.Sibling{{Dot: dot, Value: []byte(value), ContentType: "text/plain", Timestamp: time.Now().UnixMilli()}},
	}
	return &messages.Envelope{
		RequestId:      1,
		DeadlineUnixMs: time.Now().Add(time.Minute).UnixMilli(),
		Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{
			Partition: partitionOf(key), Key: []byte(key), Object: wire.ObjectToProto(obj),
		}},
	}
}

// removalState is the ring state removalGossip carries: a later span of
// victim, already ended by a removal.
func removalState(victim string) ring.State {
	const far = uint64(1) << 40
	return ring.State{Members: []ring.MemberState{{ID: victim, JoinVersion: far, RemoveVersion: far + 1}}}
}

// removalGossip is ring gossip that, if a node merged it, would end
// victim's membership (removalState).
func removalGossip(victim string) *messages.Envelope {
	st := &messages.RingState{Cluster: "dht", Partitions: partitions, N: 3}
	for _, m := range removalState(victim).Members {
		st.Members = append(st.Members, &messages.RingMember{Id: m.ID, JoinVersion: m.JoinVersion, RemoveVersion: m.RemoveVersion})
	}
	return &messages.Envelope{
		RequestId:      2,
		DeadlineUnixMs: time.Now().Add(time.Minute).UnixMilli(),
		Body:           &messages.Envelope_RingGossip{RingGossip: &messages.RingGossip{State: st}},
	}
}

// barrierGossip is ring gossip of another cluster, which the topology
// actor logs and ignores ("ignoring ring gossip from another cluster"
// with cluster=barrierCluster): sent after other frames on the same
// stream to the same actor, its log line proves those were handled.
func barrierGossip() *messages.Envelope {
	return &messages.Envelope{
		RequestId:      3,
		DeadlineUnixMs: time.Now().Add(time.Minute).UnixMilli(),
		Body: &messages.Envelope_RingGossip{RingGossip: &messages.RingGossip{State: &messages.RingState{
			Cluster: barrierCluster, Partitions: partitions, N: 3,
		}}},
	}
}

const barrierCluster = "security-suite-barrier"

// tlsProbe makes a TLS connection to addr with cfg, and reads one byte
// so that a refusal the server sends after the TLS 1.3 handshake (a
// client certificate it does not accept) is seen. It returns the state
// of a connection the server kept.
func tlsProbe(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// A gRPC server writes its HTTP/2 settings first; a TLS server that
	// refused the client certificate sends an alert instead.
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		return conn.ConnectionState(), err
	}
	return conn.ConnectionState(), nil
}
