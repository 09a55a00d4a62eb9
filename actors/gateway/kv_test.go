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

func TestGateway_PutThenGet(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	tests := []struct {
		name        string
		key         string
		value       string
		contentType string // sent; "" sends none
		wantType    string
	}{
		{name: "text", key: "greeting", value: "hello", contentType: "text/plain", wantType: "text/plain"},
		{name: "type with parameters", key: "doc", value: `{"a":1}`, contentType: "application/json; charset=utf-8", wantType: "application/json; charset=utf-8"},
		{name: "no content type", key: "blob", value: "\x00\x01\xff", wantType: "application/octet-stream"},
		{name: "empty value", key: "empty", value: "", contentType: "text/plain", wantType: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			put := n.do(t, http.MethodPut, keyPath(tt.key), h, []byte(tt.value))
			if put.status != http.StatusNoContent {
				t.Fatalf("PUT = %d %q, want 204", put.status, put.body)
			}
			if len(put.body) != 0 {
				t.Errorf("PUT body = %q, want none", put.body)
			}
			if put.header.Get("X-Dht-Context") == "" {
				t.Error("PUT answer has no X-Dht-Context")
			}
			if got := put.header.Get("X-Dht-Siblings"); got != "1" {
				t.Errorf("PUT X-Dht-Siblings = %q, want 1", got)
			}

			get := n.wantValue(t, tt.key, tt.value)
			if got := get.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("GET Content-Type = %q, want %q", got, tt.wantType)
			}
			if get.header.Get("X-Dht-Context") == "" {
				t.Error("GET answer has no X-Dht-Context")
			}
			if _, err := http.ParseTime(get.header.Get("Last-Modified")); err != nil {
				t.Errorf("GET Last-Modified %q: %v", get.header.Get("Last-Modified"), err)
			}
		})
	}
}

// TestGateway_PutWithContextReplaces checks the ordinary read-modify-write
// cycle: a write carrying the previous write's context overwrites it.
func TestGateway_PutWithContextReplaces(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	ctx := ""
	for i := range 5 {
		ctx = n.mustPut(t, "counter", strconv.Itoa(i), ctx)
		n.wantValue(t, "counter", strconv.Itoa(i))
	}
}

// TestGateway_KeysRoundTrip writes every key first and reads them all back
// afterwards, so two keys that the gateway confused would read each other's
// value.
func TestGateway_KeysRoundTrip(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	keys := []string{
		"plain",
		"a/b",
		"a//b",
		"/leading",
		"trailing/",
		"a/./b",
		"a/../b",
		".",
		"..",
		"a b",
		"a+b",
		"a%2Fb", // a literal percent sign: not the key "a/b"
		"a?b#c",
		"ключ/值/🔑",
		"\x00",
		"\xff\xfe raw \x80 bytes",
		"A", "a",
	}
	for i, k := range keys {
		t.Run("put "+strconv.Quote(k), func(t *testing.T) {
			n.mustPut(t, k, "value-"+strconv.Itoa(i), "")
		})
	}
	for i, k := range keys {
		t.Run("get "+strconv.Quote(k), func(t *testing.T) {
			n.wantValue(t, k, "value-"+strconv.Itoa(i))
		})
	}
}

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

func TestGateway_DeleteHidesValue(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	ctx := n.mustPut(t, "doomed", "v1", "")
	del := n.del(t, "doomed", ctx)
	if del.status != http.StatusNoContent || del.header.Get("X-Dht-Context") == "" {
		t.Fatalf("DELETE = %d %q (context %q), want 204 with a context", del.status, del.body, del.header.Get("X-Dht-Context"))
	}

	var notFoundCtx string
	for i := range 2 { // a second read must not resurrect the value
		get := n.get(t, "doomed")
		if get.status != http.StatusNotFound {
			t.Fatalf("GET %d after DELETE = %d %q, want 404", i, get.status, get.body)
		}
		e := decodeError(t, get)
		if e.Error != "not found" || e.Code != "not_found" {
			t.Errorf("404 body = %+v, want error \"not found\" code not_found", e)
		}
		if notFoundCtx = get.header.Get("X-Dht-Context"); notFoundCtx == "" {
			t.Fatal("404 of a deleted key has no X-Dht-Context")
		}
	}

	put := n.put(t, "doomed", "reborn", notFoundCtx)
	if put.status != http.StatusNoContent || put.header.Get("X-Dht-Siblings") != "1" {
		t.Fatalf("PUT with the 404's context = %d siblings %q, want 204 with 1 (the tombstone superseded)",
			put.status, put.header.Get("X-Dht-Siblings"))
	}
	n.wantValue(t, "doomed", "reborn")
}

func TestGateway_GetMissingKey(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	get := n.get(t, "never-written")
	if get.status != http.StatusNotFound {
		t.Fatalf("GET = %d %q, want 404", get.status, get.body)
	}
	if e := decodeError(t, get); e.Code != "not_found" {
		t.Errorf("code = %q, want not_found", e.Code)
	}
	if get.header.Get("X-Dht-Context") == "" {
		t.Error("404 has no X-Dht-Context")
	}
	// The empty context of a missing key is a valid context to write with.
	n.mustPut(t, "never-written", "first", get.header.Get("X-Dht-Context"))
	n.wantValue(t, "never-written", "first")
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

// TestGateway_ContextIsOpaqueAndStable checks that a context is URL-safe
// and that reading twice without writes hands out the same token.
func TestGateway_ContextIsOpaqueAndStable(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	n.mustPut(t, "k", "v", "")
	a := n.get(t, "k").header.Get("X-Dht-Context")
	b := n.get(t, "k").header.Get("X-Dht-Context")
	if a == "" || a != b {
		t.Fatalf("contexts %q and %q, want equal and non-empty", a, b)
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			t.Fatalf("context %q holds %q, want unpadded base64url", a, r)
		}
	}
}
