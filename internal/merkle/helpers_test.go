package merkle

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// shapes covers the extremes of every bound and the default.
var shapes = []Shape{
	{Fanout: 2, Depth: 1},
	{Fanout: 2, Depth: 6},
	{Fanout: 4, Depth: 3},
	{Fanout: 16, Depth: 2},
	DefaultShape(),
	{Fanout: 256, Depth: 1},
	{Fanout: 256, Depth: 2},
}

// dataset is the reference model of a partition: key -> value hash.
type dataset map[string]uint64

func mustTree(t testing.TB, s Shape) *Tree {
	t.Helper()
	tr, err := NewTree(s.Fanout, s.Depth)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func buildTree(t testing.TB, s Shape, d dataset) *Tree {
	t.Helper()
	tr := mustTree(t, s)
	for k, v := range d {
		tr.Put([]byte(k), v, 0, false)
	}
	return tr
}

func randomDataset(r *rand.Rand, n int) dataset {
	d := make(dataset, n)
	for len(d) < n {
		d[fmt.Sprintf("k%d", r.IntN(4*n+10))] = r.Uint64()
	}
	return d
}

// allLevels returns every level of t, root first, for comparison.
func allLevels(t *Tree) [][]uint64 {
	out := make([][]uint64, t.shape.Depth+1)
	for l := range out {
		out[l] = slices.Clone(t.nodes[t.offsets[l]:t.offsets[l+1]])
	}
	return out
}

// referenceLevels recomputes every node of a tree of shape s from scratch,
// sharing nothing with Tree but the definition of a contribution.
func referenceLevels(s Shape, d dataset) [][]uint64 {
	out := make([][]uint64, s.Depth+1)
	width := 1
	for l := range out {
		out[l] = make([]uint64, width)
		width *= s.Fanout
	}
	for k, v := range d {
		kh := KeyHash([]byte(k))
		c := contribution(kh, v)
		for l := range out {
			// The node at level l is the top l*levelBits bits of the hash.
			node := 0
			if l > 0 {
				node = int(kh >> (64 - s.levelBits()*l))
			}
			out[l][node] += c
		}
	}
	return out
}

// referenceDiff is the answer an exchange must find, from the initiator's
// (mine) point of view.
func referenceDiff(mine, theirs dataset) (missingHere, missingThere, differing []string) {
	for k, v := range theirs {
		if w, ok := mine[k]; !ok {
			missingHere = append(missingHere, k)
		} else if w != v {
			differing = append(differing, k)
		}
	}
	for k := range mine {
		if _, ok := theirs[k]; !ok {
			missingThere = append(missingThere, k)
		}
	}
	slices.Sort(missingHere)
	slices.Sort(missingThere)
	slices.Sort(differing)
	return
}

// replica is one side of a simulated exchange: a tree and the storage it
// summarises, indexed by bucket as a storage scan with KeyFilter would
// deliver it.
type replica struct {
	tree     *Tree
	byBucket map[int][]KeyVersion
}

func newReplica(t testing.TB, s Shape, d dataset) *replica {
	t.Helper()
	r := &replica{tree: buildTree(t, s, d), byBucket: map[int][]KeyVersion{}}
	for _, k := range slices.Sorted(maps.Keys(d)) {
		b := r.tree.Bucket([]byte(k))
		r.byBucket[b] = append(r.byBucket[b], KeyVersion{Key: []byte(k), ValueHash: d[k]})
	}
	return r
}

func (r *replica) list(buckets []int) []KeyVersion {
	var out []KeyVersion
	for _, b := range buckets {
		out = append(out, r.byBucket[b]...)
	}
	return out
}

// Wire cost model of the simulated protocol. A real encoding (protobuf
// varints) is no larger than this.
const (
	levelBytes  = 4 // level number in a request
	indexBytes  = 4 // a node or bucket index
	hashBytes   = 8 // a node hash or value hash
	lengthBytes = 4 // a key's length prefix in a listing
)

// syncResult is what one simulated exchange found and what it cost.
type syncResult struct {
	missingHere, missingThere, differing []string
	stats                                ExchangeStats
	buckets                              int
	descentBytes                         int // requests and answers of the descent
	listingBytes                         int // bucket request and the peer's listing
}

func (s syncResult) metadataBytes() int { return s.descentBytes + s.listingBytes }

// runExchange drives an Exchange from local against remote the way the
// anti-entropy actor does, counting the bytes each message would carry.
func runExchange(t testing.TB, local, remote *replica) syncResult {
	t.Helper()
	ex, err := NewExchange(local.tree, remote.tree.Shape())
	if err != nil {
		t.Fatal(err)
	}
	var res syncResult
	for !ex.Done() {
		req := ex.Request()
		res.descentBytes += levelBytes + indexBytes*len(req.Parents)
		answer, err := remote.tree.Level(req.Level, req.Parents)
		if err != nil {
			t.Fatalf("peer Level(%d, %d parents): %v", req.Level, len(req.Parents), err)
		}
		res.descentBytes += hashBytes * len(answer)
		if err := ex.Receive(answer); err != nil {
			t.Fatal(err)
		}
	}
	buckets := ex.Buckets()
	res.stats, res.buckets = ex.Stats(), len(buckets)
	res.listingBytes += indexBytes * len(buckets)
	theirs := remote.list(buckets)
	for _, kv := range theirs {
		res.listingBytes += lengthBytes + len(kv.Key) + hashBytes
	}
	here, there, diff := DiffBuckets(local.list(buckets), theirs)
	res.missingHere, res.missingThere, res.differing = toStrings(here), toStrings(there), toStrings(diff)
	return res
}

func toStrings(keys [][]byte) []string {
	var out []string
	for _, k := range keys {
		out = append(out, string(k))
	}
	return out
}
