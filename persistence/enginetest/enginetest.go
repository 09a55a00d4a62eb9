package enginetest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/persistence"
)

var (
	seedFlag = flag.Uint64("enginetest.seed", 0,
		"seed of the randomized engine test; 0 picks one (also "+seedEnv+")")
	opsFlag = flag.Int("enginetest.ops", 0,
		"operations in the randomized engine test; 0 means the default")
)

// seedEnv overrides the seed where passing a flag is awkward (make, CI).
const seedEnv = "DHT_ENGINETEST_SEED"

// liveness bounds how long a test waits for something that must happen
// promptly, such as a write while a scan is paused. It only turns a
// deadlock into a failure; no test measures time with it.
const liveness = 30 * time.Second

// Factory opens the engine under test.
type Factory struct {
	// Open opens (or reopens) an engine in dir with the given sync setting.
	// It fails t itself on error. The suite closes what it opens.
	Open func(t testing.TB, dir string, syncWrites bool) persistence.Engine
	// Persistent is true when reopening the same dir must see earlier
	// writes; it enables the reopen tests.
	Persistent bool
}

// Run runs the conformance suite against f, one subtest per property.
func Run(t *testing.T, f Factory) {
	if f.Open == nil {
		t.Fatal("enginetest: Factory.Open is nil")
	}
	s := suite{f: f}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"GetMissing", s.testGetMissing},
		{"PutGetOverwriteDelete", s.testPutGetOverwriteDelete},
		{"DeleteMissing", s.testDeleteMissing},
		{"EmptyKey", s.testEmptyKey},
		{"EmptyValue", s.testEmptyValue},
		{"ValueSizes", s.testValueSizes},
		{"Copies", s.testCopies},
		{"Batch", s.testBatch},
		{"BatchAtomicUnderScan", s.testBatchAtomicUnderScan},
		{"Scan", s.testScan},
		{"ScanEarlyStop", s.testScanEarlyStop},
		{"ScanLarge", s.testScanLarge},
		{"ScanDoesNotBlockWriters", s.testScanDoesNotBlockWriters},
		{"ConcurrentWriters", s.testConcurrentWriters},
		{"ConcurrentClose", s.testConcurrentClose},
		{"Close", s.testClose},
		{"Reopen", s.testReopen},
		{"Randomized", s.testRandomized},
	} {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct{ f Factory }

// open opens an engine in dir and closes it when t ends. Close is
// idempotent, so tests may also close it themselves.
func (s suite) open(t testing.TB, dir string, syncWrites bool) persistence.Engine {
	t.Helper()
	e := s.f.Open(t, dir, syncWrites)
	if e == nil {
		t.Fatal("enginetest: Factory.Open returned nil")
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// fresh opens an engine in a new directory.
func (s suite) fresh(t testing.TB) persistence.Engine {
	t.Helper()
	return s.open(t, t.TempDir(), false)
}

// kv is a scanned pair, copied out of the scan.
type kv struct{ k, v string }

func (p kv) String() string { return fmt.Sprintf("%q=%q", p.k, short(p.v)) }

// short keeps failure messages readable when values are large.
func short(v string) string {
	if len(v) <= 40 {
		return v
	}
	return fmt.Sprintf("%s…(%d bytes)", v[:32], len(v))
}

func mustPut(t testing.TB, e persistence.Engine, k, v string) {
	t.Helper()
	if err := e.Put([]byte(k), []byte(v)); err != nil {
		t.Fatalf("Put(%q): %v", k, err)
	}
}

func mustDelete(t testing.TB, e persistence.Engine, k string) {
	t.Helper()
	if err := e.Delete([]byte(k)); err != nil {
		t.Fatalf("Delete(%q): %v", k, err)
	}
}

func mustWrite(t testing.TB, e persistence.Engine, b *persistence.Batch) {
	t.Helper()
	if err := e.Write(b); err != nil {
		t.Fatalf("Write(%d ops): %v", b.Len(), err)
	}
}

func wantValue(t testing.TB, e persistence.Engine, k, want string) {
	t.Helper()
	got, err := e.Get([]byte(k))
	if err != nil {
		t.Fatalf("Get(%q): %v, want %q", k, err, short(want))
	}
	if string(got) != want {
		t.Fatalf("Get(%q) = %q, want %q", k, short(string(got)), short(want))
	}
}

func wantAbsent(t testing.TB, e persistence.Engine, k string) {
	t.Helper()
	got, err := e.Get([]byte(k))
	if !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", k, short(string(got)), err)
	}
}

// scan collects a scan, stopping after limit pairs when limit > 0.
func scan(t testing.TB, e persistence.Engine, prefix, start []byte, limit int) []kv {
	t.Helper()
	var out []kv
	err := e.Scan(prefix, start, func(k, v []byte) bool {
		out = append(out, kv{string(k), string(v)})
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		t.Fatalf("Scan(%q, %q): %v", prefix, start, err)
	}
	return out
}

func (s suite) testGetMissing(t *testing.T) {
	e := s.fresh(t)
	wantAbsent(t, e, "missing")
	mustPut(t, e, "ab", "1")
	wantAbsent(t, e, "a")   // a prefix of a stored key is not that key
	wantAbsent(t, e, "abc") // nor is an extension of it
	wantAbsent(t, e, "b")
}

func (s suite) testPutGetOverwriteDelete(t *testing.T) {
	e := s.fresh(t)
	mustPut(t, e, "k", "v1")
	wantValue(t, e, "k", "v1")
	mustPut(t, e, "k", "a longer second value")
	wantValue(t, e, "k", "a longer second value")
	mustPut(t, e, "k", "v3")
	wantValue(t, e, "k", "v3")
	mustPut(t, e, "other", "o")
	mustDelete(t, e, "k")
	wantAbsent(t, e, "k")
	wantValue(t, e, "other", "o")
	mustPut(t, e, "k", "v4") // a deleted key can be written again
	wantValue(t, e, "k", "v4")
}

func (s suite) testDeleteMissing(t *testing.T) {
	e := s.fresh(t)
	mustDelete(t, e, "never-written")
	mustPut(t, e, "k", "v")
	mustDelete(t, e, "k")
	mustDelete(t, e, "k") // a retried delete is harmless
	wantAbsent(t, e, "k")
}

func (s suite) testEmptyKey(t *testing.T) {
	e := s.fresh(t)
	for _, key := range [][]byte{nil, {}} {
		if err := e.Put(key, []byte("v")); !errors.Is(err, persistence.ErrEmptyKey) {
			t.Errorf("Put(%#v) = %v, want ErrEmptyKey", key, err)
		}
		if _, err := e.Get(key); !errors.Is(err, persistence.ErrEmptyKey) {
			t.Errorf("Get(%#v) = %v, want ErrEmptyKey", key, err)
		}
		if err := e.Delete(key); !errors.Is(err, persistence.ErrEmptyKey) {
			t.Errorf("Delete(%#v) = %v, want ErrEmptyKey", key, err)
		}
	}
	// A batch with one bad key is refused whole.
	mustPut(t, e, "gone", "v")
	b := persistence.NewBatch()
	b.Put([]byte("a"), []byte("1"))
	b.Delete([]byte("gone"))
	b.Put(nil, []byte("2"))
	if err := e.Write(b); !errors.Is(err, persistence.ErrEmptyKey) {
		t.Fatalf("Write(batch with empty key) = %v, want ErrEmptyKey", err)
	}
	wantAbsent(t, e, "a")
	wantValue(t, e, "gone", "v")
}

func (s suite) testEmptyValue(t *testing.T) {
	e := s.fresh(t)
	if err := e.Put([]byte("nil"), nil); err != nil {
		t.Fatalf("Put(nil value): %v", err)
	}
	mustPut(t, e, "empty", "")
	b := persistence.NewBatch()
	b.Put([]byte("batch"), nil)
	mustWrite(t, e, b)
	for _, k := range []string{"nil", "empty", "batch"} {
		got, err := e.Get([]byte(k))
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		// Non-nil, so that callers can tell "present and empty" from
		// "absent" without looking at the error twice.
		if got == nil || len(got) != 0 {
			t.Errorf("Get(%q) = %#v, want a non-nil empty slice", k, got)
		}
	}
	got := scan(t, e, nil, nil, 0)
	want := []kv{{"batch", ""}, {"empty", ""}, {"nil", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("Scan = %v, want %v", got, want)
	}
}

// testValueSizes crosses the sizes at which engines change representation
// (badger's value threshold, block and page sizes) up to the 1 MiB maximum
// value the store accepts.
func (s suite) testValueSizes(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir, false)
	sizes := []int{0, 1, 31, 32, 33, 1023, 1024, 1025, 4095, 4096, 4097, 64 << 10, 1 << 20}
	want := make(map[string]string)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range sizes {
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		k := fmt.Sprintf("size/%08d", n)
		want[k] = string(v)
		mustPut(t, e, k, string(v))
	}
	check := func(e persistence.Engine) {
		t.Helper()
		for k, v := range want {
			wantValue(t, e, k, v)
		}
		got := scan(t, e, []byte("size/"), nil, 0)
		if len(got) != len(want) {
			t.Fatalf("Scan found %d keys, want %d", len(got), len(want))
		}
		for _, p := range got {
			if want[p.k] != p.v {
				t.Errorf("Scan: %s, want %d bytes", p, len(want[p.k]))
			}
		}
	}
	check(e)
	if s.f.Persistent {
		if err := e.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		check(s.open(t, dir, false))
	}
}

func (s suite) testCopies(t *testing.T) {
	e := s.fresh(t)

	// The engine must not keep the caller's buffers...
	key, val := []byte("key"), []byte("value")
	if err := e.Put(key, val); err != nil {
		t.Fatal(err)
	}
	key[0], val[0] = 'X', 'X'
	wantValue(t, e, "key", "value")
	wantAbsent(t, e, "Xey")

	// ...nor hand out its own.
	got, err := e.Get([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	got[0] = 'Z'
	// Appending writes into any spare capacity, which must not be the
	// engine's either.
	_ = append(got[:1], "ZZZZZZZZZZZZ"...)
	wantValue(t, e, "key", "value")

	// A batch copies its arguments when they are added, not when written.
	b := persistence.NewBatch()
	bk, bv := []byte("bkey"), []byte("bval")
	b.Put(bk, bv)
	dk := []byte("key")
	b.Delete(dk)
	bk[0], bv[0], dk[0] = 'X', 'X', 'X'
	mustWrite(t, e, b)
	wantValue(t, e, "bkey", "bval")
	wantAbsent(t, e, "Xkey")
	wantAbsent(t, e, "key")

	// Nor may the engine keep a batch's buffers after Write.
	b2 := persistence.NewBatch()
	b2.Put([]byte("b2"), []byte("first"))
	mustWrite(t, e, b2)
	b2.Put([]byte("b2"), []byte("second")) // may reallocate the batch's buffer
	wantValue(t, e, "b2", "first")
}

func (s suite) testBatch(t *testing.T) {
	e := s.fresh(t)
	mustPut(t, e, "c", "old")
	mustPut(t, e, "d", "old")

	b := persistence.NewBatch()
	if b.Len() != 0 || b.Size() != 0 {
		t.Fatalf("new batch: Len %d Size %d, want 0 0", b.Len(), b.Size())
	}
	b.Put([]byte("a"), []byte("1"))
	b.Put([]byte("b"), []byte("22"))
	b.Delete([]byte("c"))
	b.Put([]byte("d"), []byte("new"))
	if b.Len() != 4 {
		t.Fatalf("Len = %d, want 4", b.Len())
	}
	if want := len("a1b22cdnew"); b.Size() != want {
		t.Fatalf("Size = %d, want %d", b.Size(), want)
	}
	mustWrite(t, e, b)
	wantValue(t, e, "a", "1")
	wantValue(t, e, "b", "22")
	wantAbsent(t, e, "c")
	wantValue(t, e, "d", "new")

	// Within a batch, the last operation on a key wins.
	b = persistence.NewBatch()
	b.Put([]byte("x"), []byte("1"))
	b.Delete([]byte("x"))
	b.Delete([]byte("y"))
	b.Put([]byte("y"), []byte("2"))
	b.Put([]byte("z"), []byte("3"))
	b.Put([]byte("z"), []byte("4"))
	mustWrite(t, e, b)
	wantAbsent(t, e, "x")
	wantValue(t, e, "y", "2")
	wantValue(t, e, "z", "4")

	// Writing a batch again is harmless: it is the same set of writes.
	mustWrite(t, e, b)
	wantValue(t, e, "z", "4")

	// Nil and empty batches are no-ops, and the zero Batch is usable.
	for _, b := range []*persistence.Batch{nil, persistence.NewBatch(), {}} {
		mustWrite(t, e, b)
	}
	var zero persistence.Batch
	zero.Put([]byte("zero"), []byte("ok"))
	mustWrite(t, e, &zero)
	wantValue(t, e, "zero", "ok")
}

// testBatchAtomicUnderScan checks that a scan never sees half a batch: each
// batch sets (or deletes) all of a group of keys together.
func (s suite) testBatchAtomicUnderScan(t *testing.T) {
	e := s.fresh(t)
	const keys, rounds = 10, 200
	prefix := []byte("atomic/")

	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		for i := range rounds {
			b := persistence.NewBatch()
			for j := range keys {
				k := fmt.Appendf(nil, "atomic/%02d", j)
				if i%3 == 2 {
					b.Delete(k)
				} else {
					b.Put(k, fmt.Appendf(nil, "round-%d", i))
				}
			}
			if err := e.Write(b); err != nil {
				t.Errorf("Write round %d: %v", i, err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for scans := 0; !done.Load() || scans == 0; scans++ {
				var got []kv
				if err := e.Scan(prefix, nil, func(k, v []byte) bool {
					got = append(got, kv{string(k), string(v)})
					return true
				}); err != nil {
					t.Errorf("Scan: %v", err)
					return
				}
				if len(got) != 0 && len(got) != keys {
					t.Errorf("Scan saw %d of a batch's %d keys: %v", len(got), keys, got)
					return
				}
				for _, p := range got[min(1, len(got)):] {
					if p.v != got[0].v {
						t.Errorf("Scan saw values of two batches: %v", got)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// scanKeys are chosen around the edges of byte ordering: 0x00 and 0xff, a
// key equal to a prefix, and keys just outside a prefix on both sides.
var scanKeys = []string{
	"\x00", "a", "az", "b", "b\x00", "b\x00\x01", "ba", "bb",
	"b\xff", "b\xff\xff", "c", "\xff", "\xff\xff",
}

func (s suite) testScan(t *testing.T) {
	e := s.fresh(t)
	// Insert in an order unrelated to key order.
	order := slices.Clone(scanKeys)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, k := range order {
		mustPut(t, e, k, "v:"+k)
	}

	bKeys := []string{"b", "b\x00", "b\x00\x01", "ba", "bb", "b\xff", "b\xff\xff"}
	tests := []struct {
		name          string
		prefix, start []byte
		want          []string
	}{
		{"all", nil, nil, scanKeys},
		{"all, empty non-nil prefix", []byte{}, []byte{}, scanKeys},
		{"prefix", []byte("b"), nil, bKeys},
		{"prefix ending in 0xff", []byte("b\xff"), nil, []string{"b\xff", "b\xff\xff"}},
		{"prefix 0xff", []byte("\xff"), nil, []string{"\xff", "\xff\xff"}},
		{"prefix 0x00", []byte("\x00"), nil, []string{"\x00"}},
		{"prefix equal to a key only", []byte("az"), nil, []string{"az"}},
		{"prefix matching nothing", []byte("q"), nil, nil},
		{"prefix after every key", []byte("\xff\xff\xff"), nil, nil},
		{"start at a key", []byte("b"), []byte("ba"), []string{"ba", "bb", "b\xff", "b\xff\xff"}},
		{"start between keys", []byte("b"), []byte("b\x01"), []string{"ba", "bb", "b\xff", "b\xff\xff"}},
		{"start equal to prefix", []byte("b"), []byte("b"), bKeys},
		{"start before prefix", []byte("b"), []byte("a"), bKeys},
		{"start after prefix", []byte("b"), []byte("c"), nil},
		{"start at last key", []byte("b"), []byte("b\xff\xff"), []string{"b\xff\xff"}},
		{"start past last key", []byte("b"), []byte("b\xff\xff\x00"), nil},
		{"no prefix, start", nil, []byte("b\xff"), []string{"b\xff", "b\xff\xff", "c", "\xff", "\xff\xff"}},
		{"no prefix, start past all", nil, []byte("\xff\xff\xff"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []kv
			for _, k := range tc.want {
				want = append(want, kv{k, "v:" + k})
			}
			if got := scan(t, e, tc.prefix, tc.start, 0); !slices.Equal(got, want) {
				t.Errorf("Scan(%q, %q) =\n  %v\nwant\n  %v", tc.prefix, tc.start, got, want)
			}
		})
	}
}

func (s suite) testScanEarlyStop(t *testing.T) {
	e := s.fresh(t)
	for i := range 10 {
		mustPut(t, e, fmt.Sprintf("k%d", i), "v")
	}
	calls := 0
	if err := e.Scan(nil, nil, func(k, v []byte) bool {
		calls++
		return calls < 3
	}); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("fn called %d times after returning false on call 3", calls)
	}
	// Stopping at the first key.
	calls = 0
	if err := e.Scan([]byte("k"), []byte("k5"), func(k, v []byte) bool {
		calls++
		if string(k) != "k5" {
			t.Errorf("first key = %q, want k5", k)
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
}

// testScanLarge scans 10k keys spread over partitions, as a vnode or a
// handoff would.
func (s suite) testScanLarge(t *testing.T) {
	e := s.fresh(t)
	const n, partitions = 10_000, 4
	b := persistence.NewBatch()
	for i := range n {
		p := uint32(i % partitions)
		b.Put(persistence.DataKey(p, fmt.Appendf(nil, "key-%06d", i)), fmt.Appendf(nil, "value-%d", i))
		if b.Len() == 500 {
			mustWrite(t, e, b)
			b = persistence.NewBatch()
		}
	}
	mustWrite(t, e, b)
	mustPut(t, e, "h-not-data", "x") // outside every data prefix

	if got := scan(t, e, nil, nil, 0); len(got) != n+1 {
		t.Fatalf("full scan found %d keys, want %d", len(got), n+1)
	}
	for p := range uint32(partitions) {
		got := scan(t, e, persistence.DataPrefix(p), nil, 0)
		if len(got) != n/partitions {
			t.Fatalf("partition %d: %d keys, want %d", p, len(got), n/partitions)
		}
		for i, kv := range got {
			part, key, ok := persistence.SplitDataKey([]byte(kv.k))
			want := fmt.Sprintf("key-%06d", i*partitions+int(p))
			if !ok || part != p || string(key) != want {
				t.Fatalf("partition %d, position %d: key %q (partition %d, ok %v), want %q", p, i, key, part, ok, want)
			}
		}
	}
	// Resume a partition from the middle, as a resumable handoff does.
	start := persistence.DataKey(2, []byte("key-005002"))
	got := scan(t, e, persistence.DataPrefix(2), start, 0)
	want := 0
	for i := 5002; i < n; i++ {
		if i%partitions == 2 {
			want++
		}
	}
	if len(got) != want {
		t.Fatalf("resumed scan: %d keys, want %d", len(got), want)
	}
	if got[0].k != string(start) {
		t.Fatalf("resumed scan starts at %q, want %q", got[0].k, start)
	}
}

func (s suite) testScanDoesNotBlockWriters(t *testing.T) {
	e := s.fresh(t)
	mustPut(t, e, "s/1", "1")
	mustPut(t, e, "s/2", "2")
	calls := 0
	err := e.Scan([]byte("s/"), nil, func(k, v []byte) bool {
		calls++
		if calls > 1 {
			return true
		}
		// Writers on another goroutine must finish while fn is paused.
		done := make(chan error, 1)
		go func() {
			b := persistence.NewBatch()
			b.Put([]byte("w/batch"), []byte("b"))
			done <- errors.Join(
				e.Put([]byte("w/put"), []byte("p")),
				e.Delete([]byte("s/2")),
				e.Write(b),
			)
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("write during scan: %v", err)
			}
		case <-time.After(liveness):
			t.Errorf("writes did not finish within %v while a scan was paused", liveness)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, e, "w/put", "p")
	wantValue(t, e, "w/batch", "b")
	wantAbsent(t, e, "s/2")
}

func (s suite) testConcurrentWriters(t *testing.T) {
	e := s.fresh(t)
	const writers, perWriter = 8, 250
	key := func(w, i int) string { return fmt.Sprintf("w%d/%04d", w, i) }
	val := func(w, i int) string { return fmt.Sprintf("value %d %d", w, i) }

	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			b := persistence.NewBatch()
			for i := range perWriter {
				if i%2 == 0 { // half by Put, half by batches of 5
					if err := e.Put([]byte(key(w, i)), []byte(val(w, i))); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
					continue
				}
				b.Put([]byte(key(w, i)), []byte(val(w, i)))
				if b.Len() == 5 {
					if err := e.Write(b); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
					b = persistence.NewBatch()
				}
			}
			if err := e.Write(b); err != nil {
				t.Errorf("Write: %v", err)
			}
		})
	}
	// Readers run alongside, for the race detector's benefit.
	var done atomic.Bool
	var reading sync.WaitGroup
	for r := range 2 {
		reading.Go(func() {
			for !done.Load() {
				if _, err := e.Get([]byte(key(r, 0))); err != nil && !errors.Is(err, persistence.ErrNotFound) {
					t.Errorf("Get: %v", err)
					return
				}
				if err := e.Scan([]byte(fmt.Sprintf("w%d/", r)), nil, func(k, v []byte) bool { return true }); err != nil {
					t.Errorf("Scan: %v", err)
					return
				}
			}
		})
	}
	writing.Wait()
	done.Store(true)
	reading.Wait()
	if t.Failed() {
		return
	}
	for w := range writers {
		for i := range perWriter {
			wantValue(t, e, key(w, i), val(w, i))
		}
	}
	if got := scan(t, e, nil, nil, 0); len(got) != writers*perWriter {
		t.Fatalf("scan found %d keys, want %d", len(got), writers*perWriter)
	}
}

// testConcurrentClose closes the engine under load: calls in flight either
// complete or report ErrClosed, and nothing panics or races.
func (s suite) testConcurrentClose(t *testing.T) {
	e := s.fresh(t)
	const workers = 8
	// Close once every worker has done some work, or has stopped early.
	var started, wg sync.WaitGroup
	var closing atomic.Bool
	started.Add(workers)
	for w := range workers {
		wg.Go(func() {
			ready := sync.OnceFunc(started.Done)
			defer ready()
			for i := 0; ; i++ {
				if i == 10 {
					ready()
				}
				k := fmt.Appendf(nil, "c%d/%d", w, i%50)
				var err error
				switch i % 4 {
				case 0:
					err = e.Put(k, k)
				case 1:
					_, err = e.Get(k)
				case 2:
					b := persistence.NewBatch()
					b.Put(k, k)
					b.Delete(fmt.Appendf(nil, "c%d/%d", w, (i+25)%50))
					err = e.Write(b)
				case 3:
					err = e.Scan(fmt.Appendf(nil, "c%d/", w), nil, func(k, v []byte) bool { return true })
				}
				switch {
				case errors.Is(err, persistence.ErrClosed):
					if !closing.Load() {
						t.Errorf("worker %d op %d: ErrClosed before Close", w, i)
					}
					return
				case err != nil && !errors.Is(err, persistence.ErrNotFound):
					t.Errorf("worker %d op %d: %v", w, i, err)
					return
				}
			}
		})
	}
	started.Wait()
	closing.Store(true)
	if err := e.Close(); err != nil {
		t.Fatalf("Close under load: %v", err)
	}
	wg.Wait()
}

func (s suite) testClose(t *testing.T) {
	e := s.fresh(t)
	mustPut(t, e, "k", "v")
	for i := range 2 {
		if err := e.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	b := persistence.NewBatch()
	b.Put([]byte("k"), []byte("v"))
	_, getErr := e.Get([]byte("k"))
	scanned := false
	for name, err := range map[string]error{
		"Get":              getErr,
		"Put":              e.Put([]byte("k"), []byte("v")),
		"Delete":           e.Delete([]byte("k")),
		"Write":            e.Write(b),
		"Write(empty)":     e.Write(persistence.NewBatch()),
		"Scan":             e.Scan(nil, nil, func(k, v []byte) bool { scanned = true; return true }),
		"Get(absent)":      func() error { _, err := e.Get([]byte("absent")); return err }(),
		"Delete(absent)":   e.Delete([]byte("absent")),
		"Scan with prefix": e.Scan([]byte("k"), nil, func(k, v []byte) bool { scanned = true; return true }),
	} {
		if !errors.Is(err, persistence.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if scanned {
		t.Error("Scan after Close called fn")
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close after calls on a closed engine: %v", err)
	}
}

func (s suite) testReopen(t *testing.T) {
	if !s.f.Persistent {
		t.Skip("engine is not persistent")
	}
	for _, syncWrites := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", syncWrites), func(t *testing.T) {
			dir := t.TempDir()
			want := map[string]string{}
			e := s.open(t, dir, syncWrites)
			for i := range 100 {
				k := fmt.Sprintf("k%03d", i)
				mustPut(t, e, k, "first-"+k)
				want[k] = "first-" + k
			}
			for i := 0; i < 100; i += 3 {
				k := fmt.Sprintf("k%03d", i)
				mustPut(t, e, k, "second-"+k)
				want[k] = "second-" + k
			}
			for i := 1; i < 100; i += 7 {
				k := fmt.Sprintf("k%03d", i)
				mustDelete(t, e, k)
				delete(want, k)
			}
			b := persistence.NewBatch()
			b.Put([]byte("batch/a"), []byte("A"))
			b.Put([]byte("batch/empty"), nil)
			b.Delete([]byte("k002"))
			mustWrite(t, e, b)
			want["batch/a"], want["batch/empty"] = "A", ""
			delete(want, "k002")

			for round := range 3 {
				if err := e.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				e = s.open(t, dir, syncWrites)
				checkModel(t, e, want)
				// Write on top of the reopened data, and check it next round.
				k := fmt.Sprintf("round/%d", round)
				mustPut(t, e, k, k)
				want[k] = k
				mustDelete(t, e, "k000")
				delete(want, "k000")
			}
		})
	}
}

// checkModel checks that e holds exactly want, by Get and by a full Scan.
func checkModel(t testing.TB, e persistence.Engine, want map[string]string) {
	t.Helper()
	got := scan(t, e, nil, nil, 0)
	wantKVs := make([]kv, 0, len(want))
	for k, v := range want {
		wantKVs = append(wantKVs, kv{k, v})
	}
	slices.SortFunc(wantKVs, func(a, b kv) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
	if !slices.Equal(got, wantKVs) {
		t.Fatalf("engine holds\n  %v\nwant\n  %v", got, wantKVs)
	}
	for k, v := range want {
		wantValue(t, e, k, v)
	}
}

// seed returns the randomized test's seed: the flag, then the environment,
// then a fresh one.
func seed(t *testing.T) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv(seedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, s, err)
		}
		return v
	}
	return rand.Uint64()
}

// testRandomized applies random operations to the engine and to a map, and
// compares them after every read. Keys come from a four-letter alphabet
// including 0x00 and 0xff, so that prefixes and starts collide often and
// hit the edges of byte order.
func (s suite) testRandomized(t *testing.T) {
	sd := seed(t)
	// Logged first so that it appears with any failure below.
	t.Logf("seed %d (rerun with -enginetest.seed=%d or %s=%d)", sd, sd, seedEnv, sd)
	rng := rand.New(rand.NewPCG(sd, sd^0x9e3779b97f4a7c15))

	ops := 3000
	if testing.Short() {
		ops = 500
	}
	if *opsFlag > 0 {
		ops = *opsFlag
	}

	alphabet := []byte{0x00, 'a', 'b', 0xff}
	randBytes := func(maxLen int) []byte {
		b := make([]byte, rng.IntN(maxLen+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	randKey := func() []byte {
		for {
			if k := randBytes(4); len(k) > 0 {
				return k
			}
		}
	}
	randValue := func() []byte {
		n := rng.IntN(33)
		if rng.IntN(20) == 0 {
			n = 4000 + rng.IntN(4000) // across badger's small-profile value threshold
		}
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}

	// Without fsync: syncing changes when data reaches the disk, not what a
	// reopen reads back (Reopen covers both), and it would make this test
	// slow on a busy disk.
	dir := t.TempDir()
	e := s.open(t, dir, false)
	model := map[string]string{}

	for op := range ops {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("op %d (seed %d): %s", op, sd, fmt.Sprintf(format, args...))
		}
		switch r := rng.IntN(100); {
		case r < 30:
			k, v := randKey(), randValue()
			if err := e.Put(k, v); err != nil {
				fail("Put(%q): %v", k, err)
			}
			model[string(k)] = string(v)
		case r < 42:
			k := randKey()
			if err := e.Delete(k); err != nil {
				fail("Delete(%q): %v", k, err)
			}
			delete(model, string(k))
		case r < 52:
			b := persistence.NewBatch()
			for range 1 + rng.IntN(10) {
				k := randKey()
				if rng.IntN(3) == 0 {
					b.Delete(k)
					delete(model, string(k))
				} else {
					v := randValue()
					b.Put(k, v)
					model[string(k)] = string(v)
				}
			}
			if err := e.Write(b); err != nil {
				fail("Write(%d ops): %v", b.Len(), err)
			}
		case r < 72:
			k := randKey()
			got, err := e.Get(k)
			want, ok := model[string(k)]
			switch {
			case !ok && !errors.Is(err, persistence.ErrNotFound):
				fail("Get(%q) = %q, %v; want ErrNotFound", k, short(string(got)), err)
			case ok && err != nil:
				fail("Get(%q): %v, want %q", k, err, short(want))
			case ok && string(got) != want:
				fail("Get(%q) = %q, want %q", k, short(string(got)), short(want))
			}
		case r < 99:
			prefix := randBytes(2)
			var start []byte
			if rng.IntN(3) > 0 {
				start = randBytes(4)
			}
			limit := 0
			if rng.IntN(3) == 0 {
				limit = 1 + rng.IntN(5)
			}
			got := scan(t, e, prefix, start, limit)
			want := refScan(model, prefix, start, limit)
			if !slices.Equal(got, want) {
				fail("Scan(%q, %q, limit %d) =\n  %v\nwant\n  %v", prefix, start, limit, got, want)
			}
		default:
			// Reopen now and then (about every 400 operations): often
			// enough to interleave with every kind of write, rarely enough
			// to keep the test quick.
			if !s.f.Persistent || rng.IntN(4) > 0 {
				continue
			}
			if err := e.Close(); err != nil {
				fail("Close: %v", err)
			}
			e = s.open(t, dir, false)
		}
	}
	checkModel(t, e, model)
}

// refScan is the reference Scan: filter a map, sort, cut. It is slow and
// obviously right.
func refScan(model map[string]string, prefix, start []byte, limit int) []kv {
	var out []kv
	for k, v := range model {
		if bytes.HasPrefix([]byte(k), prefix) && bytes.Compare([]byte(k), start) >= 0 {
			out = append(out, kv{k, v})
		}
	}
	slices.SortFunc(out, func(a, b kv) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
