package listing

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
)

func TestCursor_RoundTrip(t *testing.T) {
	for _, c := range []Cursor{
		{},
		{Partition: 0, After: []byte("a")},
		{Partition: 255, After: []byte("user/\x00\xff/é")},
		{Partition: 17},
	} {
		s := c.Encode(256)
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("cursor %q is not URL-safe", s)
		}
		got, err := DecodeCursor(s, 256)
		if err != nil || got.Partition != c.Partition || !bytes.Equal(got.After, c.After) {
			t.Errorf("decode(encode(%+v)) = %+v, %v", c, got, err)
		}
	}
}

func TestCursor_DecodeRefusesCorruptCursors(t *testing.T) {
	good := Cursor{Partition: 3, After: []byte("k")}.Encode(64)
	for _, tc := range []struct{ name, cursor string }{
		{"not base64url", "%%%"},
		{"standard base64 padding", good + "=="},
		{"empty bytes", "AA"},
		{"unknown version", Cursor{}.Encode(64)[:0] + "Ag"},
		{"truncated after the version", "AQ"},
		{"another ring size", Cursor{Partition: 3}.Encode(128)},
		{"partition out of range", Cursor{Partition: 64}.Encode(64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeCursor(tc.cursor, 64); !errors.Is(err, ErrBadCursor) {
				t.Errorf("DecodeCursor(%q) = %v, want ErrBadCursor", tc.cursor, err)
			}
		})
	}
	if c, err := DecodeCursor("", 64); err != nil || c.Partition != 0 || c.After != nil {
		t.Errorf("the empty cursor = %+v, %v; want the start", c, err)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{Partition: 3, After: []byte("k")}.Encode(64))
	f.Add("")
	f.Add("AQ")
	f.Add(spanCursor(64, 9, 11, "k", "l"))
	f.Add(Cursor{Partition: 3, After: []byte("k")}.Encode(16))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s, 64)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v does not wrap ErrBadCursor", err)
			}
			return
		}
		if c.Partition >= 64 || c.Through >= 64 || (c.Through != 0 && c.Through <= c.Partition) {
			t.Fatalf("partition %d (through %d) out of range", c.Partition, c.Through)
		}
		if again, err := DecodeCursor(c.Encode(64), 64); err != nil || again.Partition != c.Partition || !bytes.Equal(again.After, c.After) ||
			again.Through != c.Through || !bytes.Equal(again.Floor, c.Floor) {
			t.Fatalf("re-encoding %+v gives %+v, %v", c, again, err)
		}
	})
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", DefaultLimit, true},
		{"1", 1, true},
		{"10000", 10000, true},
		{"10001", 0, false},
		{"0", 0, false},
		{"-3", 0, false},
		{"ten", 0, false},
		{"1.5", 0, false},
	} {
		got, err := ParseLimit(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d ok=%t", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadLimit) {
			t.Errorf("ParseLimit(%q): %v does not wrap ErrBadLimit", tc.in, err)
		}
	}
}

func TestReplicas(t *testing.T) {
	for _, tc := range []struct {
		candidates string
		self       string
		r          int
		ask, spare string
	}{
		{"a b c", "b", 1, "b", "a c"},
		{"a b c", "x", 1, "a", "b c"},
		{"a b c", "c", 2, "c a", "b"},
		{"a b c", "a", 5, "a b c", ""},
		{"a", "a", 0, "a", ""},
		{"", "a", 1, "", ""},
	} {
		ask, spare := Replicas(strings.Fields(tc.candidates), tc.self, tc.r)
		if strings.Join(ask, " ") != tc.ask || strings.Join(spare, " ") != tc.spare {
			t.Errorf("Replicas(%q, %s, %d) = %v, %v; want %q, %q", tc.candidates, tc.self, tc.r, ask, spare, tc.ask, tc.spare)
		}
	}
}

func live(v string, d dvv.Dot) dvv.Set {
	return dvv.Set{Context: dvv.NewVersionVector(d), Siblings: []dvv.Sibling{{Dot: d, Value: []byte(v)}}}
}

func page(more bool, keys ...string) Page {
	p := Page{More: more}
	for _, k := range keys {
		p.Entries = append(p.Entries, Entry{Key: []byte(k)})
	}
	return p
}

func keysOf(p Page) string {
	var out []string
	for _, e := range p.Entries {
		out = append(out, string(e.Key))
	}
	return strings.Join(out, " ")
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pages []Page
		limit int
		want  string
		more  bool
		last  string
	}{
		{"one page", []Page{page(false, "a", "b")}, 10, "a b", false, ""},
		{"union in order", []Page{page(false, "a", "c"), page(false, "b", "c", "d")}, 10, "a b c d", false, ""},
		{"a page with more bounds the merge", []Page{page(true, "a", "c"), page(false, "b", "d", "e")}, 10, "a b c", true, "c"},
		{"the smallest bound wins", []Page{page(true, "a", "d"), page(true, "b", "c")}, 10, "a b c", true, "c"},
		{"the limit cuts", []Page{page(false, "a", "c"), page(false, "b")}, 2, "a b", true, "b"},
		{"nothing", []Page{page(false), page(false)}, 10, "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(tc.pages, tc.limit)
			if keysOf(got) != tc.want || got.More != tc.more || string(got.Last) != tc.last {
				t.Errorf("Merge = %q more=%t last=%q; want %q more=%t last=%q", keysOf(got), got.More, got.Last, tc.want, tc.more, tc.last)
			}
		})
	}
	t.Run("objects are DVV-merged and a delete wins over a stale copy", func(t *testing.T) {
		old := live("old", dvv.Dot{Actor: 1, Counter: 1})
		newer := live("new", dvv.Dot{Actor: 1, Counter: 2})
		newer.Context = newer.Context.With(dvv.Dot{Actor: 1, Counter: 1})
		gone := dvv.Set{Context: dvv.NewVersionVector(dvv.Dot{Actor: 2, Counter: 1}).With(dvv.Dot{Actor: 1, Counter: 1}),
			Siblings: []dvv.Sibling{{Dot: dvv.Dot{Actor: 2, Counter: 1}, Tombstone: true}}}
		a := Page{Entries: []Entry{{Key: []byte("k"), Object: old}, {Key: []byte("x"), Object: old}}}
		b := Page{Entries: []Entry{{Key: []byte("k"), Object: newer}, {Key: []byte("x"), Object: gone}}, More: true}
		got := Merge([]Page{a, b}, 10)
		if keysOf(got) != "k" || !got.More || string(got.Last) != "x" {
			t.Fatalf("Merge = %q more=%t last=%q; want k, more, resuming after x", keysOf(got), got.More, got.Last)
		}
		if l := got.Entries[0].Object.Live(); len(l) != 1 || string(l[0].Value) != "new" {
			t.Errorf("k merged to %v, want only the newer value", l)
		}
	})
}

// TestListing_CoversEveryKeyOnce pages through random partitions with
// random limits and replicas that each hold a random subset of an
// "acknowledged" set plus the whole set, and checks the result against a
// simple reference: every key exactly once, partition by partition, in key
// order.
func TestListing_CoversEveryKeyOnce(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	for round := range 200 {
		q := 1 + rng.IntN(8)
		data := make([][]string, q)
		var want []string
		for p := range q {
			for k := range rng.IntN(12) {
				data[p] = append(data[p], fmt.Sprintf("p%d-k%02d", p, k))
			}
			want = append(want, data[p]...)
		}
		// A replica answers the keys after after, up to limit.
		answer := func(p uint32, after []byte, limit int) Page {
			keys := data[p]
			i := sort.SearchStrings(keys, string(after)+"\x00")
			if len(after) == 0 {
				i = 0
			}
			pg := Page{}
			for _, k := range keys[i:] {
				if len(pg.Entries) == limit {
					pg.More = true
					break
				}
				pg.Entries = append(pg.Entries, Entry{Key: []byte(k)})
			}
			return pg
		}
		var got []string
		cursor, pages := Cursor{}, 0
		for {
			limit := 1 + rng.IntN(7)
			l := New(q, cursor, limit)
			n := 0
			for {
				req, ok := l.Next()
				if !ok {
					break
				}
				replies := []Page{answer(req.Partition, req.After, req.Limit)}
				if rng.IntN(2) == 0 {
					replies = append(replies, answer(req.Partition, req.After, 1+rng.IntN(req.Limit)))
				}
				pg := Merge(replies, req.Limit)
				n += len(pg.Entries)
				got = append(got, keysOf(pg))
				l.Took(pg)
			}
			if n > limit {
				t.Fatalf("seed %d round %d: a page of %d keys, limit %d", seed, round, n, limit)
			}
			pages++
			c, more := l.Cursor()
			if !more {
				break
			}
			// Through the wire, as a client would hand it back.
			var err error
			if cursor, err = DecodeCursor(c.Encode(q), q); err != nil {
				t.Fatal(err)
			}
			if pages > 1000 {
				t.Fatalf("seed %d round %d: no end after %d pages", seed, round, pages)
			}
		}
		flat := strings.Fields(strings.Join(got, " "))
		if !slices.Equal(flat, want) {
			t.Fatalf("seed %d round %d: listed %v, want %v", seed, round, flat, want)
		}
	}
}

// TestCursor_CarriedOverAResize: a cursor made on a ring of 64 partitions
// resumes on the ring grown to 128 or 256 in each child of its partition
// after its key, and that span survives encoding; one from a larger ring,
// one already carried over a resize meeting another, and corrupt spans
// are refused.
func TestCursor_CarriedOverAResize(t *testing.T) {
	old := Cursor{Partition: 5, After: []byte("user/7")}.Encode(64)
	for _, q := range []int{128, 256} {
		f := uint32(q / 64)
		got, err := DecodeCursor(old, q)
		want := Cursor{Partition: 5 * f, After: []byte("user/7"), Through: 5*f + f - 1, Floor: []byte("user/7")}
		if err != nil || got.Partition != want.Partition || got.Through != want.Through ||
			!bytes.Equal(got.After, want.After) || !bytes.Equal(got.Floor, want.Floor) {
			t.Fatalf("cursor of 64 on %d = %+v, %v; want %+v", q, got, err, want)
		}
		again, err := DecodeCursor(got.Encode(q), q)
		if err != nil || again.Partition != got.Partition || again.Through != got.Through ||
			!bytes.Equal(again.After, got.After) || !bytes.Equal(again.Floor, got.Floor) {
			t.Fatalf("a carried cursor round-trips to %+v, %v; want %+v", again, err, got)
		}
	}
	// At a partition's start there is no key to resume after: the first
	// child's start.
	if got, err := DecodeCursor(Cursor{Partition: 5}.Encode(64), 256); err != nil || got.Partition != 20 || got.spans() || got.After != nil {
		t.Fatalf("a cursor at partition 5's start on 256 = %+v, %v; want partition 20's start", got, err)
	}
	carried, _ := DecodeCursor(old, 128)
	for _, tc := range []struct{ name, cursor string }{
		{"from a larger ring", Cursor{Partition: 5, After: []byte("k")}.Encode(512)},
		{"carried over a second resize", carried.Encode(128)},
		{"a span ending before its partition", spanCursor(128, 9, 8, "k", "")},
		{"a span past the ring", spanCursor(128, 9, 128, "k", "")},
		{"a floor longer than the cursor", spanCursor(128, 9, 11, "k", "")[:8]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeCursor(tc.cursor, 256); !errors.Is(err, ErrBadCursor) {
				t.Errorf("DecodeCursor(%q) = %v, want ErrBadCursor", tc.cursor, err)
			}
		})
	}
}

// spanCursor encodes a spanning cursor field by field, bypassing Encode's
// checks.
func spanCursor(q, p, through int, floor, after string) string {
	b := []byte{cursorVersionSpan}
	b = binary.AppendUvarint(b, uint64(q))
	b = binary.AppendUvarint(b, uint64(p))
	b = binary.AppendUvarint(b, uint64(through))
	b = binary.AppendUvarint(b, uint64(len(floor)))
	b = append(append(b, floor...), after...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestListing_ResumesAcrossAResize pages through keys on a ring of q
// partitions, then the ring grows by 2, 4 or 8 and the listing goes on
// from the cursor decoded for the new count, with pages of random sizes:
// every key is listed exactly once, in partition order of the ring it was
// listed on and key order within a partition.
func TestListing_ResumesAcrossAResize(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	// partOf is a key's partition on a ring of q: the top bits of its
	// hash, as the ring's, so that a partition's children split its keys.
	partOf := func(key string, q int) uint32 {
		h := fnv.New64a()
		h.Write([]byte(key))
		return uint32(h.Sum64() >> (64 - bits.Len(uint(q-1))))
	}
	for round := range 300 {
		q, f := 1<<rng.IntN(5), 1<<(1+rng.IntN(3))
		var keys []string
		for k := range rng.IntN(200) {
			keys = append(keys, fmt.Sprintf("k%03d", k))
		}
		// list returns partition p's keys after after, at most limit,
		// and whether it has more: one replica's page.
		list := func(q int, r Request) Page {
			var ks []string
			for _, k := range keys {
				if partOf(k, q) == r.Partition && k > string(r.After) {
					ks = append(ks, k)
				}
			}
			sort.Strings(ks)
			more := len(ks) > r.Limit
			return page(more, ks[:min(len(ks), r.Limit)]...)
		}
		seen := map[string]int{}
		cursor, ring, resized := "", q, false
		for pages := 0; ; pages++ {
			if pages > 10_000 {
				t.Fatalf("round %d: the listing does not end", round)
			}
			if !resized && (rng.IntN(3) == 0 || pages > 20) {
				ring, resized = q*f, true
			}
			c, err := DecodeCursor(cursor, ring)
			if err != nil {
				t.Fatalf("round %d: cursor on %d: %v", round, ring, err)
			}
			l := New(ring, c, 1+rng.IntN(7))
			for {
				req, ok := l.Next()
				if !ok {
					break
				}
				pg := list(ring, req)
				for _, e := range pg.Entries {
					seen[string(e.Key)]++
				}
				l.Took(pg)
			}
			next, more := l.Cursor()
			if !more {
				break
			}
			cursor = next.Encode(ring)
		}
		for _, k := range keys {
			if seen[k] != 1 {
				t.Fatalf("round %d (q %d → %d, seed %d): key %s listed %d times", round, q, q*f, seed, k, seen[k])
			}
		}
	}
}
