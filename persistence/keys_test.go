package persistence_test

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/dhtkv/dht/persistence"
)

func TestDataKey_RoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		partition uint32
		key       []byte
	}{
		{"zero partition", 0, []byte("k")},
		{"max partition", math.MaxUint32, []byte("k")},
		{"binary key", 7, []byte{0x00, 0xff, 'd', 'h', 'm'}},
		{"long key", 255, bytes.Repeat([]byte("x"), 1024)},
		{"empty key", 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := persistence.DataKey(tc.partition, tc.key)
			if !bytes.HasPrefix(k, persistence.DataPrefix(tc.partition)) {
				t.Errorf("DataKey %x lacks DataPrefix %x", k, persistence.DataPrefix(tc.partition))
			}
			p, key, ok := persistence.SplitDataKey(k)
			if !ok || p != tc.partition || !bytes.Equal(key, tc.key) {
				t.Errorf("SplitDataKey(%x) = %d, %q, %v; want %d, %q, true", k, p, key, ok, tc.partition, tc.key)
			}
		})
	}
}

func TestDataKey_Layout(t *testing.T) {
	got := persistence.DataKey(0x01020304, []byte("ab"))
	want := []byte{'d', 1, 2, 3, 4, 'a', 'b'}
	if !bytes.Equal(got, want) {
		t.Fatalf("DataKey = %x, want %x", got, want)
	}
}

func TestDataKey_Ordering(t *testing.T) {
	// Every key of partition p sorts before every key of p+1, whatever the
	// user keys, and user-key order is kept within a partition.
	partitions := []uint32{0, 1, 255, 256, 65535, 65536, math.MaxUint32 - 1, math.MaxUint32}
	userKeys := [][]byte{{0x00}, []byte("a"), []byte("a\x00"), []byte("b"), {0xff, 0xff, 0xff, 0xff, 0xff}}
	var keys [][]byte
	for _, p := range partitions {
		for _, k := range userKeys {
			keys = append(keys, persistence.DataKey(p, k))
		}
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Fatal("data keys are not ordered by (partition, user key)")
	}
	for i, p := range partitions[:len(partitions)-1] {
		last := persistence.DataKey(p, bytes.Repeat([]byte{0xff}, 64))
		first := persistence.DataKey(partitions[i+1], nil)
		if bytes.Compare(last, first) >= 0 {
			t.Errorf("partition %d's largest key %x does not sort before partition %d", p, last, partitions[i+1])
		}
	}
}

func TestSplitDataKey_Rejects(t *testing.T) {
	for _, k := range [][]byte{
		nil,
		{'d'},
		{'d', 0, 0, 0},
		persistence.HintKey("n", 1),
		persistence.MetaKey("replica"),
		{'x', 0, 0, 0, 0, 'k'},
	} {
		if p, key, ok := persistence.SplitDataKey(k); ok {
			t.Errorf("SplitDataKey(%x) = %d, %q, true; want false", k, p, key)
		}
	}
}

func TestHintKey_RoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		target string
		seq    uint64
	}{
		{"simple", "node-1", 1},
		{"zero seq", "node-1", 0},
		{"max seq", "node-1", math.MaxUint64},
		{"empty target", "", 5},
		{"binary target", "\x00\xff\x00", 9},
		{"target longer than one varint byte", string(bytes.Repeat([]byte("n"), 300)), 42},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := persistence.HintKey(tc.target, tc.seq)
			for _, prefix := range [][]byte{persistence.HintPrefix(), persistence.HintTargetPrefix(tc.target)} {
				if !bytes.HasPrefix(k, prefix) {
					t.Errorf("HintKey %x lacks prefix %x", k, prefix)
				}
			}
			target, seq, ok := persistence.SplitHintKey(k)
			if !ok || target != tc.target || seq != tc.seq {
				t.Errorf("SplitHintKey(%x) = %q, %d, %v; want %q, %d, true", k, target, seq, ok, tc.target, tc.seq)
			}
		})
	}
}

func TestHintKey_Ordering(t *testing.T) {
	// A target's hints scan oldest first...
	seqs := []uint64{0, 1, 255, 256, 1 << 32, math.MaxUint64}
	var keys [][]byte
	for _, s := range seqs {
		keys = append(keys, persistence.HintKey("node-1", s))
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Error("hint keys of one target are not ordered by seq")
	}
	// ...and a target's prefix never matches another target's hints, even
	// when one target name is a prefix of the other.
	targets := []string{"", "n", "node-1", "node-10", "node-1\x00", "node-2"}
	for _, a := range targets {
		for _, b := range targets {
			if a == b {
				continue
			}
			for _, s := range seqs {
				if bytes.HasPrefix(persistence.HintKey(b, s), persistence.HintTargetPrefix(a)) {
					t.Errorf("HintTargetPrefix(%q) matches HintKey(%q, %d)", a, b, s)
				}
			}
		}
	}
}

func TestSplitHintKey_Rejects(t *testing.T) {
	valid := persistence.HintKey("node", 7)
	for _, tc := range []struct {
		name string
		k    []byte
	}{
		{"nil", nil},
		{"tag only", []byte{'h'}},
		{"truncated seq", valid[:len(valid)-1]},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"data key", persistence.DataKey(1, []byte("k"))},
		{"meta key", persistence.MetaKey("epoch")},
		{"length past end", []byte{'h', 0x7f, 'a'}},
		{"varint overflow", append([]byte{'h'}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"huge length", []byte{'h', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0}},
		// Length 1 written as two varint bytes: each hint has one key only.
		{"non-minimal varint", []byte{'h', 0x81, 0x00, 'a', 0, 0, 0, 0, 0, 0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if target, seq, ok := persistence.SplitHintKey(tc.k); ok {
				t.Errorf("SplitHintKey(%x) = %q, %d, true; want false", tc.k, target, seq)
			}
		})
	}
}

func TestMetaKey(t *testing.T) {
	if got, want := persistence.MetaKey("epoch"), []byte("mepoch"); !bytes.Equal(got, want) {
		t.Errorf("MetaKey(epoch) = %q, want %q", got, want)
	}
	if !bytes.HasPrefix(persistence.MetaKey("replica-id"), persistence.MetaPrefix()) {
		t.Error("MetaKey lacks MetaPrefix")
	}
}

func TestPrefixes_Disjoint(t *testing.T) {
	// No key of one keyspace carries another keyspace's prefix, so a scan of
	// one never sees the others.
	spaces := []struct {
		name   string
		prefix []byte
		keys   [][]byte
	}{
		{"data", persistence.DataPrefix(0)[:1], [][]byte{
			persistence.DataKey(0, []byte("k")), persistence.DataKey(math.MaxUint32, []byte("hm")),
			persistence.DataPrefix(0x68000000), // partition bytes that spell 'h'
		}},
		{"hint", persistence.HintPrefix(), [][]byte{
			persistence.HintKey("d", 0), persistence.HintKey("m", math.MaxUint64),
		}},
		{"meta", persistence.MetaPrefix(), [][]byte{
			persistence.MetaKey("d"), persistence.MetaKey("h"), persistence.MetaKey(""),
		}},
	}
	for _, a := range spaces {
		for _, b := range spaces {
			if a.name == b.name {
				continue
			}
			if bytes.HasPrefix(a.prefix, b.prefix) || bytes.HasPrefix(b.prefix, a.prefix) {
				t.Errorf("%s prefix %x overlaps %s prefix %x", a.name, a.prefix, b.name, b.prefix)
			}
			for _, k := range b.keys {
				if bytes.HasPrefix(k, a.prefix) {
					t.Errorf("%s key %x has the %s prefix", b.name, k, a.name)
				}
			}
		}
	}
	// Distinct partitions' prefixes are disjoint too.
	if bytes.HasPrefix(persistence.DataKey(1, []byte{0}), persistence.DataPrefix(0)) {
		t.Error("partition 1's key has partition 0's prefix")
	}
}

func TestKeys_FreshSlices(t *testing.T) {
	// Prefixes are returned fresh, so a caller appending to one cannot
	// corrupt another caller's.
	a := persistence.HintPrefix()
	a[0] = 'X'
	if persistence.HintPrefix()[0] != 'h' {
		t.Error("HintPrefix shares its backing array")
	}
	m := persistence.MetaPrefix()
	m[0] = 'X'
	if persistence.MetaPrefix()[0] != 'm' {
		t.Error("MetaPrefix shares its backing array")
	}
}

func FuzzSplitDataKey(f *testing.F) {
	f.Add([]byte{})
	f.Add(persistence.DataKey(7, []byte("key")))
	f.Add(persistence.HintKey("node", 1))
	f.Fuzz(func(t *testing.T, k []byte) {
		p, key, ok := persistence.SplitDataKey(k)
		if !ok {
			return
		}
		if got := persistence.DataKey(p, key); !bytes.Equal(got, k) {
			t.Fatalf("DataKey(SplitDataKey(%x)) = %x", k, got)
		}
	})
}

func FuzzSplitHintKey(f *testing.F) {
	f.Add([]byte{})
	f.Add(persistence.HintKey("node-1", 42))
	f.Add(persistence.HintKey(string(bytes.Repeat([]byte("n"), 200)), 1))
	f.Add([]byte{'h', 0x81, 0x00, 'a', 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, k []byte) {
		target, seq, ok := persistence.SplitHintKey(k)
		if !ok {
			return
		}
		if got := persistence.HintKey(target, seq); !bytes.Equal(got, k) {
			t.Fatalf("HintKey(SplitHintKey(%x)) = %x", k, got)
		}
	})
}

// TestDataID_NeverCollides: across a ring that starts at 64 partitions,
// halves to 8 and doubles to 1,024, every partition of every size has an
// id of its own, the initial ring keeps its ids, and a partition's sources
// are the partitions holding its keys on each other size the data had,
// nearest first: the one it split from on each smaller ring, those that
// merged into it on each larger one.
func TestDataID_NeverCollides(t *testing.T) {
	const initial = 64
	var sizes []int
	for q := 8; q <= 1024; q *= 2 {
		sizes = append(sizes, q)
	}
	seen := map[uint32]string{}
	for _, q := range sizes {
		for p := range uint32(q) {
			id := persistence.DataID(p, q, initial)
			if q == initial && id != p {
				t.Fatalf("partition %d of the initial ring has id %d, not its own number", p, id)
			}
			if prev, dup := seen[id]; dup {
				t.Fatalf("id %d for partition %d of %d and for %s", id, p, q, prev)
			}
			seen[id] = fmt.Sprintf("partition %d of %d", p, q)
			srcs := persistence.DataSources(p, q, initial, sizes)
			want := 0
			last := 0
			for _, src := range srcs {
				switch {
				case src.Partitions == q:
					t.Fatalf("partition %d of %d is its own source", p, q)
				case src.ID != persistence.DataID(src.Partition, src.Partitions, initial):
					t.Fatalf("partition %d of %d: source %+v has another id", p, q, src)
				case src.Partitions < q && src.Partition != p/uint32(q/src.Partitions),
					src.Partitions > q && src.Partition/uint32(src.Partitions/q) != p:
					t.Fatalf("partition %d of %d: source %+v holds another arc", p, q, src)
				}
				dist := max(q/src.Partitions, src.Partitions/q)
				if dist < last {
					t.Fatalf("partition %d of %d: sources not nearest first: %+v", p, q, srcs)
				}
				last = dist
			}
			for _, s := range sizes {
				if s < q {
					want++
				} else if s > q {
					want += s / q
				}
			}
			if len(srcs) != want {
				t.Fatalf("partition %d of %d: %d sources, want %d", p, q, len(srcs), want)
			}
		}
	}
	if got := persistence.DataSources(3, initial, initial, nil); len(got) != 0 {
		t.Fatalf("a ring never resized has sources %v", got)
	}
}
