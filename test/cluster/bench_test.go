package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
)

// BenchmarkCluster measures the replicated PUT and GET paths of a 3-node
// in-process cluster at N=3, R=2, W=2: HTTP into one node, a coordinator
// there, vnodes on all three over protoactor remote. Clients spread their
// requests over the three nodes.
func BenchmarkCluster(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("put/%dB", size), func(b *testing.B) {
			c := Start(b, 3, WithMemoryStorage())
			clients := benchClients(c)
			value := make([]byte, size)
			var seq atomic.Int64
			b.SetBytes(int64(size))
			b.SetParallelism(8) // 16 clients on 2 cores: measure throughput, not one client's latency
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if _, err := clients[i%3].Put(ctx, fmt.Sprintf("k%d", i), value, nil); err != nil {
						b.Error(err)
					}
					cancel()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run(fmt.Sprintf("get/%dB", size), func(b *testing.B) {
			c := Start(b, 3, WithMemoryStorage())
			clients := benchClients(c)
			value := make([]byte, size)
			const keys = 1000
			for i := 0; i < keys; i++ {
				if _, err := clients[i%3].Put(context.Background(), fmt.Sprintf("k%d", i), value, nil); err != nil {
					b.Fatal(err)
				}
			}
			var seq atomic.Int64
			b.SetBytes(int64(size))
			b.SetParallelism(8) // 16 clients on 2 cores: measure throughput, not one client's latency
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					obj, err := clients[i%3].Get(ctx, fmt.Sprintf("k%d", i%keys), nil)
					if err != nil || !obj.Found {
						b.Errorf("get: %+v %v", obj, err)
					}
					cancel()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func benchClients(c *Cluster) []*client.Client {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	out := make([]*client.Client, c.N())
	for i := range out {
		cl, err := client.New("http://"+c.HTTPAddr(i+1), client.WithHTTPClient(hc), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
		if err != nil {
			panic(err)
		}
		out[i] = cl
	}
	return out
}
