package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var _ Engine = (*badgerEngine)(nil)

// The small profile. Badger's defaults (5 × 64 MiB memtables, a 256 MiB
// block cache, four compactors, every table index held in memory) reserve
// more than a 2-core pod with a few GiB should give to one component. With
// these, a node serving YCSB workload A over 1M objects of 1 KiB peaked at
// about 390 MiB of anonymous memory (the Go heap included); see
// docs/benchmarks.md. Badger also memory-maps its tables and value log,
// whose pages count as the process's resident set but are page cache the
// kernel reclaims under pressure.
const (
	// Three memtables of 16 MiB: one taking writes, one or two flushing, so
	// a burst does not stall on a slow disk. Each costs its size in a
	// skiplist arena, and flushing one builds its L0 table in memory, so
	// the size is a direct term of the node's memory. It also caps an
	// atomic batch at about 15% of it (~2.4 MiB), above the largest
	// handoff batch (handoff.transfer_batch_bytes, at most 2 MiB).
	smallMemTableSize = 16 << 20
	smallNumMemtables = 3
	// The block cache holds decompressed blocks; badger needs one whenever
	// compression is on (Snappy by default).
	smallBlockCacheSize = 32 << 20
	// A bounded index cache, instead of badger's default of keeping every
	// table's index and bloom filter in memory, keeps memory flat as the
	// data grows past what fits.
	smallIndexCacheSize = 16 << 20
	// Two compactors: one prioritises L0, the other the rest; more only
	// compete for two cores with the foreground.
	smallNumCompactors = 2
	// Values of 512 bytes and more go to the value log, keys and pointers
	// to the LSM tree (badger's WiscKey design). A stored object is a DVV
	// set, usually just above the client's value. In the LSM tree, every
	// flush and compaction rewrote the values: with 1M objects of 1 KiB a
	// node held several hundred MiB of table builders in memory and spent
	// its CPU compacting. Small objects (tombstones, counters) stay in
	// the tree, where a scan reads them for free.
	smallValueThreshold = 512
	// Smaller value-log files let GC reclaim space in smaller steps, which
	// matters on the modest volumes the chart requests.
	smallValueLogFileSize = 256 << 20
)

// gcDiscardRatio is the fraction of a value-log file that must be garbage
// before GC rewrites it. Badger's documentation recommends 0.5: rewriting
// files that are mostly live costs more I/O than it frees.
const gcDiscardRatio = 0.5

// badgerEngine is the on-disk engine. Without SyncWrites it hands each
// write to badger as its own transaction: badger's writer goroutine already
// batches concurrent transactions into one request, and there is no fsync
// to share. With SyncWrites, writes go through a committer (see commit.go):
// badger v4.9.6 syncs the value log once per request batch but the memtable
// WAL once per transaction within it, so concurrent writers would still pay
// one fsync each; the committer folds them into one transaction and one
// pair of syncs.
type badgerEngine struct {
	db     *badger.DB
	logger *slog.Logger
	// group, when set, is the committer all writes go through.
	group *committer

	callGate

	stop      chan struct{} // closed by Close to stop background work
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// badgerOptions translates opts into badger's options.
func badgerOptions(opts Options, logger *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(opts.Dir).
		WithSyncWrites(opts.SyncWrites).
		WithLogger(badgerLogger{logger}).
		// We never read-modify-write inside a badger transaction (vnodes are
		// single actors), so conflict tracking would only cost memory.
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1)
	if opts.Profile == ProfileDefault {
		return bo
	}
	return bo.
		WithMemTableSize(smallMemTableSize).
		WithNumMemtables(smallNumMemtables).
		WithBlockCacheSize(smallBlockCacheSize).
		WithIndexCacheSize(smallIndexCacheSize).
		WithNumCompactors(smallNumCompactors).
		WithValueThreshold(smallValueThreshold).
		WithValueLogFileSize(smallValueLogFileSize)
}

func openBadger(opts Options, logger *slog.Logger) (*badgerEngine, error) {
	logger = logger.With("component", "persistence", "engine", EngineBadger)
	return openBadgerWith(badgerOptions(opts, logger), opts.ValueLogGCInterval, logger)
}

// openBadgerWith opens badger with fully built options; tests use it to
// reach settings Options does not expose.
func openBadgerWith(bo badger.Options, gcInterval time.Duration, logger *slog.Logger) (*badgerEngine, error) {
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("persistence: open badger in %s: %w", bo.Dir, err)
	}
	e := &badgerEngine{db: db, logger: logger, stop: make(chan struct{})}
	if bo.SyncWrites {
		e.group = newCommitter(e.commitGroup, groupLimit(bo.MemTableSize))
		e.wg.Go(func() { e.group.run(e.stop) })
	}
	if gcInterval > 0 {
		e.wg.Go(func() { e.gcLoop(gcInterval) })
	}
	return e, nil
}

func (e *badgerEngine) Get(key []byte) ([]byte, error) {
	if !e.enter() {
		return nil, ErrClosed
	}
	defer e.leave()
	var value []byte
	err := e.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		value, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, badgerErr("get", err)
	}
	if value == nil {
		value = []byte{} // an empty value is present, not absent
	}
	return value, nil
}

func (e *badgerEngine) Put(key, value []byte) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if e.group != nil {
		return badgerErr("put", e.group.commit(write{key: key, value: value}))
	}
	return badgerErr("put", e.db.Update(func(txn *badger.Txn) error {
		return txn.Set(key, value)
	}))
}

var _ AsyncPutter = (*badgerEngine)(nil)

// AsyncPuts implements AsyncPutter: only SyncWrites has a committer.
func (e *badgerEngine) AsyncPuts() bool { return e.group != nil }

// PutAsync implements AsyncPutter: it has a path only with SyncWrites,
// where writes go through the group committer.
func (e *badgerEngine) PutAsync(key, value []byte, done func(error)) bool {
	if e.group == nil {
		return false
	}
	if !e.enter() {
		done(ErrClosed)
		return true
	}
	if len(key) == 0 {
		e.leave()
		done(ErrEmptyKey)
		return true
	}
	// The call stays "in flight" for Close until the commit is answered:
	// Close must not close the database under a queued write.
	e.group.commitAsync(write{key: key, value: value}, func(err error) {
		e.leave()
		done(badgerErr("put", err))
	})
	return true
}

func (e *badgerEngine) Delete(key []byte) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if e.group != nil {
		return badgerErr("delete", e.group.commit(write{key: key, del: true}))
	}
	return badgerErr("delete", e.db.Update(func(txn *badger.Txn) error {
		return txn.Delete(key)
	}))
}

func (e *badgerEngine) Write(b *Batch) error {
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
	if e.group != nil {
		return badgerErr("write", e.group.commit(write{batch: b}))
	}
	// One transaction, not a badger WriteBatch: a WriteBatch splits itself
	// into several commits when it grows, which would break atomicity.
	return badgerErr("write", e.db.Update(func(txn *badger.Txn) error {
		return applyWrite(txn, write{batch: b})
	}))
}

// commitGroup applies a committer's group in one transaction: atomic as a
// whole, so each write in it stays atomic, and synced once.
func (e *badgerEngine) commitGroup(group []write) error {
	return e.db.Update(func(txn *badger.Txn) error {
		for _, w := range group {
			if err := applyWrite(txn, w); err != nil {
				return err
			}
		}
		return nil
	})
}

func applyWrite(txn *badger.Txn, w write) error {
	if w.batch == nil {
		if w.del {
			return txn.Delete(w.key)
		}
		return txn.Set(w.key, w.value)
	}
	return w.batch.each(func(key, value []byte, del bool) error {
		if del {
			return txn.Delete(key)
		}
		return txn.Set(key, value)
	})
}

func (e *badgerEngine) Scan(prefix, start []byte, fn func(key, value []byte) bool) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	// A read transaction is a snapshot that never blocks writers.
	return badgerErr("scan", e.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{
			// Prefetching copies values ahead of fn, wasted when fn stops
			// early; values in the LSM tree or the mmap'd value log are
			// cheap to read one at a time.
			PrefetchValues: false,
			// Lets badger skip tables whose key range misses the prefix.
			Prefix: prefix,
		})
		defer it.Close()
		for it.Seek(scanStart(prefix, start)); it.Valid(); it.Next() {
			item := it.Item()
			more := true
			// Calling fn inside Value avoids copying the value: the slice is
			// valid for exactly as long as fn is promised it is.
			if err := item.Value(func(v []byte) error {
				more = fn(item.Key(), v)
				return nil
			}); err != nil {
				return err
			}
			if !more {
				return nil
			}
		}
		return nil
	}))
}

func (e *badgerEngine) Close() error {
	e.closeOnce.Do(func() {
		e.shut()
		close(e.stop)
		e.wg.Wait() // value-log GC must not run on a closed database
		if err := e.db.Close(); err != nil {
			e.closeErr = fmt.Errorf("persistence: close badger: %w", err)
		}
	})
	return e.closeErr
}

// gcLoop runs value-log GC every interval until Close.
func (e *badgerEngine) gcLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.runValueLogGC()
		}
	}
}

// runValueLogGC rewrites value-log files until badger finds none worth
// rewriting, and returns how many it rewrote. One badger call rewrites at
// most one file, so a single call per tick would fall behind a heavy
// overwrite load.
func (e *badgerEngine) runValueLogGC() (rewrites int) {
	for ; ; rewrites++ {
		select {
		case <-e.stop:
			return rewrites
		default:
		}
		err := e.db.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			// Nothing left to reclaim, or a GC is already running.
			if rewrites > 0 {
				e.logger.Debug("value-log GC done", "rewrites", rewrites)
			}
		default:
			// GC is housekeeping: a failure costs disk space, not
			// correctness, and the next tick retries.
			e.logger.Warn("value-log GC failed", "rewrites", rewrites, "err", err)
		}
		return rewrites
	}
}

// badgerErr maps badger's errors to ours and wraps the rest with the
// operation that failed.
func badgerErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return ErrNotFound
	case errors.Is(err, badger.ErrEmptyKey):
		return ErrEmptyKey
	case errors.Is(err, badger.ErrDBClosed):
		return ErrClosed
	}
	return fmt.Errorf("persistence: badger %s: %w", op, err)
}

// badgerLogger routes badger's printf-style logging into slog. Badger logs
// every compaction and flush at INFO, which is noise for an operator, so
// Infof goes to debug along with Debugf.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(format string, args ...any)   { b.log(slog.LevelError, format, args) }
func (b badgerLogger) Warningf(format string, args ...any) { b.log(slog.LevelWarn, format, args) }
func (b badgerLogger) Infof(format string, args ...any)    { b.log(slog.LevelDebug, format, args) }
func (b badgerLogger) Debugf(format string, args ...any)   { b.log(slog.LevelDebug, format, args) }

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	logPrintf(b.l, level, format, args)
}

// logPrintf logs a storage library's printf-style message at level. It
// skips the formatting when nobody reads the level: the libraries' debug
// output is plentiful.
func logPrintf(l *slog.Logger, level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	l.Log(ctx, level, strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}
