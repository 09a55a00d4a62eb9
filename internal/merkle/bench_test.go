package merkle

import (
	"fmt"
	"maps"
	"testing"
)

func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "user/%08d", i)
	}
	return keys
}

func BenchmarkKeyHash(b *testing.B) {
	for _, size := range []int{16, 64} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			key := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				KeyHash(key)
			}
		})
	}
}

func BenchmarkValueHash(b *testing.B) {
	for _, size := range []int{64, 1024, 64 << 10} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			value := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				ValueHash(value)
			}
		})
	}
}

// BenchmarkTree_Put is the cost a write adds to the vnode: one overwrite of
// an existing key (key hash, two contributions, depth+1 additions).
func BenchmarkTree_Put(b *testing.B) {
	for _, s := range []Shape{{16, 2}, DefaultShape(), {16, 5}} {
		b.Run(fmt.Sprintf("shape=%dx%d", s.Fanout, s.Depth), func(b *testing.B) {
			tr := mustTree(b, s)
			keys := benchKeys(100_000)
			for _, k := range keys {
				tr.Put(k, 0, 0, false)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				tr.Put(keys[i%len(keys)], uint64(i+1), uint64(i), true)
			}
		})
	}
}

// BenchmarkTree_Root measures N writes followed by reading the root: inner
// nodes are kept current by each write, so Root adds nothing to the writes.
func BenchmarkTree_Root(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("changes=%d", n), func(b *testing.B) {
			tr := mustTree(b, DefaultShape())
			keys := benchKeys(n)
			for _, k := range keys {
				tr.Put(k, 0, 0, false)
			}
			var sink uint64
			for i := 0; b.Loop(); i++ {
				for _, k := range keys {
					tr.Put(k, uint64(i+1), uint64(i), true)
				}
				sink += tr.Root()
			}
			_ = sink
		})
	}
}

// BenchmarkBuild is the rebuild of a partition's tree when a vnode starts
// (hashing keys only: the value hashes come from the storage scan).
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := benchKeys(n)
			s := DefaultShape()
			for b.Loop() {
				_, _ = Build(s.Fanout, s.Depth, func(yield func([]byte, uint64) bool) {
					for i, k := range keys {
						if !yield(k, uint64(i)) {
							return
						}
					}
				})
			}
		})
	}
}

// BenchmarkExchange_Diff runs a whole exchange (descent, listings of the
// differing buckets, DiffBuckets) between replicas of n keys that differ in
// 10, and reports the bytes it would send next to the dataset's size (keys
// plus 1 KiB values).
func BenchmarkExchange_Diff(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			a := make(dataset, n)
			dataBytes := 0
			for i, k := range benchKeys(n) {
				a[string(k)] = uint64(i)
				dataBytes += len(k) + 1024
			}
			other := maps.Clone(a)
			for i := range 10 {
				k := fmt.Sprintf("user/%08d", i*(n/10))
				switch i % 3 {
				case 0:
					delete(other, k)
				case 1:
					other[k]++
				case 2:
					other[k+"x"] = 1
				}
			}
			s := DefaultShape()
			local, remote := newReplica(b, s, a), newReplica(b, s, other)
			var res syncResult
			b.ReportAllocs()
			for b.Loop() {
				res = runExchange(b, local, remote)
			}
			if got := len(res.missingHere) + len(res.missingThere) + len(res.differing); got != 10 {
				b.Fatalf("found %d differences, want 10", got)
			}
			b.ReportMetric(float64(res.metadataBytes()), "wire-B/op")
			b.ReportMetric(100*float64(res.metadataBytes())/float64(dataBytes), "%-of-data")
			b.ReportMetric(float64(res.stats.Rounds), "rounds")
		})
	}
}
