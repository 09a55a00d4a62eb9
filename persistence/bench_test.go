package persistence_test

import (
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc64"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dhtkv/dht/persistence"
)

type benchEngine struct {
	name string
	opts func(dir string) persistence.Options
	// writesOnly marks variants that differ only in how they write, so the
	// read benchmarks skip them.
	writesOnly bool
}

// benchEngines are the engines of testEngines in the configuration a node
// runs by default (memory, badger, pebble), each persistent one followed
// by its "-sync" variant with SyncWrites for the write benchmarks.
var benchEngines = func() []benchEngine {
	var out []benchEngine
	for _, te := range testEngines {
		if te.variant {
			continue
		}
		out = append(out, benchEngine{name: te.name, opts: func(dir string) persistence.Options { return te.opts(dir, false) }})
		if te.persistent {
			out = append(out, benchEngine{name: te.name + "-sync", writesOnly: true,
				opts: func(dir string) persistence.Options { return te.opts(dir, true) }})
		}
	}
	return out
}()

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

// BenchmarkScanHash scans the same partition as BenchmarkScan and hashes
// every value with CRC-64, as a Merkle rebuild does (internal/merkle's
// ValueHash). BenchmarkScan never reads the values it is handed, which
// flatters an engine that hands out values without reading them: badger
// gives values above its value threshold (4 KiB in the small profile) as
// slices of its memory-mapped value log, whose pages are only read when
// touched.
func BenchmarkScanHash(b *testing.B) {
	const partitions, perPartition = 4, 1000
	table := crc64.MakeTable(crc64.ECMA)
	forEach(b, false, func(b *testing.B, e persistence.Engine, size int) {
		value := benchValue(size)
		for p := range uint32(partitions) {
			load(b, e, p, perPartition, value)
		}
		prefix := persistence.DataPrefix(2)
		b.SetBytes(int64(perPartition * size))
		var sum uint64
		for b.Loop() {
			if err := e.Scan(prefix, nil, func(k, v []byte) bool { sum ^= crc64.Checksum(v, table); return true }); err != nil {
				b.Fatal(err)
			}
		}
		if sum == 1 {
			b.Log("keeps sum alive") // never true in practice
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

// The memory benchmark's load: a million keys of 1 KiB, spread over
// partitions as a node's vnodes spread them. A GiB of values is far more
// than any memtable or cache of the small profiles holds, so what stays
// resident is the engine's steady state, not the data.
var (
	rssKeysFlag = flag.Int("persistence.rss-keys", 1_000_000,
		"keys BenchmarkRSS loads into each engine")
	rssValueSize = 1 << 10
	// rssPartitions is how many partitions the keys are spread over, a
	// node's share of a 256-partition ring with N=3 on a few nodes.
	rssPartitions = 64
	// rssBatch is how many puts go into one Write: handoff's batch shape,
	// and quick enough to load a GiB in a minute.
	rssBatch = 100
)

// The child process BenchmarkRSS runs is this test binary again, told what
// to do through the environment.
const (
	rssEngineEnv = "DHT_PERSISTENCE_RSS_ENGINE" // a benchEngines name
	rssDirEnv    = "DHT_PERSISTENCE_RSS_DIR"
	rssKeysEnv   = "DHT_PERSISTENCE_RSS_KEYS"
)

// BenchmarkRSS measures memory: it loads the keys into each engine in a
// child process of its own, so that one engine's memory never counts
// toward the next, and reports what the child holds after the load:
//
//   - MiB-rss: resident memory once a GC has returned the Go heap's garbage
//     to the OS, split into
//   - MiB-anon: memory of the process's own: the Go heap, the engine's
//     memtables, caches and indexes (and, for the memory engine, the data);
//   - MiB-file: pages of memory-mapped files (badger maps its tables and
//     value log), which count toward RSS and a container's memory use but
//     which the kernel can drop and read again under pressure;
//   - MiB-peak: the most resident memory the child had during the load;
//   - MiB-disk: the store's files as allocated on disk;
//   - keys/s: the load rate.
//
// One iteration writes a GiB and takes up to a minute or two per engine,
// so it does not run in -short mode and wants -benchtime=1x:
//
//	go test -run '^$' -bench BenchmarkRSS -benchtime 1x ./persistence/
func BenchmarkRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("loads a GiB into each engine")
	}
	for _, be := range benchEngines {
		if be.writesOnly {
			continue
		}
		b.Run(be.name, func(b *testing.B) {
			var r rssResult
			for b.Loop() {
				r = runRSSChild(b, be.name, b.TempDir(), *rssKeysFlag)
			}
			b.ReportMetric(float64(r.rss)/(1<<20), "MiB-rss")
			b.ReportMetric(float64(r.anon)/(1<<20), "MiB-anon")
			b.ReportMetric(float64(r.file)/(1<<20), "MiB-file")
			b.ReportMetric(float64(r.peak)/(1<<20), "MiB-peak")
			b.ReportMetric(float64(r.disk)/(1<<20), "MiB-disk")
			b.ReportMetric(float64(*rssKeysFlag)/r.load.Seconds(), "keys/s")
		})
	}
}

// rssResult is what the child reports.
type rssResult struct {
	rss, anon, file, peak, disk int64 // bytes
	load                        time.Duration
}

func runRSSChild(b *testing.B, engine, dir string, keys int) rssResult {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRSSChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(),
		rssEngineEnv+"="+engine,
		rssDirEnv+"="+dir,
		rssKeysEnv+"="+strconv.Itoa(keys))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v; output:\n%s", err, out)
	}
	var r rssResult
	for line := range strings.Lines(string(out)) {
		var loadNs int64
		if n, _ := fmt.Sscanf(line, "rss %d anon %d file %d peak %d disk %d load_ns %d",
			&r.rss, &r.anon, &r.file, &r.peak, &r.disk, &loadNs); n == 6 {
			r.load = time.Duration(loadNs)
			return r
		}
	}
	b.Fatalf("child reported no measurement; output:\n%s", out)
	return r
}

// TestHelperRSSChild is the process BenchmarkRSS measures. It loads the
// keys, lets a GC return the Go heap's garbage, and prints its resident
// memory. It skips unless BenchmarkRSS started it.
func TestHelperRSSChild(t *testing.T) {
	name := os.Getenv(rssEngineEnv)
	if name == "" {
		t.Skip("helper process for BenchmarkRSS; runs only as its child")
	}
	var be *benchEngine
	for i := range benchEngines {
		if benchEngines[i].name == name {
			be = &benchEngines[i]
		}
	}
	if be == nil {
		t.Fatalf("%s=%q names no bench engine", rssEngineEnv, name)
	}
	keys, err := strconv.Atoi(os.Getenv(rssKeysEnv))
	if err != nil || keys < 1 {
		t.Fatalf("%s=%q: want a positive number of keys", rssKeysEnv, os.Getenv(rssKeysEnv))
	}
	dir := os.Getenv(rssDirEnv)
	e := openEngine(t, be.opts(dir))
	defer e.Close()

	// Every value differs, as real payloads do: identical ones would
	// compress away in the on-disk engines' blocks.
	r := rand.New(rand.NewPCG(3, 3))
	value := make([]byte, rssValueSize)
	start := time.Now()
	batch := persistence.NewBatch()
	for i := range keys {
		for j := 0; j < len(value); j += 8 {
			binary.LittleEndian.PutUint64(value[j:], r.Uint64())
		}
		batch.Put(benchKey(uint32(i%rssPartitions), i), value)
		if batch.Len() == rssBatch || i == keys-1 {
			if err := e.Write(batch); err != nil {
				t.Fatalf("Write at key %d: %v", i, err)
			}
			batch = persistence.NewBatch()
		}
	}
	load := time.Since(start)
	if _, err := e.Get(benchKey(0, 0)); err != nil {
		t.Fatalf("Get of the first key: %v", err)
	}

	runtime.GC()
	debug.FreeOSMemory()
	rss, peak := procStatusBytes(t, "VmRSS:"), procStatusBytes(t, "VmHWM:")
	anon, file := procStatusBytes(t, "RssAnon:"), procStatusBytes(t, "RssFile:")
	var disk int64
	if dir != "" && be.opts(dir).Dir != "" {
		disk = allocatedBytes(t, dir)
	}
	fmt.Printf("rss %d anon %d file %d peak %d disk %d load_ns %d\n", rss, anon, file, peak, disk, load.Nanoseconds())
}

// procStatusBytes reads a "kB" field of /proc/self/status, in bytes.
func procStatusBytes(t *testing.T, field string) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status to read memory from: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status %s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/self/status has no %s", field)
	return 0
}

// allocatedBytes sums the disk blocks allocated to the files under dir:
// badger preallocates its value log sparsely, so apparent sizes would
// overstate it.
func allocatedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("size of %s: %v", dir, err)
	}
	return total
}
