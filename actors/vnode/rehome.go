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

// keyElsewhere returns the partition, on this node's ring, of the one key
// env addresses when that is not the vnode's own: a put, get, merge or
// reap from a node whose ring has another partition count. The sender
// routes it to this node as a replica of the key on its ring, and a
// resize keeps the key on that replica (a split in place; a merge of
// halves every replica already holds; a rebalance's new replica is
// neither read from nor sent from until its transfer), so this node holds
// it, in the vnode of the key's partition on its own ring. A request
// that names another ring size (Envelope.ring_partitions), and a batch,
// which may hold keys of several partitions, are for misrouted to refuse.
func (v *vnode) keyElsewhere(env *messages.Envelope) (uint32, replica.Op, bool) {
	q := v.cfg.Partitions
	if theirs := int(env.GetRingPartitions()); q <= 0 || (theirs != 0 && theirs != q) {
		// Addressed by another ring's partition: misrouted refuses it.
		return 0, replica.OpNone, false
	}
	key, op := requestKey(env)
	if key == nil {
		return 0, replica.OpNone, false
	}
	p := ring.PartitionOf(key, q)
	return p, op, p != v.cfg.Partition
}

// notHere words the refusal of a key of partition p.
func (v *vnode) notHere(p uint32) string {
	return fmt.Sprintf("vnode: the key is in partition %d of %d, not %d: the sender routes by a ring of another size", p, v.cfg.Partitions, v.cfg.Partition)
}

// misrouted returns why env carries a key that is not in the vnode's
// partition, or was addressed by a ring of another size
// (Envelope.ring_partitions), and the operation to refuse; "" when
// neither (or the vnode does not know Q). A peer that routes by a ring of another size
// (for the moments a resize takes to reach every node) would otherwise
// have a key stored, or looked for, where its owner never looks; refused
// as not ready, the key is tried on other replicas instead, and its
// sender routes again once its ring catches up.
func (v *vnode) misrouted(env *messages.Envelope) (replica.Op, string) {
	q := v.cfg.Partitions
	if q <= 0 {
		return replica.OpNone, ""
	}
	if theirs := int(env.GetRingPartitions()); theirs != 0 && theirs != q {
		return replica.OpNone, fmt.Sprintf("vnode: the request is for partition %d of a ring of %d partitions; this node's ring has %d",
			v.cfg.Partition, theirs, q)
	}
	// Single-key requests were checked (and forwarded) on arrival
	// (keyElsewhere); these hold several keys.
	var op replica.Op
	var keys [][]byte
	switch body := env.GetBody().(type) {
	case *messages.Envelope_MergeBatchRequest:
		op = replica.OpMerge
		for _, e := range body.MergeBatchRequest.GetEntries() {
			keys = append(keys, e.GetKey())
		}
	case *messages.Envelope_HandoffPullRequest:
		keys = body.HandoffPullRequest.GetKeys()
	}
	for _, k := range keys {
		// An empty key is the machine's to refuse as malformed.
		if p := ring.PartitionOf(k, q); len(k) > 0 && p != v.cfg.Partition {
			return op, fmt.Sprintf("vnode: key %q is in partition %d of %d, not %d: the sender routes by a ring of another size", k, p, q, v.cfg.Partition)
		}
	}
	return replica.OpNone, ""
}
