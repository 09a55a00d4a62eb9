package persistence

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
)

// blockingApply records every group it applies and holds the first one
// until release is closed, so that writers queue up behind it.
type blockingApply struct {
	mu      sync.Mutex
	groups  [][]write
	entered chan struct{}
	release chan struct{}
	fail    func(w write) bool
}

func newBlockingApply() *blockingApply {
	return &blockingApply{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (a *blockingApply) apply(group []write) error {
	a.mu.Lock()
	first := len(a.groups) == 0
	a.groups = append(a.groups, append([]write(nil), group...))
	a.mu.Unlock()
	if first {
		a.entered <- struct{}{}
		<-a.release
	}
	for _, w := range group {
		if a.fail != nil && a.fail(w) {
			return fmt.Errorf("bad write %q", w.key)
		}
	}
	return nil
}

// startCommitter runs a committer until the test ends.
func startCommitter(t *testing.T, apply func([]write) error, l limit) *committer {
	t.Helper()
	c := newCommitter(apply, l)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.run(stop) })
	t.Cleanup(func() { close(stop); wg.Wait() })
	return c
}

// queueBehindFirst commits a first write, waits until its group is being
// applied, then starts writers for keys; it returns the writers' errors
// once release lets everything through.
func queueBehindFirst(t *testing.T, c *committer, a *blockingApply, keys []string, value []byte) map[string]error {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := map[string]error{}
	wg.Go(func() {
		err := c.commit(write{key: []byte("first")})
		mu.Lock()
		errs["first"] = err
		mu.Unlock()
	})
	<-a.entered
	for _, k := range keys {
		wg.Go(func() {
			err := c.commit(write{key: []byte(k), value: value})
			mu.Lock()
			errs[k] = err
			mu.Unlock()
		})
	}
	// Wait until every writer is queued, so the next group sees them all.
	for len(c.queue) < len(keys) {
		runtime.Gosched()
	}
	close(a.release)
	wg.Wait()
	return errs
}

func keysN(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%03d", i)
	}
	return keys
}

func TestCommitter_GroupsQueuedWrites(t *testing.T) {
	a := newBlockingApply()
	c := startCommitter(t, a.apply, limit{bytes: 1 << 20, ops: 1000})
	keys := keysN(50)
	errs := queueBehindFirst(t, c, a, keys, []byte("v"))
	for k, err := range errs {
		if err != nil {
			t.Errorf("write %s: %v", k, err)
		}
	}
	// The first group is the first write alone; the 50 writers queued
	// behind it must share one group (one fsync), not 50.
	if len(a.groups) != 2 || len(a.groups[1]) != len(keys) {
		sizes := make([]int, len(a.groups))
		for i, g := range a.groups {
			sizes[i] = len(g)
		}
		t.Fatalf("group sizes %v, want [1 %d]", sizes, len(keys))
	}
}

func TestCommitter_RespectsLimit(t *testing.T) {
	a := newBlockingApply()
	value := make([]byte, 100)
	l := limit{bytes: 1000, ops: 1000}
	c := startCommitter(t, a.apply, l)
	keys := keysN(40)
	errs := queueBehindFirst(t, c, a, keys, value)
	applied := 0
	for i, g := range a.groups {
		size := 0
		for _, w := range g {
			size += w.size()
		}
		if len(g) > 1 && size > l.bytes {
			t.Errorf("group %d holds %d bytes, over the limit of %d", i, size, l.bytes)
		}
		applied += len(g)
	}
	if applied != len(keys)+1 {
		t.Errorf("applied %d writes, want %d (a write carried over a group boundary was dropped or repeated)", applied, len(keys)+1)
	}
	for k, err := range errs {
		if err != nil {
			t.Errorf("write %s: %v", k, err)
		}
	}
}

func TestCommitter_BadWriteFailsOnlyItself(t *testing.T) {
	a := newBlockingApply()
	a.fail = func(w write) bool { return string(w.key) == "k007" }
	c := startCommitter(t, a.apply, limit{bytes: 1 << 20, ops: 1000})
	errs := queueBehindFirst(t, c, a, keysN(20), []byte("v"))
	for k, err := range errs {
		if (k == "k007") != (err != nil) {
			t.Errorf("write %s: err = %v", k, err)
		}
	}
}

func TestCommitter_LoneWriterAlwaysAnswered(t *testing.T) {
	wantErr := errors.New("disk gone")
	var calls int
	c := startCommitter(t, func(g []write) error { calls++; return wantErr }, limit{bytes: 1 << 20, ops: 1000})
	for range 3 {
		if err := c.commit(write{key: []byte("k")}); !errors.Is(err, wantErr) {
			t.Fatalf("commit: err = %v, want %v", err, wantErr)
		}
	}
	if calls != 3 {
		t.Fatalf("apply called %d times for 3 lone writes, want 3", calls)
	}
}

// TestEngine_PutAsync runs the asynchronous durable put of the on-disk
// engines: none without sync_writes; with it, every put answered once,
// stored, and applied in the order handed over.
func TestEngine_PutAsync(t *testing.T) {
	for _, engine := range []string{EngineBadger, EnginePebble} {
		t.Run(engine, func(t *testing.T) {
			t.Run("sync writes off has no async path", func(t *testing.T) {
				e, err := Open(Options{Engine: engine, Dir: t.TempDir(), Logger: quietTestLogger()})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				if e.(AsyncPutter).AsyncPuts() {
					t.Error("AsyncPuts() = true without sync_writes")
				}
				if e.(AsyncPutter).PutAsync([]byte("k"), []byte("v"), func(error) { t.Error("done called for a put that was not queued") }) {
					t.Fatal("PutAsync took a put without sync_writes")
				}
			})
			t.Run("sync writes on", func(t *testing.T) { testPutAsyncSync(t, engine) })
		})
	}
}

func testPutAsyncSync(t *testing.T, engine string) {
	dir := t.TempDir()
	e, err := Open(Options{Engine: engine, Dir: dir, SyncWrites: true, Logger: quietTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	async := e.(AsyncPutter)
	if !async.AsyncPuts() {
		t.Error("AsyncPuts() = false with sync_writes on")
	}
	const n = 200
	errs := make(chan error, 2*n+1)
	for i := range n {
		key, value := fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i)
		if !async.PutAsync(key, value, func(err error) { errs <- err }) {
			t.Fatal("PutAsync refused a put with sync_writes on")
		}
	}
	// Handed over after the first round, so applied after it: the engine
	// must keep the second value of every key.
	for i := range n / 2 {
		key, value := fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "w%d", i)
		if !async.PutAsync(key, value, func(err error) { errs <- err }) {
			t.Fatal("PutAsync refused a put with sync_writes on")
		}
	}
	if !async.PutAsync(nil, []byte("v"), func(err error) { errs <- err }) {
		t.Fatal("PutAsync refused an empty key instead of answering it")
	}
	// Close waits for queued writes: each must be answered, and stored.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var emptyKeyErrs int
	for range n + n/2 + 1 {
		switch err := <-errs; {
		case errors.Is(err, ErrEmptyKey):
			emptyKeyErrs++
		case err != nil:
			t.Errorf("async put: %v", err)
		}
	}
	if emptyKeyErrs != 1 {
		t.Errorf("%d answers were ErrEmptyKey, want 1", emptyKeyErrs)
	}
	if async.PutAsync([]byte("late"), []byte("v"), func(err error) { errs <- err }) {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("PutAsync after Close answered %v, want ErrClosed", err)
		}
	}
	e, err = Open(Options{Engine: engine, Dir: dir, Logger: quietTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range n {
		want := fmt.Sprintf("v%d", i)
		if i < n/2 {
			want = fmt.Sprintf("w%d", i)
		}
		got, err := e.Get(fmt.Appendf(nil, "k%03d", i))
		if err != nil || string(got) != want {
			t.Fatalf("k%03d after reopening: %q, %v; want %q", i, got, err, want)
		}
	}
}

func quietTestLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
