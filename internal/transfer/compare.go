package transfer

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/dhtkv/dht/internal/merkle"
)

// mode is how a run moves its partition.
type mode int

const (
	// stream pulls every key after the cursor, in key order: the whole
	// partition, as a transfer always did before comparing trees.
	stream mode = iota
	// comparing descends the Merkle trees of the source and the receivers,
	// then lists the keys of the leaf buckets that differ.
	comparing
	// sending pulls, by key, only the keys the comparison found a receiver
	// lacks or holds another version of.
	sending
)

// listChunk bounds the leaf buckets one BucketKeys request lists, so that a
// listing stays a small message even in a large partition (256 of the
// default 4096 buckets: a sixteenth of the partition's keys at most).
const listChunk = 256

// comparison is the Merkle comparison a run makes before it sends: the
// source's tree against each receiver's, all asked the same question each
// round, so one descent serves a drain's several targets.
type comparison struct {
	source string
	peers  []string
	shape  merkle.Shape
	// The round in progress: the descent's level and parents, or the
	// buckets being listed.
	level   int
	parents []int
	chunk   []int
	// asks names the node each outstanding request of the round went to.
	asks map[uint64]string
	// The round's answers, by node.
	hashes map[string][]uint64
	lists  map[string][]merkle.KeyVersion
	// buckets are the differing leaf buckets once the descent ended;
	// listed how many of them have been listed.
	buckets []int
	listed  int
	// send collects the keys some receiver lacks or holds another version
	// of.
	send map[string]bool
	// bytes counts the hashes and listings received, the comparison's cost.
	bytes int
}

// Hashes is a vnode's answer to a Compare: the hashes asked for, its tree's
// shape, and its write and key counts when it answered.
type Hashes struct {
	Hashes     []uint64
	Shape      merkle.Shape
	Generation uint64
	Total      uint64
}

// source is the node whose copy of r's partition moves: a receive's peer, or
// this node for a drain.
func (r *run) source(self string) string {
	if r.kind == Receive {
		return r.peer
	}
	return self
}

// receivers are the nodes r's batches are merged into.
func (r *run) receivers(self string) []string {
	if r.kind == Receive {
		return []string{self}
	}
	return r.targets
}

// begin starts moving r's partition: by comparing trees first, or, with
// comparison off, by streaming it whole.
func (m *Machine) begin(now time.Time, r *run, eff *Effects) {
	if !m.cfg.Compare {
		m.pull(now, r, r.source(m.cfg.Self), eff)
		return
	}
	r.mode = comparing
	r.cmp = &comparison{source: r.source(m.cfg.Self), peers: r.receivers(m.cfg.Self), send: map[string]bool{}}
	m.askLevel(now, r, eff)
}

// nodes are the nodes a comparison asks each round, the source first.
func (c *comparison) nodes() []string { return append([]string{c.source}, c.peers...) }

// askLevel asks every node for the round's level of its tree.
func (m *Machine) askLevel(now time.Time, r *run, eff *Effects) {
	c := r.cmp
	c.asks, c.hashes = map[uint64]string{}, map[string][]uint64{}
	for _, node := range c.nodes() {
		id := m.request(now, r)
		c.asks[id] = node
		eff.Compares = append(eff.Compares, Compare{ID: id, Node: node, Partition: r.p, Level: c.level,
			Parents: c.parents, Deadline: r.deadline})
	}
}

// askList asks every node for the keys of the next chunk of differing
// buckets.
func (m *Machine) askList(now time.Time, r *run, eff *Effects) {
	c := r.cmp
	c.chunk = c.buckets[c.listed:min(c.listed+listChunk, len(c.buckets))]
	c.listed += len(c.chunk)
	c.asks, c.lists = map[uint64]string{}, map[string][]merkle.KeyVersion{}
	for _, node := range c.nodes() {
		id := m.request(now, r)
		c.asks[id] = node
		eff.Lists = append(eff.Lists, List{ID: id, Node: node, Partition: r.p, Buckets: c.chunk, Deadline: r.deadline})
	}
}

// Hashes hands the machine a vnode's answer to Compare id. Once every node
// of the round has answered, the descent goes one level down, or ends: the
// trees agree (nothing to send), most of the partition differs (stream it
// whole), or the differing buckets are listed. An answer that cannot be
// compared (another tree shape, the wrong number of hashes) falls back to
// streaming the partition whole.
func (m *Machine) Hashes(now time.Time, id uint64, h Hashes) Effects {
	var eff Effects
	r, node := m.answer(id)
	if r == nil || r.cmp.hashes == nil {
		return eff
	}
	c := r.cmp
	if node == c.source {
		r.total = int64(h.Total)
		if r.kind == Drain && !r.generationSet {
			// Every write after this answer bumps the generation, and
			// the drop at it is refused: what the comparison could not
			// see is never dropped unsent.
			r.generation, r.generationSet = h.Generation, true
		}
	}
	if why := c.misfit(h); why != "" {
		m.fullStream(now, r, why, &eff)
		return eff
	}
	c.hashes[node] = h.Hashes
	c.bytes += 8 * len(h.Hashes)
	if len(c.hashes) < len(c.asks) {
		return eff // the round waits for the other nodes' answers
	}
	m.descend(now, r, &eff)
	return eff
}

// misfit says why an answer cannot be compared with the others, or "".
func (c *comparison) misfit(h Hashes) string {
	if err := h.Shape.Validate(); err != nil {
		return fmt.Sprintf("a tree of no valid shape (%d^%d)", h.Shape.Fanout, h.Shape.Depth)
	}
	if c.shape == (merkle.Shape{}) {
		c.shape = h.Shape
	}
	if h.Shape != c.shape {
		return fmt.Sprintf("trees of other shapes (%d^%d and %d^%d)", c.shape.Fanout, c.shape.Depth, h.Shape.Fanout, h.Shape.Depth)
	}
	want := 1
	if c.level > 0 {
		want = len(c.parents) * c.shape.Fanout
	}
	if len(h.Hashes) != want {
		return fmt.Sprintf("%d hashes for %d nodes at level %d", len(h.Hashes), want, c.level)
	}
	return ""
}

// descend compares the round's answers: the nodes where a receiver differs
// from the source are the next round's parents.
func (m *Machine) descend(now time.Time, r *run, eff *Effects) {
	c := r.cmp
	mine := c.hashes[c.source]
	if c.level == 0 && mine[0] != 0 {
		for _, p := range c.peers {
			if c.hashes[p][0] == 0 {
				// An empty tree: every key differs, and listing them
				// would only add to sending them.
				m.fullStream(now, r, p+" holds nothing", eff)
				return
			}
		}
	}
	var differ []int
	for _, p := range c.peers {
		differ = append(differ, merkle.DiffChildren(c.parents, mine, c.hashes[p], c.shape.Fanout)...)
	}
	slices.Sort(differ)
	differ = slices.Compact(differ)
	switch {
	case len(differ) == 0:
		m.compared(r, InSync, "", eff)
		m.finishCompare(now, r, eff)
	case c.level < c.shape.Depth:
		c.level, c.parents = c.level+1, differ
		m.askLevel(now, r, eff)
	case mostDiffer(len(differ), c.shape.Leaves()):
		m.fullStream(now, r, fmt.Sprintf("%d of %d buckets differ", len(differ), c.shape.Leaves()), eff)
	default:
		c.buckets, c.hashes = differ, nil
		m.askList(now, r, eff)
	}
}

// Listed hands the machine a vnode's answer to List id: its keys of the
// listed buckets with their value hashes. Once every node has answered, the
// keys the source holds and a receiver lacks, or holds another version of,
// are kept to send; then the next chunk is listed, or the sending starts.
func (m *Machine) Listed(now time.Time, id uint64, keys []merkle.KeyVersion) Effects {
	var eff Effects
	r, node := m.answer(id)
	if r == nil || r.cmp.lists == nil {
		return eff
	}
	c := r.cmp
	c.lists[node] = keys
	for _, kv := range keys {
		c.bytes += len(kv.Key) + 8
	}
	if len(c.lists) < len(c.asks) {
		return eff
	}
	for _, p := range c.peers {
		_, missingThere, differing := merkle.DiffBuckets(c.lists[c.source], c.lists[p])
		for _, k := range append(missingThere, differing...) {
			c.send[string(k)] = true
		}
	}
	if c.listed < len(c.buckets) {
		m.askList(now, r, &eff)
		return eff
	}
	c.lists = nil
	r.toSend = make([][]byte, 0, len(c.send))
	for k := range c.send {
		r.toSend = append(r.toSend, []byte(k))
	}
	slices.SortFunc(r.toSend, bytes.Compare)
	if len(r.toSend) == 0 {
		// The buckets differ only by keys the source lacks: the
		// receivers already hold all it has.
		m.compared(r, InSync, "", &eff)
		m.finishCompare(now, r, &eff)
		return eff
	}
	m.compared(r, Difference, "", &eff)
	r.mode, r.total = sending, int64(len(r.toSend))
	m.pull(now, r, c.source, &eff)
	return eff
}

// answer returns the run and the node of compare or list request id, or nil
// for a straggler: of an aborted run, or of a comparison that has ended.
func (m *Machine) answer(id uint64) (*run, string) {
	r := m.take(id)
	if r == nil || r.mode != comparing || r.cmp == nil {
		return nil, ""
	}
	node, ok := r.cmp.asks[id]
	if !ok {
		return nil, ""
	}
	return r, node
}

// finishCompare ends a run whose receivers hold everything the source held:
// a receive is done, a drain drops.
func (m *Machine) finishCompare(now time.Time, r *run, eff *Effects) {
	r.cmp, r.mode, r.batchDone = nil, stream, true
	m.landed(now, r, eff)
}

// fullStream gives up the comparison and streams the partition whole, after
// the cursor: the transfer stays correct whatever the comparison could not
// tell.
func (m *Machine) fullStream(now time.Time, r *run, why string, eff *Effects) {
	m.compared(r, Full, why, eff)
	for id := range r.cmp.asks {
		delete(m.inflight, id) // the round's other answers are stragglers now
	}
	r.cmp, r.mode, r.toSend = nil, stream, nil
	m.pull(now, r, r.source(m.cfg.Self), eff)
}

// compared reports how r's comparison ended.
func (m *Machine) compared(r *run, res CompareResult, why string, eff *Effects) {
	c := Compared{Kind: r.kind, Partition: r.p, Result: res, Reason: why, SourceKeys: r.total}
	if r.cmp != nil {
		c.Bytes = r.cmp.bytes
	}
	if res == Difference {
		c.Send = int64(len(r.toSend))
	}
	r.note = c.String()
	eff.Compared = append(eff.Compared, c)
}

// String says what a comparison found, for the log and the event stream.
func (c Compared) String() string {
	switch c.Result {
	case InSync:
		return fmt.Sprintf("trees compared (%d bytes): in sync, nothing to send", c.Bytes)
	case Difference:
		return fmt.Sprintf("trees compared (%d bytes): %d of %d keys differ", c.Bytes, c.Send, c.SourceKeys)
	}
	return "sent whole: " + c.Reason
}
