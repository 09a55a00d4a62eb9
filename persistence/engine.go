package persistence

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned by Get when the key is absent. Callers test for
	// it with errors.Is; it is the only way a missing key is reported.
	ErrNotFound = errors.New("persistence: not found")
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("persistence: closed")
	// ErrEmptyKey is returned when a key is empty. Every engine rejects it
	// (badger cannot store one), so that code which works against the memory
	// engine in tests also works against badger or pebble in production.
	// Keys built by DataKey, HintKey and MetaKey are never empty.
	ErrEmptyKey = errors.New("persistence: empty key")
)

// Engine is an ordered byte key-value store. It is safe for concurrent use
// by many goroutines; see the package documentation for the rules on Scan
// and Close.
type Engine interface {
	// Get returns the value stored at key, as a copy the caller owns. The
	// slice is non-nil on success, even for an empty value. It returns
	// ErrNotFound if the key is absent.
	Get(key []byte) ([]byte, error)

	// Put stores value at key, replacing any earlier value. Once it returns
	// nil the write is as durable as Options.SyncWrites promises. The engine
	// copies key and value, so the caller may reuse them at once.
	Put(key, value []byte) error

	// Delete removes key. Deleting an absent key is not an error, so that a
	// retried delete is harmless.
	Delete(key []byte) error

	// Write applies every operation of b atomically: after a crash, and to a
	// concurrent Scan, either all of them are visible or none is. Operations
	// on the same key apply in order, so the last one wins. A nil or empty
	// batch is a no-op. An engine may refuse a batch that is too large to
	// apply atomically (badger limits a transaction to about 15% of its
	// memtable size; pebble refuses batches over 1 GiB); callers that
	// stream many keys should cut their batches by Batch.Size.
	Write(b *Batch) error

	// Scan calls fn for each key having prefix, in ascending key order,
	// starting at start (inclusive; nil means the start of the prefix). A
	// start that sorts after every key of the prefix visits nothing. An empty
	// prefix means all keys. key and value are only valid during the call,
	// and fn must not modify them. fn returning false stops the scan. Scan
	// sees each Write batch entirely or not at all, and does not block
	// writers on other goroutines for long. fn must not call back into the
	// engine.
	Scan(prefix, start []byte, fn func(key, value []byte) bool) error

	// Close releases the engine and waits for its background work. It is
	// idempotent; after it every call returns ErrClosed.
	Close() error
}

// Engine names accepted by Options.Engine. docs/engines.md compares them.
const (
	// EngineBadger is the default: on disk, LSM tree with a value log.
	EngineBadger = "badger"
	// EngineMemory keeps everything in memory, for development and tests;
	// nothing survives Close.
	EngineMemory = "memory"
	// EnginePebble is on disk, CockroachDB's LSM tree.
	EnginePebble = "pebble"
)

// Profile names accepted by Options.Profile. They tune the on-disk engines
// and are ignored by the memory engine.
const (
	// ProfileSmall suits a 2-core pod with a few GiB of memory: modest
	// memtables and caches, two compactors. It is the default because that
	// is the pod the store is deployed in. Badger's own defaults can take
	// several hundred MiB for memtables and caches alone; pebble's are the
	// opposite, too small for a server (4 MiB memtables), and the small
	// profile gives pebble about the memory it gives badger.
	ProfileSmall = "small"
	// ProfileDefault leaves the engine's tuning at the library's defaults.
	// For badger that means large machines; for pebble it means less
	// memory than ProfileSmall and more compaction work under writes.
	ProfileDefault = "default"
)

// Options selects and tunes an engine. The zero value, plus a Dir, opens
// badger with the small profile, no fsync per write and no value-log GC.
type Options struct {
	// Engine is "badger" (the default when empty), "memory" or "pebble".
	Engine string
	// Dir is the data directory of an on-disk engine. It is required for
	// badger and pebble and ignored by the memory engine.
	Dir string
	// SyncWrites makes every write fsync before it returns, so that it
	// survives a machine crash. Without it a write survives kill -9 of the
	// process but may be lost if the machine goes down.
	SyncWrites bool
	// Profile is "small" (the default when empty) or "default"; see
	// ProfileSmall and ProfileDefault.
	Profile string
	// ValueLogGCInterval is how often badger's value-log garbage collection
	// runs in the background, reclaiming space held by overwritten and
	// deleted large values. Zero disables it. The other engines have no
	// value log and ignore it.
	ValueLogGCInterval time.Duration
	// Logger receives the engine's logs, badger's or pebble's included. nil
	// means slog.Default().
	Logger *slog.Logger
}

// DefaultValueLogGCInterval is the value-log GC interval DefaultOptions
// sets: often enough that overwritten values do not pile up for long, rare
// enough that the rewrite I/O stays in the background.
const DefaultValueLogGCInterval = 10 * time.Minute

// DefaultOptions returns the options a node runs with unless configured
// otherwise: badger in dir, small profile, no fsync per write (a write
// survives kill -9 but not a machine crash), and value-log GC every
// DefaultValueLogGCInterval.
func DefaultOptions(dir string) Options {
	return Options{
		Engine:             EngineBadger,
		Dir:                dir,
		Profile:            ProfileSmall,
		ValueLogGCInterval: DefaultValueLogGCInterval,
	}
}

// Validate reports the first field of o that Open would reject, naming it,
// so that configuration can be checked before anything is opened.
func (o Options) Validate() error {
	switch o.Engine {
	case "", EngineBadger, EnginePebble:
		if o.Dir == "" {
			return fmt.Errorf("persistence: Options.Dir is required for the %s engine", cmp.Or(o.Engine, EngineBadger))
		}
	case EngineMemory:
	default:
		return fmt.Errorf("persistence: unknown engine %q (want %s, %s or %s)", o.Engine, EngineBadger, EngineMemory, EnginePebble)
	}
	switch o.Profile {
	case "", ProfileSmall, ProfileDefault:
	default:
		return fmt.Errorf("persistence: unknown profile %q (want %s or %s)", o.Profile, ProfileSmall, ProfileDefault)
	}
	if o.ValueLogGCInterval < 0 {
		return fmt.Errorf("persistence: Options.ValueLogGCInterval is negative (%v); use 0 to disable", o.ValueLogGCInterval)
	}
	return nil
}

// Open validates opts and opens the engine it names.
func Open(opts Options) (Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if opts.Engine != EngineMemory {
		if err := checkNoForeignStore(opts.Dir, cmp.Or(opts.Engine, EngineBadger)); err != nil {
			return nil, err
		}
	}
	switch opts.Engine {
	case EngineMemory:
		return newMemoryEngine(), nil
	case EnginePebble:
		e, err := openPebble(opts, logger)
		if err != nil {
			return nil, err // never a nil *pebbleEngine in an Engine
		}
		return e, nil
	default:
		e, err := openBadger(opts, logger)
		if err != nil {
			// Never a nil *badgerEngine inside a non-nil Engine: callers
			// test the interface against nil before closing it.
			return nil, err
		}
		return e, nil
	}
}

// checkNoForeignStore refuses to open engine in dir when dir holds the
// files of the other on-disk engine. Neither can read the other's files,
// and opening one on top of the other would mix two stores' files (both
// name tables NNNNNN.sst) in one directory: the node would start empty
// and might destroy the data an operator meant to keep. A directory that
// cannot be read is left for the engine to report.
func checkNoForeignStore(dir, engine string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		name, found := e.Name(), ""
		switch {
		case name == "KEYREGISTRY" || name == "MANIFEST" || strings.HasSuffix(name, ".vlog"):
			found = EngineBadger
		case strings.HasPrefix(name, "MANIFEST-") || strings.HasPrefix(name, "OPTIONS-") || strings.HasPrefix(name, "marker."):
			found = EnginePebble
		}
		if found != "" && found != engine {
			return fmt.Errorf("persistence: %s holds a %s store (%s), not a %s one: engines cannot read each other's files; "+
				"set the engine back to %s, or give %s an empty directory", dir, found, name, engine, found, engine)
		}
	}
	return nil
}

// Batch collects puts and deletes that Engine.Write applies atomically.
// It copies its arguments, so the caller may reuse its buffers at once.
// The zero value is an empty batch ready to use. A Batch is not safe for
// concurrent use, and must not be changed while Write is running.
type Batch struct {
	// buf holds every key and value back to back; ops index into it. One
	// growing buffer costs far fewer allocations than a copy per argument
	// when a handoff stream builds batches of thousands of keys.
	buf []byte
	ops []batchOp
}

type batchOp struct {
	start, keyEnd, valueEnd int // key = buf[start:keyEnd], value = buf[keyEnd:valueEnd]
	del                     bool
}

// NewBatch returns an empty batch.
func NewBatch() *Batch { return &Batch{} }

// Put adds a write of value at key.
func (b *Batch) Put(key, value []byte) {
	start := len(b.buf)
	b.buf = append(b.buf, key...)
	keyEnd := len(b.buf)
	b.buf = append(b.buf, value...)
	b.ops = append(b.ops, batchOp{start: start, keyEnd: keyEnd, valueEnd: len(b.buf)})
}

// Delete adds a delete of key.
func (b *Batch) Delete(key []byte) {
	start := len(b.buf)
	b.buf = append(b.buf, key...)
	b.ops = append(b.ops, batchOp{start: start, keyEnd: len(b.buf), valueEnd: len(b.buf), del: true})
}

// Len returns the number of operations in the batch.
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	return len(b.ops)
}

// Size returns the number of key and value bytes in the batch, which lets a
// caller streaming many keys cut batches well below an engine's limit.
func (b *Batch) Size() int {
	if b == nil {
		return 0
	}
	return len(b.buf)
}

// each calls fn for every operation in order, stopping at the first error.
// key and value alias the batch's buffer.
func (b *Batch) each(fn func(key, value []byte, del bool) error) error {
	if b == nil {
		return nil
	}
	for _, op := range b.ops {
		// Full slice expressions, so that an engine appending to key or
		// value can never overwrite the next operation.
		key := b.buf[op.start:op.keyEnd:op.keyEnd]
		value := b.buf[op.keyEnd:op.valueEnd:op.valueEnd]
		if err := fn(key, value, op.del); err != nil {
			return err
		}
	}
	return nil
}

// validate rejects a batch an engine could only partly apply.
func (b *Batch) validate() error {
	return b.each(func(key, _ []byte, _ bool) error {
		if len(key) == 0 {
			return ErrEmptyKey
		}
		return nil
	})
}

// scanStart returns the first key a scan of prefix from start may visit: a
// start before the prefix would otherwise begin outside it and end the scan
// at once.
func scanStart(prefix, start []byte) []byte {
	if bytes.Compare(start, prefix) > 0 {
		return start
	}
	return prefix
}
