package quorum

import (
	"fmt"
	"slices"
)

// Kind is what one message from a coordinator to one replica is for. The
// coordinator's bookkeeping is keyed by it: which answers feed which
// machine, which are not waited for, and which misses are hinted.
type Kind uint8

// The kinds of a coordinator's messages to replicas.
const (
	// KindCoordinate asks the coordinating replica to apply the client's
	// write (Put.Start's Coordinate). It is answered twice when the
	// replica answers early: the minted object, then its confirmation.
	KindCoordinate Kind = iota
	// KindReplicate sends the coordinated object to a replica counted
	// toward W (Put's Replicate).
	KindReplicate
	// KindHint asks a fallback to keep the object as a hint for a down
	// owner (a Replicate target with HintFor set).
	KindHint
	// KindPending sends the object to a new owner still receiving the
	// partition in a handoff: not counted toward W.
	KindPending
	// KindRead asks a replica for its copy (Get's Ask).
	KindRead
	// KindRepair sends the merged object to a stale replica after a read
	// (Get's Repair): fire and forget.
	KindRepair
)

// String returns the kind's name as logs have always spelled it.
func (k Kind) String() string {
	switch k {
	case KindCoordinate:
		return "coordinate"
	case KindReplicate:
		return "replicate"
	case KindHint:
		return "hint"
	case KindPending:
		return "pending"
	case KindRead:
		return "read"
	case KindRepair:
		return "repair"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// AwaitsAnswer reports whether a message of this kind is answered and its
// answer waited for. A repair is not: a failed one is retried by the next
// read or by anti-entropy, so the coordinator need not linger for it.
func (k Kind) AwaitsAnswer() bool { return k != KindRepair }

// HintedWhenLate reports whether a replica that has not answered a message
// of this kind by the deadline is sent a hint: the write was meant to land
// there, and gossip may not have noticed yet that the replica is down.
func (k Kind) HintedWhenLate() bool { return k == KindReplicate || k == KindPending }

// Outstanding is one message a coordinator awaits an answer to.
type Outstanding struct {
	Node string
	Kind Kind
}

// MessageBits is how many low bits of a request id number the messages of
// one request: a Ledger's Base fills the bits above, so that one actor
// running many requests at once tells from an answer's id alone which
// request it belongs to (id >> MessageBits). A request sends a few messages
// per replica; 2^16 is far beyond any.
const MessageBits = 16

// Ledger numbers a coordinator's messages to replicas and remembers the
// ones it awaits, so that an answer, which carries its request id back,
// tells which replica answered and to what. The zero Ledger is ready to use.
// Like the machines, it is owned by one coordinator and not safe for
// concurrent use.
type Ledger struct {
	// Base is ORed into every id Send returns: a request's number shifted
	// left by MessageBits, or zero when one ledger is all there is.
	Base uint64
	last uint64
	out  map[uint64]Outstanding
	// order lists awaited ids in the order they were sent, so that what
	// Late returns does not depend on map iteration.
	order []uint64
}

// Send records a message of kind k to node and returns its request id, and
// whether its answer is awaited (Kind.AwaitsAnswer).
func (l *Ledger) Send(node string, k Kind) (id uint64, awaited bool) {
	l.last++
	id = l.Base | l.last&(1<<MessageBits-1)
	if !k.AwaitsAnswer() {
		return id, false
	}
	l.keep(id, Outstanding{Node: node, Kind: k})
	return id, true
}

// Answer takes the message id off the ledger and returns what it was. An id
// it does not await (never sent, answered already, or given up on) returns
// false: that answer is stale and must be ignored.
func (l *Ledger) Answer(id uint64) (Outstanding, bool) {
	o, ok := l.out[id]
	if ok {
		delete(l.out, id)
	}
	return o, ok
}

// AwaitAgain puts an answered id back: the coordinating replica's early
// answer (the minted object) is followed by its confirmation under the same
// id.
func (l *Ledger) AwaitAgain(id uint64, o Outstanding) { l.keep(id, o) }

// Late returns the nodes, in the order they were sent to, whose messages of
// a kind that is HintedWhenLate are still unanswered.
func (l *Ledger) Late() []string {
	var nodes []string
	for _, id := range l.order {
		if o, ok := l.out[id]; ok && o.Kind.HintedWhenLate() {
			nodes = append(nodes, o.Node)
		}
	}
	return nodes
}

// GiveUp forgets every awaited message: at the deadline, whatever is still
// out will not be waited for.
func (l *Ledger) GiveUp() {
	clear(l.out)
	l.order = l.order[:0]
}

// Awaiting returns how many answers are still awaited.
func (l *Ledger) Awaiting() int { return len(l.out) }

func (l *Ledger) keep(id uint64, o Outstanding) {
	if l.out == nil {
		l.out = map[uint64]Outstanding{}
	}
	if !slices.Contains(l.order, id) {
		l.order = append(l.order, id)
	}
	l.out[id] = o
}
