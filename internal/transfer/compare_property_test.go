package transfer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/merkle"
	"github.com/dhtkv/dht/test/testutil"
)

// TestMachine_CompareFirstSendsWhatDiffers runs receives and drains with
// comparison on against simulated vnodes, each a key → value-hash map with
// a real Merkle tree of the default shape, and checks the rule that makes
// comparing safe: once a receive is done or a drain drops, every receiver
// holds every key of the source with the source's value. It also checks
// what comparing saves: when the partition was sent by key, only the keys
// some receiver lacked or held another version of were sent.
func TestMachine_CompareFirstSendsWhatDiffers(t *testing.T) {
	rng := testutil.Rand(t)
	for run := range 100 {
		sim := newCompareSim(t, rng)
		t.Run(fmt.Sprint(run), sim.run)
	}
}

type simVnode map[string]uint64

type compareSim struct {
	rng  *rand.Rand
	kind Kind
	// vnodes by node; the source is b for a receive, a for a drain.
	vnodes map[string]simVnode
	source string
	peers  []string
	// differ is how many keys some receiver lacks or holds another
	// version of at the start.
	differ int
	desc   string
	trees  map[string]*merkle.Tree // built on demand, dropped on a merge
}

func newCompareSim(t *testing.T, rng *rand.Rand) *compareSim {
	s := &compareSim{rng: rng, vnodes: map[string]simVnode{}, trees: map[string]*merkle.Tree{}}
	if rng.IntN(2) == 0 {
		s.kind, s.source, s.peers = Receive, "b", []string{"a"}
	} else {
		s.kind, s.source, s.peers = Drain, "a", []string{"b", "c", "d"}[:1+rng.IntN(3)]
	}
	n := []int{0, 1, 50, 2000, 6000}[rng.IntN(5)]
	src := simVnode{}
	for i := range n {
		src[fmt.Sprintf("k%05d", i)] = rng.Uint64() | 1
	}
	s.vnodes[s.source] = src
	// How each receiver's copy relates to the source's: the same, a few
	// keys off, most keys off, or empty; plus keys only it holds.
	need := map[string]bool{}
	for _, p := range s.peers {
		v := simVnode{}
		share := []float64{1, 0.99, 0.9, 0.3, 0}[rng.IntN(5)]
		for k, h := range src {
			switch x := rng.Float64(); {
			case x < share:
				v[k] = h
			case x < share+(1-share)/2:
				v[k] = h + 2 // another version
				need[k] = true
			default:
				need[k] = true // missing
			}
		}
		for i := range rng.IntN(3) {
			v[fmt.Sprintf("only-%s-%d", p, i)] = 7 // not the source's business
		}
		s.vnodes[p] = v
	}
	s.differ = len(need)
	s.desc = fmt.Sprintf("%s of %d keys to %v, %d differ", s.kind, n, s.peers, s.differ)
	return s
}

func (s *compareSim) tree(node string) *merkle.Tree {
	if tr, ok := s.trees[node]; ok {
		return tr
	}
	shape := merkle.DefaultShape()
	tr, _ := merkle.NewTree(shape.Fanout, shape.Depth)
	for k, h := range s.vnodes[node] {
		tr.Put([]byte(k), h, 0, false)
	}
	s.trees[node] = tr
	return tr
}

func (s *compareSim) run(t *testing.T) {
	m := New(Config{Self: "a", Concurrency: 1, BatchKeys: 64, BatchBytes: 1 << 20, Timeout: time.Minute, Compare: true})
	now := epoch
	snap := Snapshot{Partitions: 1, Synced: true, Alive: []string{"b", "c", "d"}}
	if s.kind == Receive {
		snap.Owner, snap.Involved = true, true
		snap.Wanted = []Want{{Partition: 0, Since: 1, Sources: []string{"b"}}}
	} else {
		snap.Removed = true
		snap.Held = []Held{{Partition: 0, Replicas: s.peers}}
		m.Tick(now, snap) // the drop delay starts
		now = now.Add(time.Second)
	}
	queue := []Effects{m.Tick(now, snap)}
	sent, finished, result := 0, false, CompareResult("")
	var batch []string // the keys of the last pull's answer
	for len(queue) > 0 && !finished {
		eff := queue[0]
		queue = queue[1:]
		for _, c := range eff.Compared {
			result = c.Result
		}
		for _, c := range eff.Compares {
			tr := s.tree(c.Node)
			hashes, err := tr.Level(c.Level, c.Parents)
			if err != nil {
				t.Fatalf("%s: compare %+v: %v", s.desc, c, err)
			}
			queue = append(queue, m.Hashes(now, c.ID, Hashes{Hashes: hashes, Shape: tr.Shape(), Total: uint64(len(s.vnodes[c.Node]))}))
		}
		for _, l := range eff.Lists {
			in := s.tree(l.Node).KeyFilter(l.Buckets)
			var kvs []merkle.KeyVersion
			for k, h := range s.vnodes[l.Node] {
				if in([]byte(k)) {
					kvs = append(kvs, merkle.KeyVersion{Key: []byte(k), ValueHash: h})
				}
			}
			queue = append(queue, m.Listed(now, l.ID, kvs))
		}
		for _, p := range eff.Pulls {
			b, keys := s.pull(p)
			batch = keys
			sent += len(keys)
			queue = append(queue, m.Pulled(now, p.ID, b))
		}
		for _, mg := range eff.Merges {
			for _, k := range batch {
				s.vnodes[mg.Node][k] = s.vnodes[s.source][k]
			}
			delete(s.trees, mg.Node)
			queue = append(queue, m.Merged(now, mg.ID))
		}
		if len(eff.Done) > 0 || len(eff.Drops) > 0 {
			finished = true
		}
		for _, e := range eff.Ended {
			if e.Result != Done {
				t.Fatalf("%s: the transfer ended %s: %s", s.desc, e.Result, e.Reason)
			}
		}
	}
	if !finished {
		t.Fatalf("%s: the transfer never finished", s.desc)
	}
	for _, p := range s.peers {
		for k, h := range s.vnodes[s.source] {
			if got, ok := s.vnodes[p][k]; !ok || got != h {
				t.Fatalf("%s (%s): %s holds %q as %d (held %t), the source %d", s.desc, result, p, k, got, ok, h)
			}
		}
	}
	switch result {
	case InSync, Difference:
		if sent != s.differ {
			t.Errorf("%s: compared (%s) and sent %d keys, want the %d that differ", s.desc, result, sent, s.differ)
		}
	case Full:
		if sent != len(s.vnodes[s.source]) {
			t.Errorf("%s: sent whole %d keys, want all %d", s.desc, sent, len(s.vnodes[s.source]))
		}
	default:
		t.Errorf("%s: no comparison reported", s.desc)
	}
}

// pull answers a pull from the source's map: by key, or the page after the
// cursor in key order.
func (s *compareSim) pull(p Pull) (Batch, []string) {
	src := s.vnodes[s.source]
	var keys []string
	b := Batch{Total: uint64(len(src))}
	if len(p.Keys) > 0 {
		for _, k := range p.Keys {
			b.Answered++
			if _, ok := src[string(k)]; ok {
				keys = append(keys, string(k))
			}
		}
		b.Done = true
	} else {
		var after []string
		for k := range src {
			if bytes.Compare([]byte(k), p.After) > 0 {
				after = append(after, k)
			}
		}
		slices.Sort(after)
		keys = after[:min(len(after), p.MaxKeys)]
		b.Done = len(after) <= p.MaxKeys
	}
	b.Keys = len(keys)
	if len(keys) > 0 {
		b.Last = []byte(keys[len(keys)-1])
	}
	return b, keys
}
