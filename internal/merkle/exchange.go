package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

var (
	// ErrShapeMismatch reports that the peer's tree has another shape, so
	// positions in the two trees do not correspond and cannot be compared.
	ErrShapeMismatch = errors.New("merkle: peer tree has a different shape")
	// ErrBadResponse reports an answer whose length does not fit the request.
	ErrBadResponse = errors.New("merkle: response does not match the request")
	// ErrExchangeDone reports a response given to a finished exchange.
	ErrExchangeDone = errors.New("merkle: exchange already finished")
	// ErrNoLocalTree reports Receive on a descent between two remote trees,
	// which takes both answers with ReceiveBoth.
	ErrNoLocalTree = errors.New("merkle: exchange has no local tree")
)

// Request asks the peer for the hashes of some nodes at Level, in the same
// form Tree.Level takes: at Level 0 the root (Parents empty), below it every
// child of each of Parents, which are nodes at Level-1. The peer answers with
// tree.Level(req.Level, req.Parents).
type Request struct {
	Level   int
	Parents []int
}

// ExchangeStats counts what crossed the wire in the descent, for metrics and
// rate limiting: the bucket listings that follow are the caller's to count.
type ExchangeStats struct {
	Rounds         int // requests answered
	ParentsSent    int // node indices sent in requests
	HashesReceived int // hashes received in answers, 8 bytes each
}

// Exchange is the initiator's side of one descent: it compares the local
// tree with a peer's level by level, asking only for the children of nodes
// that differ, and ends with the leaf buckets that differ. It does no I/O: the
// actor sends Request, passes the answer to Receive, and repeats until Done.
//
//	ex, err := merkle.NewExchange(tree, peerShape)
//	for !ex.Done() {
//		req := ex.Request()
//		hashes := ask(peer, req) // peer runs peerTree.Level(req.Level, req.Parents)
//		if err := ex.Receive(hashes); err != nil { abandon }
//	}
//	buckets := ex.Buckets()
//
// A descent over a tree of depth D takes at most D+1 rounds, the first of
// which compares roots. Writes may land on either side between rounds; the
// local tree is read when each answer arrives. A difference that a write
// hides or creates mid-exchange is found, or turns out harmless, in the next
// exchange: merging is idempotent.
type Exchange struct {
	tree    *Tree // nil for a descent between two remote trees
	shape   Shape
	req     Request
	done    bool
	buckets []int
	stats   ExchangeStats
}

// NewExchange starts a descent of t against a peer whose tree has shape
// peer. The first request asks for the peer's root.
func NewExchange(t *Tree, peer Shape) (*Exchange, error) {
	if peer != t.shape {
		return nil, fmt.Errorf("%w: local %d^%d, peer %d^%d", ErrShapeMismatch,
			t.shape.Fanout, t.shape.Depth, peer.Fanout, peer.Depth)
	}
	return &Exchange{tree: t, shape: t.shape, req: Request{Level: 0}}, nil
}

// NewRemoteExchange starts a descent between two trees of shape s, neither
// of which the caller holds: the anti-entropy scheduler owns no tree, and
// asks both replicas' vnodes each Request. Their answers go to ReceiveBoth;
// Receive, which reads a local tree, is refused. The caller checks that both
// trees have shape s (the vnodes say so in their answers).
func NewRemoteExchange(s Shape) (*Exchange, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &Exchange{shape: s, req: Request{Level: 0}}, nil
}

// Done reports whether the descent has finished.
func (e *Exchange) Done() bool { return e.done }

// Request is the question for the peer in the current round. The caller must
// not change its Parents. After Done it is the zero Request.
func (e *Exchange) Request() Request {
	if e.done {
		return Request{}
	}
	return e.req
}

// Receive takes the peer's answer to Request and moves to the next round:
// the children of the nodes that differ, or the end when none differ or the
// leaves were reached. On error the exchange is unchanged, and the caller
// normally abandons it.
func (e *Exchange) Receive(theirs []uint64) error {
	if e.done {
		return ErrExchangeDone
	}
	if e.tree == nil {
		return ErrNoLocalTree
	}
	mine, err := e.tree.Level(e.req.Level, e.req.Parents)
	if err != nil {
		return err // cannot happen: the exchange only asks for nodes it has
	}
	return e.ReceiveBoth(mine, theirs)
}

// ReceiveBoth takes both sides' answers to Request, mine and theirs, and
// moves to the next round as Receive does. It is how a descent between two
// remote trees (NewRemoteExchange) is driven; which side is "mine" only
// matters to the caller. On error the exchange is unchanged.
func (e *Exchange) ReceiveBoth(mine, theirs []uint64) error {
	if e.done {
		return ErrExchangeDone
	}
	want := 1
	if e.req.Level > 0 {
		want = len(e.req.Parents) * e.shape.Fanout
	}
	for _, got := range [][]uint64{mine, theirs} {
		if len(got) != want {
			return fmt.Errorf("%w: %d hashes for %d nodes at level %d", ErrBadResponse, len(got), want, e.req.Level)
		}
	}
	e.stats.Rounds++
	e.stats.ParentsSent += len(e.req.Parents)
	e.stats.HashesReceived += len(theirs)
	differ := DiffChildren(e.req.Parents, mine, theirs, e.shape.Fanout)
	switch {
	case len(differ) == 0:
		e.done, e.req = true, Request{}
	case e.req.Level == e.shape.Depth:
		e.done, e.req, e.buckets = true, Request{}, differ
	default:
		e.req = Request{Level: e.req.Level + 1, Parents: differ}
	}
	return nil
}

// Buckets is the ascending list of leaf buckets that differ, once Done. Each
// holds at least one key that is missing on one side or has another value
// there; listing both sides' keys of these buckets and calling DiffBuckets
// names them.
func (e *Exchange) Buckets() []int { return e.buckets }

// Stats counts the descent's traffic so far.
func (e *Exchange) Stats() ExchangeStats { return e.stats }

// DiffChildren compares two answers to the same request, mine and theirs,
// and returns the indices (within their level) of the nodes that differ, in
// ascending order when parents is. parents is the request's Parents: empty
// for the root, otherwise mine[i] is child i%fanout of parents[i/fanout].
// The result is the next round's Parents, or the differing leaf buckets at
// the last level. mine and theirs must have the same length.
func DiffChildren(parents []int, mine, theirs []uint64, fanout int) []int {
	var out []int
	for i := range mine {
		if mine[i] == theirs[i] {
			continue
		}
		if len(parents) == 0 {
			out = append(out, i)
		} else {
			out = append(out, parents[i/fanout]*fanout+i%fanout)
		}
	}
	return out
}

// KeyVersion is one key of a bucket listing with the hash of its stored
// value, as Tree.Put was told it.
type KeyVersion struct {
	Key       []byte
	ValueHash uint64
}

// DiffBuckets compares the listings of the same buckets on both sides, each
// key at most once per side and in any order, and returns sorted keys:
// missingHere are only in theirs (pull them), missingThere only in mine (push
// them), and differing are on both sides with other values (exchange and
// merge both ways). The returned slices alias the listings' keys.
func DiffBuckets(mine, theirs []KeyVersion) (missingHere, missingThere, differing [][]byte) {
	a := sortedByKey(mine)
	b := sortedByKey(theirs)
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := bytes.Compare(a[i].Key, b[j].Key); {
		case c < 0:
			missingThere = append(missingThere, a[i].Key)
			i++
		case c > 0:
			missingHere = append(missingHere, b[j].Key)
			j++
		default:
			if a[i].ValueHash != b[j].ValueHash {
				differing = append(differing, a[i].Key)
			}
			i++
			j++
		}
	}
	for ; i < len(a); i++ {
		missingThere = append(missingThere, a[i].Key)
	}
	for ; j < len(b); j++ {
		missingHere = append(missingHere, b[j].Key)
	}
	return missingHere, missingThere, differing
}

// sortedByKey returns kvs in key order, copying them only when they are not
// sorted already (storage scans usually are).
func sortedByKey(kvs []KeyVersion) []KeyVersion {
	less := func(x, y KeyVersion) int { return bytes.Compare(x.Key, y.Key) }
	if slices.IsSortedFunc(kvs, less) {
		return kvs
	}
	out := slices.Clone(kvs)
	slices.SortFunc(out, less)
	return out
}
