package persistence_test

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/dhtkv/dht/persistence"
)

type benchEngine struct {
	name string
	opts func(dir string) persistence.Options
	// writesOnly marks variants that differ only in how they write, so the
	// read benchmarks skip them.
	writesOnly bool
}

var benchEngines = []benchEngine{
	{name: "memory", opts: func(string) persistence.Options {
		return persistence.Options{Engine: persistence.EngineMemory}
	}},
	{name: "badger", opts: func(dir string) persistence.Options {
		return persistence.Options{Dir: dir}
	}},
	{name: "badger-sync", writesOnly: true, opts: func(dir string) persistence.Options {
		return persistence.Options{Dir: dir, SyncWrites: true}
	}},
}

var benchSizes = []struct {
	name string
	n    int
}{
	{"100B", 100},
	{"1KiB", 1 << 10},
	{"16KiB", 16 << 10},
}

// forEach runs fn on a fresh engine for every engine and value size, as
// sub-benchmarks named engine/size.
func forEach(b *testing.B, writes bool, fn func(b *testing.B, e persistence.Engine, size int)) {
	for _, be := range benchEngines {
		if be.writesOnly && !writes {
			continue
		}
		b.Run(be.name, func(b *testing.B) {
			for _, sz := range benchSizes {
				b.Run(sz.name, func(b *testing.B) {
					e := openEngine(b, be.opts(b.TempDir()))
					defer e.Close()
					fn(b, e, sz.n)
				})
			}
		})
	}
}

func benchValue(size int) []byte {
	v := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 1)) // incompressible, like real payloads
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

func benchKey(partition uint32, i int) []byte {
	return persistence.DataKey(partition, fmt.Appendf(nil, "user-key-%09d", i))
}

// load writes n keys of partition p in batches.
func load(b *testing.B, e persistence.Engine, p uint32, n int, value []byte) {
	b.Helper()
	batch := persistence.NewBatch()
	for i := range n {
		batch.Put(benchKey(p, i), value)
		if batch.Size() > 1<<20 {
			if err := e.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch = persistence.NewBatch()
		}
	}
	if err := e.Write(batch); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPut(b *testing.B) {
	forEach(b, true, func(b *testing.B, e persistence.Engine, size int) {
		value := benchValue(size)
		b.SetBytes(int64(size))
		for i := 0; b.Loop(); i++ {
			if err := e.Put(benchKey(0, i), value); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPutParallel shows group commit: with SyncWrites, concurrent
// writers share fsyncs, so throughput grows with writers.
func BenchmarkPutParallel(b *testing.B) {
	forEach(b, true, func(b *testing.B, e persistence.Engine, size int) {
		value := benchValue(size)
		var next atomic.Int64
		b.SetBytes(int64(size))
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := e.Put(benchKey(0, int(next.Add(1))), value); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkGet(b *testing.B) {
	const keys = 10_000
	forEach(b, false, func(b *testing.B, e persistence.Engine, size int) {
		load(b, e, 0, keys, benchValue(size))
		r := rand.New(rand.NewPCG(2, 2))
		b.SetBytes(int64(size))
		for b.Loop() {
			if _, err := e.Get(benchKey(0, r.IntN(keys))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkScan scans one partition of 1000 keys among four, as a Merkle
// rebuild or a handoff does.
func BenchmarkScan(b *testing.B) {
	const partitions, perPartition = 4, 1000
	forEach(b, false, func(b *testing.B, e persistence.Engine, size int) {
		value := benchValue(size)
		for p := range uint32(partitions) {
			load(b, e, p, perPartition, value)
		}
		prefix := persistence.DataPrefix(2)
		b.SetBytes(int64(perPartition * size))
		for b.Loop() {
			n := 0
			if err := e.Scan(prefix, nil, func(k, v []byte) bool { n++; return true }); err != nil {
				b.Fatal(err)
			}
			if n != perPartition {
				b.Fatalf("scanned %d keys, want %d", n, perPartition)
			}
		}
	})
}

// BenchmarkBatch writes batches of 100 puts, the shape of a handoff stream.
func BenchmarkBatch(b *testing.B) {
	const perBatch = 100
	forEach(b, true, func(b *testing.B, e persistence.Engine, size int) {
		value := benchValue(size)
		b.SetBytes(int64(perBatch * size))
		for i := 0; b.Loop(); i++ {
			batch := persistence.NewBatch()
			for j := range perBatch {
				batch.Put(benchKey(0, i*perBatch+j), value)
			}
			if err := e.Write(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
