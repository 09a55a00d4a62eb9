package persistence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var _ Engine = (*pebbleEngine)(nil)

// The small profile for pebble. Pebble's own defaults are tuned for tests
// and embedding, not for a server: a 4 MiB memtable flushes a tiny L0 table
// every 4 MiB of writes, which two cores then spend compacting, and an
// 8 MiB cache holds little of a partition's index and filter blocks. These
// follow ProfileSmall's intent instead: fast enough on a 2-core pod while
// bounding memtables and cache at about 150 MiB plus the Go heap. Measured
// (docs/engines.md): after loading 1M keys of 1 KiB, 88 MiB resident (72 MiB
// anonymous), with a peak under 190 MiB during the load.
const (
	// 32 MiB memtables: large enough that a burst of writes is absorbed
	// without a flush every few thousand keys. Pebble starts a fresh
	// memtable at 256 KiB and doubles it up to this size, so an idle node
	// does not pay for it, and a flush streams the memtable into a table
	// block by block rather than building the table in memory, so the
	// memtable is the only copy that costs memory.
	pebbleSmallMemTableSize = 32 << 20
	// Up to three memtables (one taking writes, two queued for flushing)
	// before writes stall, so that a burst does not stall on a slow disk;
	// this caps memtable memory at 96 MiB.
	pebbleSmallMemTableStopWritesThreshold = 3
	// One 48 MiB block cache. Unlike badger, pebble keeps data, index and
	// filter blocks in the same cache, so this is the sum of badger's small
	// block cache (32 MiB) and index cache (16 MiB). Pebble reads tables
	// with pread, not mmap: what the cache does not hold is the kernel's
	// page cache, outside the process's resident set.
	pebbleSmallCacheSize = 48 << 20
	// Bloom filters of 10 bits per key (about 1% false positives). A vnode
	// reads a key before every write to merge siblings, and for a new key
	// that read misses: without a filter each miss reads a data block from
	// every level whose key range covers the key. 10 bits cost ~1.25 bytes
	// per key in the cache, a few MiB for millions of keys.
	pebbleSmallBloomBitsPerKey = 10
	// At most two compactions at a time, as badger's two compactors: pebble
	// runs one and adds the second only when compaction debt builds up;
	// more would compete for two cores with the foreground.
	pebbleSmallMaxCompactions = 2
)

// pebbleFormat is the on-disk format a new store is created with, the same
// for both profiles. It is pinned, rather than pebble.FormatNewest, so that
// upgrading the library never ratchets the format of existing stores (which
// forbids going back to an older binary) without us choosing to. Columnar
// blocks make scans cheaper. The next format, FormatWALSyncChunks, records
// in the WAL the offset up to which it was synced, and replay then treats a
// torn tail below that offset as corruption; without SyncWrites the WAL
// is not synced per write (see walWriteThroughFS), so a machine crash could
// leave exactly such a tail and the store would refuse to open.
const pebbleFormat = pebble.FormatColumnarBlocks

// pebbleDiskSlowThreshold is how long a write or sync may take before it is
// logged as a slow disk: pebble's own default, long enough that only a
// stalling volume, not a busy one, is reported.
const pebbleDiskSlowThreshold = 5 * time.Second

// pebbleMaxBatchBytes bounds what one Put or Write hands to pebble. A
// pebble batch panics when its encoding reaches 4 GiB; refusing at 1 GiB,
// far beyond any batch the node builds (handoff cuts them at 1 MiB), turns
// an oversized batch into an error, never a panic.
const pebbleMaxBatchBytes = 1 << 30

// pebbleEngine is the on-disk engine backed by pebble. Like badgerEngine it
// adds no locking around writes: pebble's commit pipeline groups concurrent
// commits into one WAL write and, with SyncWrites, one fsync.
type pebbleEngine struct {
	db *pebble.DB
	// fsCloser stops the disk-health checker wrapped around the file
	// system; it runs until the database is closed.
	fsCloser io.Closer
	logger   *slog.Logger

	// Close waits for calls in flight, and so for open iterators, which
	// pebble forbids at Close.
	callGate

	// syncs carries the batches PutAsync applied, in the order it applied
	// them, to the goroutine that waits for their WAL fsync and answers
	// them; nil without SyncWrites, where PutAsync has no path.
	syncs chan pebbleSync
	// waiterDone is closed when that goroutine has exited.
	waiterDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// pebbleSync is one asynchronous put waiting for its fsync.
type pebbleSync struct {
	batch *pebble.Batch
	done  func(error)
}

// pebbleSyncQueue bounds the puts waiting for an fsync; PutAsync blocks
// past it. One fsync covers every commit before it, so the queue drains a
// group at a time, and this only has to hold the writes of one sync.
const pebbleSyncQueue = 4096

var _ AsyncPutter = (*pebbleEngine)(nil)

// pebbleWriteOptions is what every write commits with. It is always Sync,
// whatever Options.SyncWrites says: pebble.NoSync leaves a write in the
// WAL's buffer inside this process until a 32 KiB block fills, so kill -9
// would lose writes that had been acknowledged. Sync makes the commit wait
// until the WAL has been written to the file; without SyncWrites the file
// system wrapper (walWriteThroughFS) turns the WAL's fsync into a no-op, so
// that wait is one write(2) to the page cache, which survives kill -9.
var pebbleWriteOptions = pebble.Sync

// pebbleOptions translates opts into pebble's options, on fs (vfs.Default
// outside tests).
func pebbleOptions(opts Options, fs vfs.FS, logger *slog.Logger) *pebble.Options {
	if !opts.SyncWrites {
		fs = walWriteThroughFS{fs}
	}
	po := &pebble.Options{
		FS:                 fs,
		FormatMajorVersion: pebbleFormat,
		Logger:             pebbleLogger{logger},
		EventListener:      pebbleEventListener(logger),
	}
	if opts.Profile == ProfileDefault {
		return po
	}
	po.MemTableSize = pebbleSmallMemTableSize
	po.MemTableStopWritesThreshold = pebbleSmallMemTableStopWritesThreshold
	po.CacheSize = pebbleSmallCacheSize
	// Set on L0; every other level inherits it.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(pebbleSmallBloomBitsPerKey)
	po.CompactionConcurrencyRange = func() (lower, upper int) { return 1, pebbleSmallMaxCompactions }
	return po
}

func openPebble(opts Options, logger *slog.Logger) (*pebbleEngine, error) {
	logger = logger.With("component", "persistence", "engine", EnginePebble)
	return openPebbleOn(opts, vfs.Default, logger)
}

// openPebbleOn opens pebble on fs; tests pass a file system that counts
// what pebble does to its files.
func openPebbleOn(opts Options, fs vfs.FS, logger *slog.Logger) (*pebbleEngine, error) {
	po := pebbleOptions(opts, fs, logger)
	// Wrapped here rather than by pebble (which does so only when Options.FS
	// is nil), so that we hold the closer and can stop the checker when
	// Open fails, too.
	var fsCloser io.Closer
	po.FS, fsCloser = vfs.WithDiskHealthChecks(po.FS, pebbleDiskSlowThreshold, nil, func(info vfs.DiskSlowInfo) {
		logger.Warn("slow disk", "info", info.String())
	})
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		_ = fsCloser.Close()
		return nil, fmt.Errorf("persistence: open pebble in %s: %w", opts.Dir, err)
	}
	e := &pebbleEngine{db: db, fsCloser: fsCloser, logger: logger}
	if opts.SyncWrites {
		e.syncs = make(chan pebbleSync, pebbleSyncQueue)
		e.waiterDone = make(chan struct{})
		go e.waitSyncs()
	}
	return e, nil
}

// AsyncPuts implements AsyncPutter: only SyncWrites has a path, since
// without it a commit waits for no fsync.
func (e *pebbleEngine) AsyncPuts() bool { return e.syncs != nil }

// PutAsync implements AsyncPutter with pebble's ApplyNoSyncWait, the
// primitive CockroachDB's raft log writes use: the put is applied to the
// memtable, and so visible and ordered after every put applied before it,
// when the call returns; its fsync is shared with every commit around it,
// and waited for by waitSyncs.
func (e *pebbleEngine) PutAsync(key, value []byte, done func(error)) bool {
	if e.syncs == nil {
		return false
	}
	if !e.enter() {
		done(ErrClosed)
		return true
	}
	fail := func(err error) bool {
		e.leave()
		done(err)
		return true
	}
	if len(key) == 0 {
		return fail(ErrEmptyKey)
	}
	if err := checkPebbleBatchSize("put", 1, len(key)+len(value)); err != nil {
		return fail(err)
	}
	b := e.db.NewBatch()
	if err := b.Set(key, value, nil); err != nil {
		_ = b.Close()
		return fail(pebbleErr("put", err))
	}
	if err := e.db.ApplyNoSyncWait(b, pebbleWriteOptions); err != nil {
		// Pebble requires SyncWait before Close even when the apply
		// failed; it returns at once then.
		_ = b.SyncWait()
		_ = b.Close()
		return fail(pebbleErr("put", err))
	}
	// The call stays "in flight" for Close until the fsync is answered.
	e.syncs <- pebbleSync{batch: b, done: done}
	return true
}

// waitSyncs answers the asynchronous puts as their fsyncs complete, in the
// order they were applied: pebble syncs its WAL in order, so waiting for
// them in turn never waits past a sync that covered a later put.
func (e *pebbleEngine) waitSyncs() {
	defer close(e.waiterDone)
	for s := range e.syncs {
		err := s.batch.SyncWait()
		_ = s.batch.Close()
		e.leave()
		s.done(pebbleErr("put", err))
	}
}

func (e *pebbleEngine) Get(key []byte) ([]byte, error) {
	if !e.enter() {
		return nil, ErrClosed
	}
	defer e.leave()
	// Pebble stores an empty key happily; we refuse it as every engine
	// does, so that code tested against one works against all.
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	v, closer, err := e.db.Get(key)
	if err != nil {
		return nil, pebbleErr("get", err)
	}
	// v is pebble's until closer is closed; the non-nil copy also tells an
	// empty value from an absent one.
	value := append([]byte{}, v...)
	if err := closer.Close(); err != nil {
		return nil, pebbleErr("get", err)
	}
	return value, nil
}

func (e *pebbleEngine) Put(key, value []byte) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if err := checkPebbleBatchSize("put", 1, len(key)+len(value)); err != nil {
		return err
	}
	// Set copies key and value into a batch before it returns.
	return pebbleErr("put", e.db.Set(key, value, pebbleWriteOptions))
}

func (e *pebbleEngine) Delete(key []byte) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	if len(key) == 0 {
		return ErrEmptyKey
	}
	return pebbleErr("delete", e.db.Delete(key, pebbleWriteOptions))
}

func (e *pebbleEngine) Write(b *Batch) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	if b.Len() == 0 {
		return nil
	}
	if err := b.validate(); err != nil {
		return err
	}
	if err := checkPebbleBatchSize("write", b.Len(), b.Size()); err != nil {
		return err
	}
	// A pebble batch commits atomically whatever its size: one larger than
	// half a memtable is applied as a memtable of its own, so unlike badger
	// there is no size at which atomicity gives out.
	pb := e.db.NewBatch()
	defer pb.Close()
	if err := b.each(func(key, value []byte, del bool) error {
		if del {
			return pb.Delete(key, nil)
		}
		return pb.Set(key, value, nil)
	}); err != nil {
		return pebbleErr("write", err)
	}
	return pebbleErr("write", pb.Commit(pebbleWriteOptions))
}

func (e *pebbleEngine) Scan(prefix, start []byte, fn func(key, value []byte) bool) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	lower := scanStart(prefix, start)
	upper := prefixEnd(prefix)
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil // start sorts after every key of the prefix
	}
	// An iterator reads a snapshot taken when it is created, so it sees
	// each committed batch whole or not at all, and it never blocks
	// writers. The bounds let pebble skip tables outside the prefix.
	// Pebble requires them unchanged while the iterator lives, and lower
	// may be the caller's start: clone it. An empty lower bound must be
	// nil, not empty: pebble v2.1.7 built with -race (its invariants mode)
	// indexes the first byte of a non-nil seek key.
	var lowerBound []byte
	if len(lower) > 0 {
		lowerBound = bytes.Clone(lower)
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lowerBound, UpperBound: upper})
	if err != nil {
		return pebbleErr("scan", err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		// Key and value are valid until the next move of the iterator,
		// exactly as long as fn is promised they are.
		v, err := it.ValueAndErr()
		if err != nil {
			return pebbleErr("scan", errors.Join(err, it.Close()))
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	// Close returns the iterator's error, if any, as well.
	return pebbleErr("scan", it.Close())
}

func (e *pebbleEngine) Close() error {
	e.closeOnce.Do(func() {
		// shut waits for the asynchronous puts too: each is in flight
		// until waitSyncs has answered it.
		e.shut()
		if e.syncs != nil {
			close(e.syncs)
			<-e.waiterDone
		}
		if err := e.db.Close(); err != nil {
			e.closeErr = fmt.Errorf("persistence: close pebble: %w", err)
		}
		// After the database: it writes through the checked file system
		// until it is closed.
		_ = e.fsCloser.Close()
	})
	return e.closeErr
}

// checkPebbleBatchSize refuses a write of ops operations holding size bytes
// of keys and values when its pebble encoding would pass
// pebbleMaxBatchBytes.
func checkPebbleBatchSize(op string, ops, size int) error {
	// Each operation adds a kind byte and two length varints (at most 21
	// bytes) to its key and value in pebble's encoding.
	if encoded := int64(size) + 21*int64(ops); encoded > pebbleMaxBatchBytes {
		return fmt.Errorf("persistence: pebble %s: %d operations of %d bytes exceed the engine's limit of %d bytes per write",
			op, ops, size, pebbleMaxBatchBytes)
	}
	return nil
}

// prefixEnd returns the smallest key after every key having prefix, or nil
// when there is none (an empty prefix, or one of only 0xff bytes).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// pebbleErr maps pebble's errors to ours and wraps the rest with the
// operation that failed.
func pebbleErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pebble.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, pebble.ErrClosed):
		return ErrClosed
	}
	return fmt.Errorf("persistence: pebble %s: %w", op, err)
}

// walCategory is the category pebble creates its write-ahead log files
// with; walWriteThroughFS recognises them by it.
const walCategory vfs.DiskWriteCategory = "pebble-wal"

// walWriteThroughFS is the file system pebble runs on without SyncWrites.
// Every commit asks for a sync (see pebbleWriteOptions), which makes pebble
// write the WAL to the file before the commit returns; this file system
// then skips the fsync of the WAL that would follow. So an acknowledged
// write is in the kernel's page cache, which survives kill -9 of the
// process but not a machine crash: the promise Options.SyncWrites=false
// makes. A WAL is still synced when it is closed (pebble closes the old WAL
// before it starts the next), so that after a machine crash only the last
// WAL can have a torn tail, which pebble's recovery accepts, as it does
// with pebble.NoSync. Files other than the WAL are untouched: sstables and
// the manifest are synced as pebble intends.
type walWriteThroughFS struct{ vfs.FS }

// Create implements vfs.FS.
func (fs walWriteThroughFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return wrapWAL(f, category), err
}

// ReuseForWrite implements vfs.FS; pebble recycles old WAL files through it.
func (fs walWriteThroughFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return wrapWAL(f, category), err
}

// OpenReadWrite implements vfs.FS. Pebble opens WALs with Create or
// ReuseForWrite today; this keeps a WAL opened this way covered too.
func (fs walWriteThroughFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return wrapWAL(f, category), err
}

// Unwrap implements vfs.FS.
func (fs walWriteThroughFS) Unwrap() vfs.FS { return fs.FS }

func wrapWAL(f vfs.File, category vfs.DiskWriteCategory) vfs.File {
	if f == nil || category != walCategory {
		return f
	}
	return walWriteThroughFile{f}
}

// walWriteThroughFile is a WAL file whose syncs are skipped until Close.
type walWriteThroughFile struct{ vfs.File }

// Sync implements vfs.File; see walWriteThroughFS.
func (walWriteThroughFile) Sync() error { return nil }

// SyncData implements vfs.File; see walWriteThroughFS.
func (walWriteThroughFile) SyncData() error { return nil }

// SyncTo implements vfs.File. It reports that nothing was synced, which is
// true, and which the caller takes as "queued".
func (walWriteThroughFile) SyncTo(int64) (fullSync bool, err error) { return false, nil }

// Close syncs the WAL for real before closing it: see walWriteThroughFS.
func (f walWriteThroughFile) Close() error {
	return errors.Join(f.File.Sync(), f.File.Close())
}

// pebbleEventListener reports what an operator should see. Without it
// pebble is silent about stalls and low disk space, and treats data
// corruption as fatal.
func pebbleEventListener(logger *slog.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			logger.Error("background error", "err", err)
		},
		// The read that found the corruption fails with an error of its
		// own; pebble's default, a fatal log, would take down the node and
		// every other partition it serves with it.
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			logger.Error("data corruption", "info", info.String())
		},
		LowDiskSpace: func(info pebble.LowDiskSpaceInfo) {
			logger.Warn("low disk space", "info", info.String())
		},
		// A stall is pebble's back-pressure when flushes or compactions
		// fall behind a burst: worth knowing when latency spikes, not a
		// fault.
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			logger.Info("write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			logger.Info("write stall ended")
		},
	}
}

// pebbleLogger routes pebble's printf-style logging into slog. Pebble logs
// at INFO what it finds in its WALs every time it opens, which is noise
// for an operator, so Infof goes to debug as badger's does.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any)  { p.log(slog.LevelDebug, format, args) }
func (p pebbleLogger) Errorf(format string, args ...any) { p.log(slog.LevelError, format, args) }

// Fatalf is how pebble reports a broken invariant of its own, after which
// it cannot go on: its default logger exits the process. A panic does the
// same, with a stack trace, and is what this codebase does on a broken
// invariant.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	p.l.Error(msg, "fatal", true)
	panic("persistence: pebble: " + msg)
}

func (p pebbleLogger) log(level slog.Level, format string, args []any) {
	logPrintf(p.l, level, format, args)
}
