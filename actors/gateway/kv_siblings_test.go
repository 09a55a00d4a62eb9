package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/dhtkv/dht/client"
)

// TestGateway_ConcurrentWritesBecomeSiblings writes twice with the context
// of one read: both values survive, and a write with the 300's context
// resolves them.
func TestGateway_ConcurrentWritesBecomeSiblings(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	tests := []struct {
		name  string
		setup bool // the key holds a value before the read
	}{
		{name: "existing key", setup: true},
		{name: "new key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "sib-" + tt.name
			if tt.setup {
				n.mustPut(t, key, "old", "")
			}
			read := n.get(t, key)
			ctx := read.header.Get("X-Dht-Context")
			if ctx == "" {
				t.Fatalf("GET %d has no context", read.status)
			}
			first := n.put(t, key, "from-a", ctx)
			second := n.put(t, key, "from-b", ctx)
			if first.status != http.StatusNoContent || second.status != http.StatusNoContent {
				t.Fatalf("PUTs = %d, %d, want 204, 204", first.status, second.status)
			}
			if got := first.header.Get("X-Dht-Siblings"); got != "1" {
				t.Errorf("first PUT X-Dht-Siblings = %q, want 1", got)
			}
			if got := second.header.Get("X-Dht-Siblings"); got != "2" {
				t.Errorf("second PUT X-Dht-Siblings = %q, want 2", got)
			}

			multi := n.get(t, key)
			values, sibs := decodeSiblings(t, multi)
			slices.Sort(values)
			if !slices.Equal(values, []string{"from-a", "from-b"}) {
				t.Fatalf("siblings = %q, want from-a and from-b", values)
			}
			for _, s := range sibs {
				if s.ContentType != "text/plain" || s.Timestamp.IsZero() {
					t.Errorf("sibling %+v: want content_type text/plain and a timestamp", s)
				}
			}
			merged := multi.header.Get("X-Dht-Context")
			if merged == "" {
				t.Fatal("300 answer has no X-Dht-Context")
			}

			resolve := n.put(t, key, "merged", merged)
			if resolve.status != http.StatusNoContent || resolve.header.Get("X-Dht-Siblings") != "1" {
				t.Fatalf("resolving PUT = %d siblings %q, want 204 with 1", resolve.status, resolve.header.Get("X-Dht-Siblings"))
			}
			n.wantValue(t, key, "merged")
		})
	}
}

// TestGateway_InterleavedWritersBoundSiblings runs two clients that each
// read then write back, 100 times, over HTTP. Whatever the interleaving, the
// key never holds more siblings than there are writers.
func TestGateway_InterleavedWritersBoundSiblings(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	const rounds = 100
	newClient := func(t *testing.T) *client.Client {
		c, err := client.New(n.base, client.WithHTTPClient(n.hc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// check reads key and returns its context, failing on more than 2
	// siblings.
	check := func(ctx context.Context, c *client.Client, key string) (string, error) {
		obj, err := c.Get(ctx, key, nil)
		if err != nil {
			return "", err
		}
		if len(obj.Siblings) > 2 {
			return "", fmt.Errorf("read saw %d siblings, want at most 2", len(obj.Siblings))
		}
		return obj.Context, nil
	}
	write := func(ctx context.Context, c *client.Client, key, value, rctx string) error {
		res, err := c.Put(ctx, key, []byte(value), &client.WriteOptions{Context: rctx})
		if err != nil {
			return err
		}
		if res.Siblings < 1 || res.Siblings > 2 {
			return fmt.Errorf("write left %d siblings, want 1 or 2", res.Siblings)
		}
		return nil
	}

	t.Run("lockstep", func(t *testing.T) {
		// Both read, then both write: every round is truly concurrent.
		ctx := t.Context()
		a, b := newClient(t), newClient(t)
		for i := range rounds {
			ca, err := check(ctx, a, "lockstep")
			if err != nil {
				t.Fatalf("round %d: a: %v", i, err)
			}
			cb, err := check(ctx, b, "lockstep")
			if err != nil {
				t.Fatalf("round %d: b: %v", i, err)
			}
			if err := write(ctx, a, "lockstep", "a"+strconv.Itoa(i), ca); err != nil {
				t.Fatalf("round %d: a: %v", i, err)
			}
			if err := write(ctx, b, "lockstep", "b"+strconv.Itoa(i), cb); err != nil {
				t.Fatalf("round %d: b: %v", i, err)
			}
		}
		obj, err := a.Get(ctx, "lockstep", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range obj.Siblings {
			got = append(got, string(s.Value))
		}
		slices.Sort(got)
		want := []string{"a" + strconv.Itoa(rounds-1), "b" + strconv.Itoa(rounds-1)}
		if !slices.Equal(got, want) {
			t.Errorf("final siblings = %q, want %q", got, want)
		}
	})

	t.Run("free running", func(t *testing.T) {
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, name := range []string{"a", "b"} {
			c := newClient(t)
			wg.Go(func() {
				for i := range rounds {
					rctx, err := check(ctx, c, "free")
					if err == nil {
						err = write(ctx, c, "free", name+strconv.Itoa(i), rctx)
					}
					if err != nil {
						errs <- fmt.Errorf("writer %s round %d: %w", name, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if _, err := check(ctx, newClient(t), "free"); err != nil {
			t.Errorf("final read: %v", err)
		}
	})
}

// TestGateway_DeleteConcurrentWithPut checks the add-wins view: deletes and
// writes based on the same read leave the written values visible and the
// tombstones hidden, whatever order they arrive in.
func TestGateway_DeleteConcurrentWithPut(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	tests := []struct {
		name string
		ops  []string // each a value to PUT, or "" to DELETE; all with the same context
		want []string // the values a read then shows, sorted
	}{
		{name: "put then delete", ops: []string{"new", ""}, want: []string{"new"}},
		{name: "delete then put", ops: []string{"", "new"}, want: []string{"new"}},
		{name: "two deletes then put", ops: []string{"", "", "new"}, want: []string{"new"}},
		{name: "put, delete, put", ops: []string{"new-a", "", "new-b"}, want: []string{"new-a", "new-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "race-" + tt.name
			ctx := n.mustPut(t, key, "old", "")
			for _, v := range tt.ops {
				if v != "" {
					n.mustPut(t, key, v, ctx)
				} else if d := n.del(t, key, ctx); d.status != http.StatusNoContent {
					t.Fatalf("DELETE = %d %q", d.status, d.body)
				}
			}
			get := n.get(t, key)
			var got []string
			if len(tt.want) == 1 {
				if get.status != http.StatusOK { // not a 300 listing the tombstone
					t.Fatalf("GET = %d %q, want 200 %q", get.status, get.body, tt.want[0])
				}
				got = []string{string(get.body)}
			} else {
				got, _ = decodeSiblings(t, get)
				slices.Sort(got)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("GET shows %q, want %q", got, tt.want)
			}

			// The read's context covers the hidden tombstones too: a write
			// with it leaves a single sibling, and a delete with it hides all.
			put := n.put(t, key, "final", get.header.Get("X-Dht-Context"))
			if put.status != http.StatusNoContent || put.header.Get("X-Dht-Siblings") != "1" {
				t.Fatalf("PUT = %d siblings %q, want 204 with 1", put.status, put.header.Get("X-Dht-Siblings"))
			}
			final := n.wantValue(t, key, "final")
			if d := n.del(t, key, final.header.Get("X-Dht-Context")); d.status != http.StatusNoContent {
				t.Fatalf("DELETE = %d %q", d.status, d.body)
			}
			if get := n.get(t, key); get.status != http.StatusNotFound {
				t.Fatalf("GET after the final DELETE = %d %q, want 404", get.status, get.body)
			}
		})
	}
}
