package persistence

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walCounter counts what reaches pebble's WAL files at the bottom of the
// file system stack, below walWriteThroughFS: bytes handed to the kernel
// and syncs.
type walCounter struct {
	written atomic.Int64
	syncs   atomic.Int64
}

// countingFS is vfs.Default with the WAL files counted.
type countingFS struct {
	vfs.FS
	c *walCounter
}

func (fs countingFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(f, category), err
}

func (fs countingFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(f, category), err
}

func (fs countingFS) wrap(f vfs.File, category vfs.DiskWriteCategory) vfs.File {
	if f == nil || category != walCategory {
		return f
	}
	return countingFile{f, fs.c}
}

type countingFile struct {
	vfs.File
	c *walCounter
}

func (f countingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.c.written.Add(int64(n))
	return n, err
}

func (f countingFile) Sync() error     { f.c.syncs.Add(1); return f.File.Sync() }
func (f countingFile) SyncData() error { f.c.syncs.Add(1); return f.File.SyncData() }
func (f countingFile) SyncTo(n int64) (bool, error) {
	f.c.syncs.Add(1)
	return f.File.SyncTo(n)
}

func openCountedPebble(t *testing.T, syncWrites bool) (*pebbleEngine, *walCounter) {
	t.Helper()
	c := &walCounter{}
	logger := slog.New(&recordingHandler{level: slog.LevelWarn})
	e, err := openPebbleOn(Options{Engine: EnginePebble, Dir: t.TempDir(), SyncWrites: syncWrites}, countingFS{vfs.Default, c}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, c
}

// writeOps are the three ways to write, each run on its own key.
var writeOps = []struct {
	name string
	do   func(e Engine, i int) error
}{
	{"Put", func(e Engine, i int) error {
		return e.Put(fmt.Appendf(nil, "put/%d", i), bytes.Repeat([]byte{'p'}, 100))
	}},
	{"Delete", func(e Engine, i int) error { return e.Delete(fmt.Appendf(nil, "put/%d", i)) }},
	{"Write", func(e Engine, i int) error {
		b := NewBatch()
		b.Put(fmt.Appendf(nil, "batch/%d/a", i), bytes.Repeat([]byte{'a'}, 100))
		b.Put(fmt.Appendf(nil, "batch/%d/b", i), bytes.Repeat([]byte{'b'}, 100))
		b.Delete(fmt.Appendf(nil, "put/%d", i+1))
		return e.Write(b)
	}},
}

// With SyncWrites, every write (a Put, a Delete, a whole batch) has synced
// the WAL by the time it returns: the fsync per batch that makes it survive
// a machine crash.
func TestPebbleEngine_SyncWritesSyncsEveryWrite(t *testing.T) {
	e, c := openCountedPebble(t, true)
	for i := range 20 {
		for _, op := range writeOps {
			before := c.syncs.Load()
			if err := op.do(e, i); err != nil {
				t.Fatalf("%s %d: %v", op.name, i, err)
			}
			if c.syncs.Load() == before {
				t.Fatalf("%s %d returned without a sync of the WAL", op.name, i)
			}
		}
	}
}

// Without SyncWrites, every write has reached the WAL file (the kernel's
// page cache, which survives kill -9) by the time it returns, and no write
// waits for an fsync. This is the deterministic version of what the kill -9
// test samples; pebble.NoSync alone fails it, leaving the record in a
// buffer of the process.
func TestPebbleEngine_WithoutSyncWritesWritesThroughWithoutSync(t *testing.T) {
	e, c := openCountedPebble(t, false)
	syncsAtOpen := c.syncs.Load()
	for i := range 20 {
		for _, op := range writeOps {
			before := c.written.Load()
			if err := op.do(e, i); err != nil {
				t.Fatalf("%s %d: %v", op.name, i, err)
			}
			// A record holds at least its key; Delete's key is the smallest.
			if got := c.written.Load() - before; got < int64(len("put/0")) {
				t.Fatalf("%s %d returned with %d bytes written to the WAL file", op.name, i, got)
			}
		}
	}
	if got := c.syncs.Load(); got != syncsAtOpen {
		t.Errorf("writes synced the WAL %d times, want none", got-syncsAtOpen)
	}
	// Closing syncs the WAL, so that only the last WAL can have a torn tail
	// after a machine crash.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if c.syncs.Load() == syncsAtOpen {
		t.Error("Close did not sync the WAL")
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, want []byte
	}{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte("a"), []byte("b")},
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{'a', 0xff, 0xff}, []byte("b")},
		{[]byte{0x00}, []byte{0x01}},
		{[]byte{0xff}, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte{0x01, 0xfe}, []byte{0x01, 0xff}},
	}
	for _, tc := range tests {
		prefix := bytes.Clone(tc.prefix)
		got := prefixEnd(prefix)
		if !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("prefixEnd(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
		if !bytes.Equal(prefix, tc.prefix) {
			t.Errorf("prefixEnd(%q) modified its argument to %q", tc.prefix, prefix)
		}
	}
}

func TestPebbleLogger_Levels(t *testing.T) {
	h := &recordingHandler{level: slog.LevelDebug}
	l := pebbleLogger{slog.New(h)}
	l.Errorf("e %d\n", 1)
	l.Infof("i %d\n", 2)

	want := []struct {
		level slog.Level
		msg   string
	}{
		{slog.LevelError, "e 1"},
		{slog.LevelDebug, "i 2"}, // pebble's INFO is what it replays at open
	}
	if len(h.records) != len(want) {
		t.Fatalf("got %d records, want %d", len(h.records), len(want))
	}
	for i, w := range want {
		if r := h.records[i]; r.Level != w.level || r.Message != w.msg {
			t.Errorf("record %d = %v %q, want %v %q", i, r.Level, r.Message, w.level, w.msg)
		}
	}
}

func TestPebbleLogger_SkipsDisabledLevels(t *testing.T) {
	h := &recordingHandler{level: slog.LevelWarn}
	l := pebbleLogger{slog.New(h)}
	formatted := false
	l.Infof("%v", stringerFunc(func() string { formatted = true; return "" }))
	if len(h.records) != 0 || formatted {
		t.Errorf("disabled levels were formatted (%v) or logged (%d records)", formatted, len(h.records))
	}
}

// Fatalf is pebble giving up on a broken invariant: it must not return, and
// what it says must reach the log first.
func TestPebbleLogger_FatalfLogsAndPanics(t *testing.T) {
	h := &recordingHandler{level: slog.LevelError}
	l := pebbleLogger{slog.New(h)}
	defer func() {
		r := recover()
		if msg, ok := r.(string); !ok || !strings.Contains(msg, "manifest is broken") {
			t.Errorf("Fatalf panicked with %v, want the message", r)
		}
		if len(h.records) != 1 || h.records[0].Level != slog.LevelError || h.records[0].Message != "manifest is broken" {
			t.Errorf("Fatalf logged %v, want one error record", h.records)
		}
	}()
	l.Fatalf("manifest is %s\n", "broken")
	t.Error("Fatalf returned")
}

// Pebble's Open logs at INFO what it replays; the engine routes it to its
// logger at debug, never to the standard library's log.
func TestPebbleEngine_LogsThroughSlog(t *testing.T) {
	h := &recordingHandler{level: slog.LevelDebug}
	eng, err := Open(Options{Engine: EnginePebble, Dir: t.TempDir(), Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) == 0 {
		t.Fatal("pebble logged nothing through slog while opening")
	}
	for _, r := range h.records {
		if r.Level > slog.LevelDebug {
			t.Errorf("a routine open logged %v %q", r.Level, r.Message)
		}
	}
}

// A write too large for one pebble batch is refused with an error naming
// the limit, never handed to pebble, whose batch panics at 4 GiB.
func TestCheckPebbleBatchSize(t *testing.T) {
	tests := []struct {
		ops, size int
		ok        bool
	}{
		{1, 0, true},
		{1, 1 << 20, true},
		{1000, pebbleMaxBatchBytes - 21*1000, true},
		{1000, pebbleMaxBatchBytes - 21*1000 + 1, false},
		{1, pebbleMaxBatchBytes, false},
		{1, 5 << 30, false},
	}
	for _, tc := range tests {
		err := checkPebbleBatchSize("write", tc.ops, tc.size)
		if tc.ok != (err == nil) {
			t.Errorf("checkPebbleBatchSize(%d ops, %d bytes) = %v, want ok %v", tc.ops, tc.size, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "persistence: pebble write:") {
			t.Errorf("error %q does not name the engine and the operation", err)
		}
	}
}
