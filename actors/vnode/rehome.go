package vnode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/messages"
)

// ParseName returns the partition of a vnode's actor name (Name), or false
// when name is not one.
func ParseName(name string) (uint32, bool) {
	digits, ok := strings.CutPrefix(name, "vnode-")
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || strconv.FormatUint(p, 10) != digits {
		return 0, false
	}
	return uint32(p), true
}

// requestKey returns the one key a put, get, merge or reap addresses, and
// the operation; OpNone for any other request, or one without a key.
func requestKey(env *messages.Envelope) ([]byte, replica.Op) {
	var key []byte
	var op replica.Op
	switch body := env.GetBody().(type) {
	case *messages.Envelope_PutRequest:
		op, key = replica.OpPut, body.PutRequest.GetKey()
	case *messages.Envelope_ConditionalPutRequest:
		op, key = replica.OpPut, body.ConditionalPutRequest.GetPut().GetKey()
	case *messages.Envelope_GetRequest:
		op, key = replica.OpGet, body.GetRequest.GetKey()
	case *messages.Envelope_MergeRequest:
		op, key = replica.OpMerge, body.MergeRequest.GetKey()
	case *messages.Envelope_ReapRequest:
		op, key = replica.OpReap, body.ReapRequest.GetKey()
	}
	if len(key) == 0 {
		return nil, replica.OpNone
	}
	return key, op
}

// Rehome decides what becomes of a request sent to vnode partition, a name
// this node has no vnode for on its ring of q partitions: a peer whose
// ring has more (a resize that reached it first) addressed it. A request
// for one key that does not name another ring size goes to the key's
// partition on this node's ring, which answers the sender itself (ok);
// any other is answered with refusal, a not-ready error that its sender
// counts as this replica's failure at once, instead of waiting out its
// deadline for an answer that would never come.
func Rehome(env *messages.Envelope, partition uint32, q int) (to uint32, refusal *messages.Envelope, ok bool) {
	theirs := int(env.GetRingPartitions())
	if key, _ := requestKey(env); key != nil && q > 0 && (theirs == 0 || theirs == q) {
		return ring.PartitionOf(key, q), nil, true
	}
	refusal = &messages.Envelope{RequestId: env.GetRequestId(), Body: &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{
		Code: CodeNotReady,
		Message: fmt.Sprintf("vnode: this node has no partition %d: its ring has %d partitions, and the sender routes by a ring of another size",
			partition, q),
	}}}
	return 0, refusal, false
}
