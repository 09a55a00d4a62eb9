package node

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/messages"
)

// rehomeOrphans watches the actor system's dead letters for requests to a
// vnode this node does not have on its ring: a peer that applied a resize
// first addresses the partitions above this node's count. Each goes on to
// the vnode of its key on this node's ring, or, when it has no single key,
// is refused at once (vnode.Rehome); without this its sender would wait out
// its deadline, since protoactor's own answer to a dead letter names no
// request. A name below the count is a vnode of this ring that has
// stopped (the node is shutting down): left alone, which also means a
// rehomed request that finds no vnode is never rehomed again.
func (n *Node) rehomeOrphans() {
	prefix := nodeActorName + "/"
	n.system.EventStream.Subscribe(func(evt any) {
		dl, ok := evt.(*actor.DeadLetterEvent)
		// Only what reached this node: protoactor also reports a
		// message to a peer it could not deliver as a dead letter, and
		// that one's replica is the peer's, never a vnode here.
		if !ok || dl.PID == nil || dl.Sender == nil || dl.PID.Address != n.system.Address() {
			return
		}
		env, ok := dl.Message.(*messages.Envelope)
		if !ok {
			return
		}
		name, ok := strings.CutPrefix(dl.PID.Id, prefix)
		if !ok {
			return
		}
		p, ok := vnode.ParseName(name)
		q := int(n.vnodeCount.Load())
		if !ok || int(p) < q {
			return
		}
		to, refusal, ok := vnode.Rehome(env, p, q)
		if !ok {
			n.system.Root.Send(dl.Sender, refusal)
			return
		}
		n.system.Root.RequestWithCustomSender(actor.NewPID(n.system.Address(), prefix+vnode.Name(to)), env, dl.Sender)
	})
}
