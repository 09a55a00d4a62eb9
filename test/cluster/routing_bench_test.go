package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/cluster"
)

// BenchmarkRouting_16Nodes compares reads and writes through one node (which
// sends a write on to the key's first owner unless it is that owner, and
// coordinates a read itself) with requests routed by the ring straight to
// the key's first owner, on a 16-node in-process cluster:
//
//	go test ./test/cluster -run '^$' -bench Routing_16Nodes -benchtime 2000x
//
// It reports the requests taken by a node that does not own the key, per
// request ("hops/op").
func BenchmarkRouting_16Nodes(b *testing.B) {
	c := cluster.Start(b, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const keys = 1000
	for i := range keys {
		if _, err := c.Client(1).Put(ctx, fmt.Sprintf("bench-%d", i), []byte("v"), &client.WriteOptions{W: 3}); err != nil {
			b.Fatal(err)
		}
	}
	routed, err := client.New("http://"+c.HTTPAddr(1), client.WithRingRouting(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	if err := routed.RefreshRing(ctx); err != nil {
		b.Fatal(err)
	}
	for round := range 2 { // twice, alternating, to see the noise
		for _, bc := range []struct {
			name string
			cl   *client.Client
		}{{"gateway", c.Client(1)}, {"routed", routed}} {
			b.Run(fmt.Sprintf("get/%s/%d", bc.name, round), func(b *testing.B) {
				before := ownerCounts(b, c)
				b.ResetTimer()
				for i := range b.N {
					if _, err := bc.cl.Get(ctx, fmt.Sprintf("bench-%d", i%keys), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				after := ownerCounts(b, c)
				b.ReportMetric((after["other"]-before["other"])/float64(b.N), "hops/op")
			})
			b.Run(fmt.Sprintf("put/%s/%d", bc.name, round), func(b *testing.B) {
				before := ownerCounts(b, c)
				b.ResetTimer()
				for i := range b.N {
					if _, err := bc.cl.Put(ctx, fmt.Sprintf("put-%s-%d-%d", bc.name, round, i), []byte("v"), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				after := ownerCounts(b, c)
				b.ReportMetric((after["other"]-before["other"])/float64(b.N), "hops/op")
			})
		}
	}
}
