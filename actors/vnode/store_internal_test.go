package vnode

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/testutil"
)

// TestPartitionStore_InheritsThroughTwoSplits: a ring of 8 partitions is
// doubled twice, to 32, while partition 7's keys sit under its own id and
// some of them, written between the splits, under its child's (14 of 16).
// Partition 29 of 32 (a child of 14, a grandchild of 7) then sees exactly
// its keys — through Get, and through Scan from any start, in key order —
// at every point of its adoption, with writes and deletes made between
// steps; adoption ends with every key under its own id and none of its
// keys left in either ancestor, and its siblings' keys untouched.
func TestPartitionStore_InheritsThroughTwoSplits(t *testing.T) {
	const initial = 8
	rng := testutil.Rand(t)
	e := memoryEngine(t)

	// The model: what partition 29 of 32 holds, key → value.
	want := map[string]string{}
	others := 0
	for i := range 60000 {
		key := fmt.Appendf(nil, "key-%05d", i)
		if ring.PartitionOf(key, initial) != 7 {
			continue
		}
		value := fmt.Sprintf("v0-%d", i)
		id := uint32(7)
		if i%3 == 0 { // written on the ring of 16, by partition 14 or 15
			id = persistence.DataID(ring.PartitionOf(key, 16), 16, initial)
		}
		if err := e.Put(persistence.DataKey(id, key), []byte(value)); err != nil {
			t.Fatal(err)
		}
		if ring.PartitionOf(key, 32) == 29 {
			want[string(key)] = value
		} else {
			others++
		}
	}
	in, id := newInheritance(29, 32, initial, nil)
	ids := func(srcs []persistence.DataSource) (out []uint32) {
		for _, s := range srcs {
			out = append(out, s.ID)
		}
		return out
	}
	if id != 32+29 || !slices.Equal(ids(in.from), []uint32{16 + 14, 7}) {
		t.Fatalf("partition 29 of 32: id %d, ancestors %v", id, in.from)
	}
	s := partitionStore{engine: e, id: id, in: in}

	check := func(when string) { t.Helper(); checkStore(t, s, want, when) }

	check("before adoption")
	steps := 0
	for s.in.pending() {
		if _, err := s.adoptStep(); err != nil {
			t.Fatal(err)
		}
		steps++
		// Between steps, a write and a delete of random keys.
		writeAndDelete(t, s, rng, want, fmt.Sprintf("v%d", steps))
		check(fmt.Sprintf("after step %d", steps))
		if steps > 1000 {
			t.Fatal("adoption does not end")
		}
	}
	if steps < 3 {
		t.Fatalf("adopted in %d steps: the test wants several", steps)
	}
	check("after adoption")

	// Everything under the own id, nothing of it in the ancestors, the
	// siblings' keys still there.
	own := 0
	_ = e.Scan(persistence.DataPrefix(id), nil, func(k, v []byte) bool {
		_, key, _ := persistence.SplitDataKey(k)
		if want[string(key)] != string(v) {
			t.Fatalf("own prefix holds %s = %q, want %q", key, v, want[string(key)])
		}
		own++
		return true
	})
	left := 0
	for _, a := range []uint32{7, 30, 31} {
		_ = e.Scan(persistence.DataPrefix(a), nil, func(k, _ []byte) bool {
			_, key, _ := persistence.SplitDataKey(k)
			if ring.PartitionOf(key, 32) == 29 {
				t.Fatalf("ancestor %d still holds %s", a, key)
			}
			left++
			return true
		})
	}
	if own != len(want) || left != others {
		t.Fatalf("own prefix holds %d keys, want %d; ancestors hold %d of the siblings', want %d", own, len(want), left, others)
	}
	t.Logf("%d keys adopted in %d steps, %d siblings' keys left", s.in.adopted, steps, left)
}

// TestPartitionStore_UnresizedRingIsTheOldLayout: on a ring never resized
// a partition keeps its data under its own number, as every store did
// before resizes, and inherits nothing.
func TestPartitionStore_UnresizedRingIsTheOldLayout(t *testing.T) {
	for _, c := range []struct{ q, initial int }{{64, 64}, {0, 0}} {
		in, id := newInheritance(5, c.q, c.initial, nil)
		if in != nil || id != 5 || in.pending() {
			t.Errorf("q=%d initial=%d: inheritance %v, id %d", c.q, c.initial, in, id)
		}
	}
	if !bytes.Equal(persistence.DataPrefix(persistence.DataID(5, 64, 64)), persistence.DataPrefix(5)) {
		t.Error("the initial ring's prefix moved")
	}
}

// TestPartitionStore_InheritsFromThePartitionsMergedIntoIt: a ring of 16
// partitions grew to 32 and was halved back, then halved again to 8.
// Partition 2 of 8 holds the keys of partitions 4 and 5 of 16 (its own
// arc on the initial ring, some never adopted by their children) and of
// 8 … 11 of 32. Through every step of its adoption, with writes and
// deletes between steps, it sees exactly its keys, once each and in
// order; then every key is under its own id and none in a source.
func TestPartitionStore_InheritsFromThePartitionsMergedIntoIt(t *testing.T) {
	const initial = 16
	rng := testutil.Rand(t)
	e := memoryEngine(t)
	want := map[string]string{}
	for i := range 20000 {
		key := fmt.Appendf(nil, "key-%05d", i)
		if ring.PartitionOf(key, 8) != 2 {
			continue
		}
		// Where the key sits: under its partition of 16 (never adopted),
		// or of 32 (written after the split).
		id := persistence.DataID(ring.PartitionOf(key, 16), 16, initial)
		if i%2 == 0 {
			id = persistence.DataID(ring.PartitionOf(key, 32), 32, initial)
		}
		value := fmt.Sprintf("v-%d", i)
		if err := e.Put(persistence.DataKey(id, key), []byte(value)); err != nil {
			t.Fatal(err)
		}
		want[string(key)] = value
	}
	in, id := newInheritance(2, 8, initial, []int{8, 16, 32})
	if id == 2 || id == persistence.DataID(2, 16, initial) || len(in.from) != 2+4 {
		t.Fatalf("partition 2 of 8 below the initial 16: id %d, sources %+v", id, in.from)
	}
	sources := slices.Clone(in.from)
	s := partitionStore{engine: e, id: id, in: in}
	check := func(when string) { t.Helper(); checkStore(t, s, want, when) }
	check("before adoption")
	steps := 0
	for ; s.in.pending(); steps++ {
		if _, err := s.adoptStep(); err != nil {
			t.Fatal(err)
		}
		writeAndDelete(t, s, rng, want, fmt.Sprintf("w%d", steps))
		check(fmt.Sprintf("after step %d", steps))
		if steps > 1000 {
			t.Fatal("adoption does not end")
		}
	}
	own := 0
	_ = e.Scan(persistence.DataPrefix(id), nil, func(k, v []byte) bool { own++; return true })
	if own != len(want) {
		t.Fatalf("after %d steps the own prefix holds %d keys, want %d", steps, own, len(want))
	}
	for _, src := range sources {
		_ = e.Scan(persistence.DataPrefix(src.ID), nil, func(k, _ []byte) bool {
			t.Fatalf("source %+v still holds %x", src, k)
			return false
		})
	}
}

// checkStore asserts that s holds exactly want, key → value: through Get
// (of the first 50 keys), and through Scan from several starts, in key
// order and once each, and that a scan asked to stop does.
func checkStore(t *testing.T, s partitionStore, want map[string]string, when string) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(want))
	for _, k := range keys[:min(len(keys), 50)] {
		raw, found, err := s.Get([]byte(k))
		if err != nil || !found || string(raw) != want[k] {
			t.Fatalf("%s: Get(%s) = %q, %v, %v; want %q", when, k, raw, found, err, want[k])
		}
	}
	for _, start := range []string{"", keys[len(keys)/3], keys[len(keys)/3] + "\x00", "zzz"} {
		var from []byte
		if start != "" {
			from = []byte(start)
		}
		var got []string
		err := s.Scan(from, func(key, value []byte) bool {
			if want[string(key)] != string(value) {
				t.Fatalf("%s: Scan from %q: %s = %q, want %q", when, start, key, value, want[string(key)])
			}
			got = append(got, string(key))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		i, _ := slices.BinarySearch(keys, start)
		if !slices.Equal(got, keys[i:]) {
			t.Fatalf("%s: Scan from %q gave %d keys, want %d (in order, once each)", when, start, len(got), len(keys)-i)
		}
	}
	// A scan stopped early stops.
	n := 0
	_ = s.Scan(nil, func(_, _ []byte) bool { n++; return n < 300 })
	if n != min(300, len(keys)) {
		t.Fatalf("%s: a scan asked to stop after 300 keys visited %d", when, n)
	}
}

// writeAndDelete writes value at a random key of want through s and
// deletes another, keeping want the model of what s holds.
func writeAndDelete(t *testing.T, s partitionStore, rng interface{ IntN(int) int }, want map[string]string, value string) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(want))
	k := keys[rng.IntN(len(keys))]
	want[k] = value
	if err := s.writeKey([]byte(k), []byte(value)); err != nil {
		t.Fatal(err)
	}
	gone := keys[rng.IntN(len(keys))]
	delete(want, gone)
	if err := s.writeKey([]byte(gone), nil); err != nil {
		t.Fatal(err)
	}
}

// memoryEngine opens an in-memory engine, closed when the test ends.
func memoryEngine(t *testing.T) persistence.Engine {
	t.Helper()
	e, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
