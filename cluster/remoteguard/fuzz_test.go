package remoteguard

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
)

// FuzzGuard_Frames sends random and mutated frames through a guarded
// remote, after a valid ConnectRequest, exactly as a peer would: whatever
// arrives, the node must keep delivering well-formed messages. Without the
// guard, protoactor's reader panics on most of these and takes the
// process with it.
func FuzzGuard_Frames(f *testing.F) {
	n := startNode(f)
	seed := func(m *remote.RemoteMessage) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(batchFrame(n.validBatch(f, 1)))
	bad := n.validBatch(f, 2)
	bad.TypeNames = append(bad.TypeNames, "actor.Stop")
	bad.Envelopes = append(bad.Envelopes, &remote.MessageEnvelope{TypeId: 1, Target: 3, Sender: 2, SerializerId: 9})
	bad.Targets = append(bad.Targets, nil)
	seed(batchFrame(bad))
	seed(connectFrame(claimedAddr))
	seed(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
		TypeNames: []string{EnvelopeType}, Targets: []*actor.PID{{Address: n.addr, Id: "probe"}},
		Envelopes: []*remote.MessageEnvelope{{MessageData: []byte{0xff, 0xff, 0x01}}},
	}}})

	f.Fuzz(func(t *testing.T, frame []byte) {
		var m remote.RemoteMessage
		if err := proto.Unmarshal(frame, &m); err != nil {
			t.Skip("not a frame gRPC would deliver")
		}
		_ = n.send(t, connectFrame(claimedAddr), &m)
		n.alive(t)
	})
}
