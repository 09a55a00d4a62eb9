package merkle

import (
	"errors"
	"fmt"
	"hash/crc64"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

func TestShape_Validate(t *testing.T) {
	tests := []struct {
		shape   Shape
		wantErr string // substring; empty for valid
	}{
		{DefaultShape(), ""},
		{Shape{2, 1}, ""},
		{Shape{2, 6}, ""},
		{Shape{256, 2}, ""},
		{Shape{16, 5}, ""}, // 2^20 leaves, the limit
		{Shape{0, 3}, "fanout 0"},
		{Shape{1, 3}, "fanout 1"},
		{Shape{3, 3}, "fanout 3"},
		{Shape{512, 1}, "fanout 512"},
		{Shape{-16, 3}, "fanout -16"},
		{Shape{16, 0}, "depth 0"},
		{Shape{2, 7}, "depth 7"},
		{Shape{16, 6}, "exceeds"},
		{Shape{256, 3}, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d", tt.shape.Fanout, tt.shape.Depth), func(t *testing.T) {
			err := tt.shape.Validate()
			_, newErr := NewTree(tt.shape.Fanout, tt.shape.Depth)
			if tt.wantErr == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate() = %v, NewTree error = %v; want valid", err, newErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "merkle: ") {
				t.Fatalf("Validate() = %v; want an error mentioning %q", err, tt.wantErr)
			}
			if newErr == nil {
				t.Fatal("NewTree accepted an invalid shape")
			}
		})
	}
}

// TestHash_Golden pins the hashes: replicas in different processes, and
// different versions of this code, must agree on them bit for bit.
func TestHash_Golden(t *testing.T) {
	tests := []struct {
		in            string
		key, value    uint64
		contribution  uint64 // contribution(KeyHash(in), ValueHash(in))
		bucketDefault int
	}{
		{"", 0xefd01f60ba992926, 0x0, 0x2dd99ecb78651e59, 3837},
		{"a", 0x82a2a958a9bece5b, 0x492f354546e48080, 0xbbfcacae9aa55028, 2090},
		{"user/00000001", 0x5d9aa9236c603042, 0xd088833b32f052ae, 0x2d2d0052214d304d, 1497},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			kh, vh := KeyHash([]byte(tt.in)), ValueHash([]byte(tt.in))
			c := contribution(kh, vh)
			b := mustTree(t, DefaultShape()).Bucket([]byte(tt.in))
			if kh != tt.key || vh != tt.value || c != tt.contribution || b != tt.bucketDefault {
				t.Errorf("got key %#x value %#x contribution %#x bucket %d; want %#x %#x %#x %d",
					kh, vh, c, b, tt.key, tt.value, tt.contribution, tt.bucketDefault)
			}
		})
	}
}

// TestHash_MatchesStandardAlgorithms checks the hashes against the standard
// library's FNV-1a and CRC-64, so that another implementation (another
// language, a future rewrite) can reproduce them from their names.
func TestHash_MatchesStandardAlgorithms(t *testing.T) {
	r := testutil.Rand(t)
	for range 200 {
		b := make([]byte, r.IntN(100))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f := fnv.New64a()
		f.Write(b)
		if got, want := KeyHash(b), fmix64(f.Sum64()); got != want {
			t.Fatalf("KeyHash(%x) = %#x, want fmix64(FNV-1a) = %#x", b, got, want)
		}
		if got, want := ValueHash(b), fmix64(crc64.Checksum(b, crc64.MakeTable(crc64.ECMA))); got != want {
			t.Fatalf("ValueHash(%x) = %#x, want fmix64(CRC-64/ECMA) = %#x", b, got, want)
		}
	}
}

// TestTree_BucketsSpreadSequentialKeys guards the finalizer after FNV-1a:
// keys that differ in their last bytes must still spread over the top bits.
func TestTree_BucketsSpreadSequentialKeys(t *testing.T) {
	tr := mustTree(t, DefaultShape())
	const n = 100_000
	counts := make([]int, tr.Shape().Leaves())
	for i := range n {
		counts[tr.Bucket(fmt.Appendf(nil, "user/%08d", i))]++
	}
	mean := float64(n) / float64(len(counts))
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == 0 || float64(hi) > 3*mean {
		t.Fatalf("bucket sizes from %d to %d around a mean of %.1f: keys are not spread", lo, hi, mean)
	}
}

func TestTree_EmptyIsZero(t *testing.T) {
	for _, s := range shapes {
		tr := mustTree(t, s)
		for l, level := range allLevels(tr) {
			for i, h := range level {
				if h != 0 {
					t.Fatalf("%v: node %d at level %d = %#x in an empty tree", s, i, l, h)
				}
			}
		}
	}
}

func TestTree_PutSemantics(t *testing.T) {
	k := []byte("key")
	type op func(tr *Tree)
	put := func(v, prev uint64, had bool) op { return func(tr *Tree) { tr.Put(k, v, prev, had) } }
	del := func(prev uint64) op { return func(tr *Tree) { tr.Delete(k, prev) } }
	tests := []struct {
		name    string
		ops     []op
		want    []op // a tree given these ops must be identical
		wantLen int
	}{
		{"replace equals fresh insert", []op{put(1, 0, false), put(2, 1, true)}, []op{put(2, 0, false)}, 1},
		{"same value again changes nothing", []op{put(1, 0, false), put(1, 1, true)}, []op{put(1, 0, false)}, 1},
		{"delete empties", []op{put(1, 0, false), del(1)}, nil, 0},
		{"chain of replacements", []op{put(1, 0, false), put(2, 1, true), put(3, 2, true), put(1, 3, true)}, []op{put(1, 0, false)}, 1},
		{"delete then reinsert", []op{put(1, 0, false), del(1), put(5, 0, false)}, []op{put(5, 0, false)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range shapes {
				got, want := mustTree(t, s), mustTree(t, s)
				for _, o := range tt.ops {
					o(got)
				}
				for _, o := range tt.want {
					o(want)
				}
				if !slices.EqualFunc(allLevels(got), allLevels(want), slices.Equal) {
					t.Errorf("%v: trees differ", s)
				}
				if got.Len() != tt.wantLen {
					t.Errorf("%v: Len() = %d, want %d", s, got.Len(), tt.wantLen)
				}
			}
		})
	}
}

func TestTree_OrderIndependent(t *testing.T) {
	r := testutil.Rand(t)
	for _, s := range shapes {
		t.Run(fmt.Sprintf("%dx%d", s.Fanout, s.Depth), func(t *testing.T) {
			d := randomDataset(r, 500)
			keys := slices.Sorted(maps.Keys(d))
			want := allLevels(buildTree(t, s, d))
			for range 5 {
				r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
				other := mustTree(t, s)
				for _, k := range keys {
					if r.IntN(3) == 0 {
						// Reach the final value through a detour.
						detour := r.Uint64()
						other.Put([]byte(k), detour, 0, false)
						other.Put([]byte(k), d[k], detour, true)
					} else {
						other.Put([]byte(k), d[k], 0, false)
					}
				}
				if !slices.EqualFunc(allLevels(other), want, slices.Equal) {
					t.Fatal("another insertion order gave another tree")
				}
			}
		})
	}
}

func TestTree_DeleteRestoresPreviousTree(t *testing.T) {
	r := testutil.Rand(t)
	for _, s := range shapes {
		d := randomDataset(r, 300)
		tr := buildTree(t, s, d)
		before, n := allLevels(tr), tr.Len()
		added := randomDataset(r, 50)
		for k := range d {
			delete(added, k)
		}
		for k, v := range added {
			tr.Put([]byte(k), v, 0, false)
		}
		if len(added) > 0 && tr.Root() == before[0][0] {
			t.Fatalf("%v: adding %d keys left the root unchanged", s, len(added))
		}
		for k, v := range added {
			tr.Delete([]byte(k), v)
		}
		if !slices.EqualFunc(allLevels(tr), before, slices.Equal) || tr.Len() != n {
			t.Fatalf("%v: deleting the added keys did not restore the tree", s)
		}
	}
}

// TestTree_MatchesReference applies random operation sequences and checks
// every node against a from-scratch recomputation.
func TestTree_MatchesReference(t *testing.T) {
	r := testutil.Rand(t)
	for _, s := range shapes {
		t.Run(fmt.Sprintf("%dx%d", s.Fanout, s.Depth), func(t *testing.T) {
			tr := mustTree(t, s)
			d := dataset{}
			for step := range 3000 {
				k := fmt.Sprintf("k%d", r.IntN(400))
				old, had := d[k]
				switch op := r.IntN(10); {
				case op < 6: // insert or overwrite
					v := r.Uint64()
					tr.Put([]byte(k), v, old, had)
					d[k] = v
				case had: // delete
					tr.Delete([]byte(k), old)
					delete(d, k)
				}
				if step%250 == 0 || step == 2999 {
					if !slices.EqualFunc(allLevels(tr), referenceLevels(s, d), slices.Equal) {
						t.Fatalf("after %d steps the tree differs from the reference", step+1)
					}
					if tr.Len() != len(d) {
						t.Fatalf("Len() = %d, reference has %d keys", tr.Len(), len(d))
					}
				}
			}
		})
	}
}

// TestTree_NodesEqualExactlyWhenContentsEqual checks the property anti-entropy
// relies on, against a reference that shares no hashing with Tree: two nodes
// at the same position are equal iff the same (key, value) pairs lie below.
func TestTree_NodesEqualExactlyWhenContentsEqual(t *testing.T) {
	r := testutil.Rand(t)
	for _, s := range shapes {
		a := randomDataset(r, 200)
		b := maps.Clone(a)
		for k := range a { // perturb a few keys in b
			switch r.IntN(40) {
			case 0:
				delete(b, k)
			case 1:
				b[k]++
			}
		}
		b[fmt.Sprintf("new%d", r.IntN(1000))] = r.Uint64()
		ta, tb := buildTree(t, s, a), buildTree(t, s, b)
		la, lb := allLevels(ta), allLevels(tb)
		leafShift := 64 - s.levelBits()*s.Depth
		for l := range la {
			// contents[node] is the sorted "key=value" list below the node.
			contents := func(d dataset) map[int]string {
				per := map[int][]string{}
				for k, v := range d {
					leaf := int(KeyHash([]byte(k)) >> leafShift)
					node := leaf >> (s.levelBits() * (s.Depth - l))
					per[node] = append(per[node], fmt.Sprintf("%s=%d", k, v))
				}
				out := map[int]string{}
				for n, kvs := range per {
					slices.Sort(kvs)
					out[n] = strings.Join(kvs, ",")
				}
				return out
			}
			ca, cb := contents(a), contents(b)
			for i := range la[l] {
				if (la[l][i] == lb[l][i]) != (ca[i] == cb[i]) {
					t.Fatalf("%v level %d node %d: hashes equal %v, contents equal %v",
						s, l, i, la[l][i] == lb[l][i], ca[i] == cb[i])
				}
			}
		}
	}
}

func TestBuild_EqualsPuts(t *testing.T) {
	r := testutil.Rand(t)
	d := randomDataset(r, 1000)
	s := DefaultShape()
	built, err := Build(s.Fanout, s.Depth, func(yield func([]byte, uint64) bool) {
		for k, v := range d {
			if !yield([]byte(k), v) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(allLevels(built), allLevels(buildTree(t, s, d)), slices.Equal) || built.Len() != len(d) {
		t.Fatal("Build differs from repeated Put")
	}
	if _, err := Build(3, 3, nil); err == nil {
		t.Fatal("Build accepted an invalid shape")
	}
}

func TestTree_Level(t *testing.T) {
	tr := mustTree(t, Shape{Fanout: 4, Depth: 2})
	for i := range 200 {
		tr.Put(fmt.Appendf(nil, "k%d", i), uint64(i), 0, false)
	}
	all := allLevels(tr)
	tests := []struct {
		name    string
		level   int
		parents []int
		want    []uint64
		wantErr bool
	}{
		{"root", 0, nil, all[0], false},
		{"children of root", 1, []int{0}, all[1], false},
		{"leaves under two parents, order kept", 2, []int{3, 1}, append(slices.Clone(all[2][12:16]), all[2][4:8]...), false},
		{"no parents", 2, nil, []uint64{}, false},
		{"negative level", -1, nil, nil, true},
		{"level below leaves", 3, []int{0}, nil, true},
		{"root with parents", 0, []int{0}, nil, true},
		{"parent out of range", 2, []int{4}, nil, true},
		{"negative parent", 1, []int{-1}, nil, true},
		{"more parents than the level holds", 1, []int{0, 0}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tr.Level(tt.level, tt.parents)
			if tt.wantErr {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("err = %v, want ErrBadRequest", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Level = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestTree_KeyFilter(t *testing.T) {
	tr := mustTree(t, DefaultShape())
	in := map[int]bool{0: true, 17: true, 4095: true}
	accept := tr.KeyFilter([]int{0, 17, 4095, -1, 4096})
	for i := range 50_000 {
		k := fmt.Appendf(nil, "k%d", i)
		if accept(k) != in[tr.Bucket(k)] {
			t.Fatalf("KeyFilter(%q) = %v for bucket %d", k, accept(k), tr.Bucket(k))
		}
	}
}
