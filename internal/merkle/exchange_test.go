package merkle

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// TestExchange_FindsExactlyTheDifferences runs whole exchanges between
// random replicas of every shape and checks the result against the reference
// diff of the two datasets, in both directions.
func TestExchange_FindsExactlyTheDifferences(t *testing.T) {
	r := testutil.Rand(t)
	perturb := []struct {
		name string
		rate int // one key in rate differs; 0 leaves the data equal
		size int
	}{
		{"equal", 0, 500},
		{"sparse", 100, 2000},
		{"dense", 3, 500},
		{"small", 2, 5},
		{"one empty", -1, 300},
		{"both empty", 0, 0},
	}
	for _, s := range shapes {
		for _, p := range perturb {
			t.Run(fmt.Sprintf("%dx%d/%s", s.Fanout, s.Depth, p.name), func(t *testing.T) {
				a := randomDataset(r, p.size)
				b := maps.Clone(a)
				switch {
				case p.rate < 0:
					b = dataset{}
				case p.rate > 0:
					for k := range a {
						switch r.IntN(p.rate * 3) {
						case 0:
							delete(b, k)
						case 1:
							b[k] = r.Uint64()
						case 2:
							b["only-b-"+k] = r.Uint64()
						}
					}
				}
				ra, rb := newReplica(t, s, a), newReplica(t, s, b)
				for _, dir := range []struct {
					name          string
					local, remote *replica
					mine, theirs  dataset
				}{{"a asks b", ra, rb, a, b}, {"b asks a", rb, ra, b, a}} {
					got := runExchange(t, dir.local, dir.remote)
					here, there, diff := referenceDiff(dir.mine, dir.theirs)
					if !slices.Equal(got.missingHere, here) || !slices.Equal(got.missingThere, there) || !slices.Equal(got.differing, diff) {
						t.Fatalf("%s: got here=%v there=%v differing=%v\nwant here=%v there=%v differing=%v",
							dir.name, got.missingHere, got.missingThere, got.differing, here, there, diff)
					}
					if len(here)+len(there)+len(diff) == 0 && (got.stats.Rounds != 1 || got.buckets != 0) {
						t.Fatalf("%s: equal replicas took %d rounds and %d buckets, want 1 and 0", dir.name, got.stats.Rounds, got.buckets)
					}
					if got.stats.Rounds > s.Depth+1 {
						t.Fatalf("%s: %d rounds for depth %d", dir.name, got.stats.Rounds, s.Depth)
					}
				}
			})
		}
	}
}

// TestExchange_CostFollowsTheDifference is the design's budget: 10 differing
// keys among 100k must cost under 1% of the dataset's bytes, counting the
// descent, the bucket listings and the objects that then cross the wire.
func TestExchange_CostFollowsTheDifference(t *testing.T) {
	const (
		keys      = 100_000
		valueSize = 1024
	)
	r := testutil.Rand(t)
	s := DefaultShape()
	a := make(dataset, keys)
	datasetBytes := 0
	for i := range keys {
		k := fmt.Sprintf("user/%08d", i)
		a[k] = ValueHash(fmt.Appendf(nil, "v1 %d", i))
		datasetBytes += len(k) + valueSize
	}
	b := maps.Clone(a)
	// 10 differences: 4 keys only in a, 3 only in b, 3 with other values.
	victims := r.Perm(keys)[:7]
	for _, i := range victims[:4] {
		delete(b, fmt.Sprintf("user/%08d", i))
	}
	for _, i := range victims[4:] {
		k := fmt.Sprintf("user/%08d", i)
		b[k] = ValueHash(fmt.Appendf(nil, "v2 %d", i))
	}
	for i := range 3 {
		k := fmt.Sprintf("user/%08d", keys+r.IntN(keys)+i*keys)
		b[k] = ValueHash([]byte(k))
	}
	ra, rb := newReplica(t, s, a), newReplica(t, s, b)
	for _, dir := range []struct {
		name          string
		local, remote *replica
		mine, theirs  dataset
	}{{"a asks b", ra, rb, a, b}, {"b asks a", rb, ra, b, a}} {
		t.Run(dir.name, func(t *testing.T) {
			got := runExchange(t, dir.local, dir.remote)
			here, there, diff := referenceDiff(dir.mine, dir.theirs)
			if n := len(here) + len(there) + len(diff); n != 10 {
				t.Fatalf("test setup made %d differences, want 10", n)
			}
			if !slices.Equal(got.missingHere, here) || !slices.Equal(got.missingThere, there) || !slices.Equal(got.differing, diff) {
				t.Fatalf("got here=%v there=%v differing=%v\nwant here=%v there=%v differing=%v",
					got.missingHere, got.missingThere, got.differing, here, there, diff)
			}
			// Pull missingHere, push missingThere, send differing both ways.
			objects := 0
			for _, k := range slices.Concat(here, there, diff, diff) {
				objects += len(k) + valueSize
			}
			total := got.metadataBytes() + objects
			pct := 100 * float64(total) / float64(datasetBytes)
			t.Logf("dataset %d B; %d rounds, %d hashes, %d buckets; descent %d B, listings %d B, objects %d B; total %d B = %.4f%%",
				datasetBytes, got.stats.Rounds, got.stats.HashesReceived, got.buckets,
				got.descentBytes, got.listingBytes, objects, total, pct)
			if pct >= 1 {
				t.Fatalf("exchange cost %.3f%% of the dataset, budget is 1%%", pct)
			}
		})
	}
}

func TestNewExchange_RejectsAnotherShape(t *testing.T) {
	tr := mustTree(t, DefaultShape())
	for _, peer := range []Shape{{16, 2}, {4, 3}, {}} {
		if _, err := NewExchange(tr, peer); !errors.Is(err, ErrShapeMismatch) {
			t.Errorf("NewExchange(peer %v) error = %v, want ErrShapeMismatch", peer, err)
		}
	}
}

func TestExchange_Receive(t *testing.T) {
	s := Shape{Fanout: 4, Depth: 2}
	local := mustTree(t, s)
	local.Put([]byte("x"), 1, 0, false)
	leaf := local.Bucket([]byte("x"))
	tests := []struct {
		name       string
		answers    [][]uint64 // nil entries are replaced by the local answer
		wantErr    error      // from the last Receive
		wantDone   bool
		wantBucket []int
	}{
		{"equal root ends at once", [][]uint64{{local.Root()}}, nil, true, nil},
		{"short answer", [][]uint64{{}}, ErrBadResponse, false, nil},
		{"long answer", [][]uint64{{1, 2}}, ErrBadResponse, false, nil},
		{"peer empty", [][]uint64{{0}, {0, 0, 0, 0}, {0, 0, 0, 0}}, nil, true, []int{leaf}},
		{"answer after the end", [][]uint64{{local.Root()}, {0}}, ErrExchangeDone, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := NewExchange(local, s)
			if err != nil {
				t.Fatal(err)
			}
			for i, ans := range tt.answers {
				err = ex.Receive(ans)
				if i < len(tt.answers)-1 && err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("last Receive error = %v, want %v", err, tt.wantErr)
			}
			if ex.Done() != tt.wantDone || !slices.Equal(ex.Buckets(), tt.wantBucket) {
				t.Fatalf("Done() = %v, Buckets() = %v; want %v, %v", ex.Done(), ex.Buckets(), tt.wantDone, tt.wantBucket)
			}
			if tt.wantErr == ErrBadResponse && (ex.Stats().Rounds != 0 || ex.Request().Level != 0) {
				t.Fatal("a bad answer changed the exchange")
			}
			if ex.Done() && (ex.Request().Level != 0 || ex.Request().Parents != nil) {
				t.Fatalf("Request() after the end = %+v, want the zero Request", ex.Request())
			}
		})
	}
}

func TestDiffChildren(t *testing.T) {
	tests := []struct {
		name         string
		parents      []int
		mine, theirs []uint64
		want         []int
	}{
		{"root equal", nil, []uint64{7}, []uint64{7}, nil},
		{"root differs", nil, []uint64{7}, []uint64{8}, []int{0}},
		{"children of two parents", []int{1, 3}, []uint64{1, 2, 3, 4}, []uint64{1, 0, 0, 4}, []int{3, 6}},
		{"all differ", []int{2}, []uint64{1, 2}, []uint64{3, 4}, []int{4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DiffChildren(tt.parents, tt.mine, tt.theirs, 2); !slices.Equal(got, tt.want) {
				t.Fatalf("DiffChildren = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDiffBuckets(t *testing.T) {
	kv := func(k string, v uint64) KeyVersion { return KeyVersion{Key: []byte(k), ValueHash: v} }
	tests := []struct {
		name                   string
		mine, theirs           []KeyVersion
		here, there, differing []string
	}{
		{"both empty", nil, nil, nil, nil, nil},
		{"equal", []KeyVersion{kv("a", 1), kv("b", 2)}, []KeyVersion{kv("a", 1), kv("b", 2)}, nil, nil, nil},
		{"mine empty", nil, []KeyVersion{kv("a", 1), kv("b", 2)}, []string{"a", "b"}, nil, nil},
		{"theirs empty", []KeyVersion{kv("a", 1)}, nil, nil, []string{"a"}, nil},
		{"all kinds, unsorted",
			[]KeyVersion{kv("d", 4), kv("a", 1), kv("c", 3), kv("e", 5)},
			[]KeyVersion{kv("c", 9), kv("b", 2), kv("a", 1), kv("f", 6), kv("e", 7)},
			[]string{"b", "f"}, []string{"d"}, []string{"c", "e"}},
		{"prefix keys", []KeyVersion{kv("a", 1)}, []KeyVersion{kv("a", 1), kv("aa", 1)}, []string{"aa"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mine, theirs := slices.Clone(tt.mine), slices.Clone(tt.theirs)
			here, there, diff := DiffBuckets(mine, theirs)
			if !slices.Equal(toStrings(here), tt.here) || !slices.Equal(toStrings(there), tt.there) || !slices.Equal(toStrings(diff), tt.differing) {
				t.Fatalf("got %q %q %q; want %q %q %q", here, there, diff, tt.here, tt.there, tt.differing)
			}
			eq := func(x, y KeyVersion) bool { return string(x.Key) == string(y.Key) && x.ValueHash == y.ValueHash }
			if !slices.EqualFunc(mine, tt.mine, eq) || !slices.EqualFunc(theirs, tt.theirs, eq) {
				t.Fatal("DiffBuckets reordered its inputs")
			}
		})
	}
}
