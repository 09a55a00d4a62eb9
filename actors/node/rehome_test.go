package node

import (
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/messages"
)

// TestRehomeOrphans: on a node of 4 partitions, a get a peer on a larger
// ring sent to vnode 9, which this node does not have, reaches the vnode
// of its key here with its sender kept; a merge batch is refused at once,
// not ready, with its request id; and a message protoactor could not
// deliver to a peer is left alone, never answered by a vnode here.
func TestRehomeOrphans(t *testing.T) {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(system.Shutdown)
	n := &Node{system: system}
	n.vnodeCount.Store(4) // the vnodes' count, as the node actor keeps it
	n.rehomeOrphans()

	key := []byte("user/7")
	home := ring.PartitionOf(key, 4)
	reached := make(chan *actor.PID, 4)
	if _, err := system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*messages.Envelope); ok {
			reached <- ctx.Sender()
		}
	}), nodeActorName+"/"+vnode.Name(home)); err != nil {
		t.Fatal(err)
	}
	answers := make(chan *messages.Envelope, 4)
	sender := system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if env, ok := ctx.Message().(*messages.Envelope); ok {
			answers <- env
		}
	}))
	orphan := actor.NewPID(system.Address(), nodeActorName+"/"+vnode.Name(9))
	get := &messages.Envelope{RequestId: 5, Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Key: key}}}

	system.Root.RequestWithCustomSender(orphan, get, sender)
	select {
	case from := <-reached:
		if !from.Equal(sender) {
			t.Fatalf("the rehomed get came from %v, want its sender %v", from, sender)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("a get for vnode 9 never reached vnode %d, its key's", home)
	}

	batch := &messages.Envelope{RequestId: 6, Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: &messages.MergeBatchRequest{}}}
	system.Root.RequestWithCustomSender(orphan, batch, sender)
	select {
	case env := <-answers:
		if env.GetRequestId() != 6 || env.GetErrorReply().GetCode() != messages.ErrorCode_ERROR_CODE_NOT_READY {
			t.Fatalf("a merge batch for vnode 9 was answered %v, want not ready for request 6", env)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a merge batch for vnode 9 was never answered")
	}

	// Undeliverable to a peer: the peer's replica, not one of this node's.
	system.EventStream.Publish(&actor.DeadLetterEvent{PID: actor.NewPID("10.0.0.9:7000", orphan.Id), Message: get, Sender: sender})
	select {
	case <-reached:
		t.Fatal("a request protoactor could not deliver to a peer was sent to a vnode of this node")
	case env := <-answers:
		t.Fatalf("a request protoactor could not deliver to a peer was answered here: %v", env)
	case <-time.After(200 * time.Millisecond):
	}
}
