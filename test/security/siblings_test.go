package security

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/dhtkv/dht/client"
)

// maxSiblings is limits.max_siblings, left at its default in the suite's
// clusters.
const maxSiblings = 64

// TestSecurity_BlindWritersBoundedSiblings runs 1,000 blind writers (no
// context) to one key through all three nodes, 64 at a time, in a cluster
// with mutual TLS and HTTPS. Every write is acknowledged (204) or refused
// with 409 too_many_siblings; afterwards the key has at most
// limits.max_siblings siblings at r=3 and at r=1 through every node, and
// every acknowledged write is among them.
func TestSecurity_BlindWritersBoundedSiblings(t *testing.T) {
	c := startCluster(t, clusterOptions{mutualTLS: true, https: true, contextSecret: true})
	const key, writers, workers = "sec/siblings/hot", 1000, 64
	clients := make([]*client.Client, len(c.nodes))
	for i, n := range c.nodes {
		clients[i] = c.client(n)
	}

	var mu sync.Mutex
	var ok, tooMany, indeterminate, other int
	acked := map[string]bool{}
	var lastOther, lastIndeterminate error
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				value := fmt.Sprintf("writer %d", i)
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				_, err := clients[i%len(clients)].Put(ctx, key, []byte(value), &client.WriteOptions{ContentType: "text/plain"})
				cancel()
				apiErr, isAPI := errors.AsType[*client.Error](err)
				mu.Lock()
				switch {
				case err == nil:
					ok++
					acked[value] = true
				case isAPI && apiErr.Status == 409 && apiErr.Code == "too_many_siblings":
					tooMany++
				case client.IsIndeterminate(err):
					indeterminate++
					lastIndeterminate = err
				default:
					other++
					lastOther = err
				}
				mu.Unlock()
			}
		}()
	}
	for i := range writers {
		next <- i
	}
	close(next)
	wg.Wait()

	tb := newTable(fmt.Sprintf("%d concurrent blind writers to %s through 3 nodes (%d at a time), limits.max_siblings %d:", writers, key, workers, maxSiblings),
		"204", "409 too_many_siblings", "indeterminate", "other")
	tb.add(ok, tooMany, indeterminate, other)
	tb.log(t)
	if lastIndeterminate != nil {
		t.Logf("last indeterminate write (it may have landed): %v", lastIndeterminate)
	}
	if lastOther != nil {
		t.Errorf("%d writes failed otherwise; the last: %v", other, lastOther)
	}
	if ok == 0 || ok > maxSiblings {
		t.Errorf("%d blind writes acknowledged, want between 1 and %d", ok, maxSiblings)
	}

	reads := newTable("siblings afterwards:", "read", "siblings", "acknowledged writes present")
	check := func(name string, n int, r int) {
		o, err := c.read(c.nodes[n], key, r)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		present := 0
		for _, v := range values(o) {
			if acked[v] {
				present++
			}
		}
		reads.add(name, len(o.Siblings), fmt.Sprintf("%d of %d", present, ok))
		if len(o.Siblings) > maxSiblings {
			t.Errorf("%s: %d siblings, the limit is %d", name, len(o.Siblings), maxSiblings)
		}
		if r == 3 && present != ok {
			t.Errorf("%s: %d of the %d acknowledged writes present", name, present, ok)
		}
		if r == 3 && len(o.Siblings) > ok+indeterminate {
			t.Errorf("%s: %d siblings, more than the %d acknowledged and %d indeterminate writes", name, len(o.Siblings), ok, indeterminate)
		}
	}
	check("r=3 through n1", 0, 3)
	for i, n := range c.nodes {
		check("r=1 through "+n.ID(), i, 1)
	}
	reads.log(t)
}
