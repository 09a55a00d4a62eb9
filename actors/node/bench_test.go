package node_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/dhtkv/dht/test/nodetest"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/client"
)

// These benchmarks measure a single node's client API end to end, in one
// process: HTTP over loopback → gateway actor → coordinator actor → vnode
// actor → engine, and back. They run many concurrent clients, since a
// request spends most of its time waiting on hand-offs between goroutines,
// and report throughput (ops/s) and latency percentiles besides ns/op
// (which, with RunParallel, is wall time per operation: 1/throughput).
//
//	go test -run xxx -bench . -benchtime 2000x ./actors/node/

// benchNodeEngines are the engines measured; badger runs with sync_writes
// off, the default, so the figures show the pipeline rather than fsync.
var benchNodeEngines = []string{"memory", "badger"}

var benchNodeSizes = []struct {
	name string
	n    int
}{
	{"100B", 100},
	{"1KiB", 1 << 10},
	{"16KiB", 16 << 10},
}

// benchNodeParallelism × GOMAXPROCS is the number of concurrent clients.
const benchNodeParallelism = 8

// benchNodeRequestTimeout bounds one request of a benchmark.
const benchNodeRequestTimeout = 10 * time.Second

// forEachNode runs fn as sub-benchmarks named engine/size, each on a fresh
// single-node cluster and a client with enough idle connections for every
// concurrent client.
func forEachNode(b *testing.B, fn func(b *testing.B, c *client.Client, size int)) {
	for _, engine := range benchNodeEngines {
		b.Run(engine, func(b *testing.B) {
			for _, sz := range benchNodeSizes {
				b.Run(sz.name, func(b *testing.B) {
					fn(b, startBenchNode(b, engine), sz.n)
				})
			}
		})
	}
}

// startBenchNode starts a single-node cluster on engine, stopped when b
// ends, and returns a client of it.
func startBenchNode(b *testing.B, engine string) *client.Client {
	b.Helper()
	cfg := nodetest.Config(b, "b")
	cfg.Storage.Engine = engine
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.Start(node.Options{Config: cfg, HTTPListener: ln, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			b.Errorf("stop node: %v", err)
		}
	})

	tr := http.DefaultTransport.(*http.Transport).Clone()
	conns := benchNodeParallelism * runtime.GOMAXPROCS(0)
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*conns, 2*conns
	b.Cleanup(tr.CloseIdleConnections)
	c, err := client.New("http://"+n.HTTPAddr(), client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		b.Fatal(err)
	}
	warmUp(b, c, conns)
	return c
}

// warmUp opens the client's connections before the timer starts, so that
// the first operations do not pay for TCP handshakes.
func warmUp(b *testing.B, c *client.Client, conns int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for i := range conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), benchNodeRequestTimeout)
			defer cancel()
			errs[i] = c.Health(ctx)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
}

func benchNodeValue(size int) []byte {
	v := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 1)) // incompressible, like real payloads
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

func benchNodeKey(i int64) string { return fmt.Sprintf("user-key-%09d", i) }

// runParallelTimed is b.RunParallel that also times every operation and
// reports throughput and latency percentiles. op is called with a fresh
// operation number, unique across goroutines.
func runParallelTimed(b *testing.B, op func(ctx context.Context, i int64) error) {
	b.Helper()
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
	)
	b.SetParallelism(benchNodeParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 64)
		defer func() {
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
		for pb.Next() {
			i := next.Add(1) - 1
			ctx, cancel := context.WithTimeout(context.Background(), benchNodeRequestTimeout)
			start := time.Now()
			err := op(ctx, i)
			local = append(local, time.Since(start))
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
}

// BenchmarkNode_Put writes a new key per operation, without a context, so
// every write is a first write: mint a dot, persist, acknowledge.
func BenchmarkNode_Put(b *testing.B) {
	forEachNode(b, func(b *testing.B, c *client.Client, size int) {
		value := benchNodeValue(size)
		b.SetBytes(int64(size))
		runParallelTimed(b, func(ctx context.Context, i int64) error {
			res, err := c.Put(ctx, benchNodeKey(i), value, nil)
			if err != nil {
				return err
			}
			if res.Siblings != 1 {
				return fmt.Errorf("put %s: %d siblings, want 1", benchNodeKey(i), res.Siblings)
			}
			return nil
		})
	})
}

// BenchmarkNode_Get reads keys written beforehand, each holding one value.
func BenchmarkNode_Get(b *testing.B) {
	const keys = 1000
	forEachNode(b, func(b *testing.B, c *client.Client, size int) {
		value := benchNodeValue(size)
		loadBenchNode(b, c, keys, value)
		b.SetBytes(int64(size))
		runParallelTimed(b, func(ctx context.Context, i int64) error {
			key := benchNodeKey(i % keys)
			obj, err := c.Get(ctx, key, nil)
			switch {
			case err != nil:
				return err
			case !obj.Found || len(obj.Siblings) != 1:
				return fmt.Errorf("get %s: found=%t with %d siblings, want one value", key, obj.Found, len(obj.Siblings))
			case !bytes.Equal(obj.Siblings[0].Value, value):
				return fmt.Errorf("get %s: wrong value", key)
			}
			return nil
		})
	})
}

// loadBenchNode writes keys 0..n-1 with a few concurrent writers.
func loadBenchNode(b *testing.B, c *client.Client, n int, value []byte) {
	b.Helper()
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				ctx, cancel := context.WithTimeout(context.Background(), benchNodeRequestTimeout)
				_, err := c.Put(ctx, benchNodeKey(int64(i)), value, nil)
				cancel()
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatalf("loading keys: %v", err)
		}
	}
}
