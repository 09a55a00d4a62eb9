package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
)

// TestGateway_KeysRoundTripThroughClient writes, reads and deletes keys
// that path handling likes to change ("." and "..", slashes, '%', spaces,
// unicode) through the Go client, which escapes them with api.EscapeKey:
// every one reaches the node as itself, with no redirect on the way.
func TestGateway_KeysRoundTripThroughClient(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	// n.hc refuses redirects: one would fail the call, not be followed.
	c, err := client.New(n.base, client.WithHTTPClient(n.hc), client.WithRetry(client.NoRetry()))
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{".", "..", "...", "./", "/.", "a/./b", "a/../b", "../x", "a/b", "/", "//", "a%2Fb", "%", "100%", "%ZZ",
		"a b", " ", "é€", "ключ/值/🔑", "?q=1#f", "\x00\xff"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, k := range keys {
		value := []byte("value-" + strconv.Itoa(i))
		if _, err := c.Put(ctx, k, value, nil); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	for i, k := range keys {
		t.Run(strconv.Quote(k), func(t *testing.T) {
			obj, err := c.Get(ctx, k, nil)
			if err != nil {
				t.Fatalf("Get(%q): %v", k, err)
			}
			if want := "value-" + strconv.Itoa(i); !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != want {
				t.Fatalf("Get(%q) = %+v, want the one value %q: another key's?", k, obj.Siblings, want)
			}
			if _, err := c.Delete(ctx, k, &client.WriteOptions{Context: obj.Context}); err != nil {
				t.Fatalf("Delete(%q): %v", k, err)
			}
			if obj, err := c.Get(ctx, k, nil); err != nil || obj.Found {
				t.Fatalf("Get(%q) after its delete = %+v, %v, want not found", k, obj, err)
			}
		})
	}
}

// TestGateway_ValueLikeServerErrorIsKept stores values that hold net/http's
// own error answer, byte for byte, at the start, alone and past the
// server's write buffer: the answers that carry them are a handler's, and
// are never rewritten as JSON (servererrors.go).
func TestGateway_ValueLikeServerErrorIsKept(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	const serverError = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	for name, value := range map[string]string{
		"alone":             serverError,
		"after 4 KiB":       strings.Repeat("x", 4096) + serverError,
		"after 8 KiB - 200": strings.Repeat("x", 8192-200) + serverError,
	} {
		t.Run(name, func(t *testing.T) {
			key := "looks-like-" + strings.ReplaceAll(name, " ", "-")
			resp := n.do(t, http.MethodPut, keyPath(key), http.Header{"Content-Type": {"text/plain"}}, []byte(value))
			if resp.status != http.StatusNoContent {
				t.Fatalf("PUT = %d %q", resp.status, resp.body)
			}
			got := n.get(t, key)
			if got.status != http.StatusOK || !bytes.Equal(got.body, []byte(value)) {
				t.Fatalf("GET = %d, %d bytes, want 200 and the %d bytes stored", got.status, len(got.body), len(value))
			}
		})
	}
}
