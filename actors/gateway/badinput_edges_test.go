package gateway_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dhtkv/dht/config"
)

// TestGateway_LimitsAreInclusive checks that a key and a value of exactly
// the configured size are accepted.
func TestGateway_LimitsAreInclusive(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *config.Config) {
		c.Limits.MaxKeyBytes = testMaxKeyBytes
		c.Limits.MaxValueBytes = testMaxValueBytes
	})
	tests := []struct{ name, key, value string }{
		{name: "longest key", key: strings.Repeat("k", testMaxKeyBytes), value: "v"},
		{name: "longest key in multi-byte runes", key: strings.Repeat("é", testMaxKeyBytes/2), value: "v"},
		{name: "largest value", key: "big", value: strings.Repeat("v", testMaxValueBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.mustPut(t, tt.key, tt.value, "")
			n.wantValue(t, tt.key, tt.value)
		})
	}
}

// TestGateway_InvalidPercentEncoding sends a path that is not valid
// percent-encoding. net/http refuses such a request line before any handler
// runs; its plain-text 400 is rewritten on the way out (servererrors.go) as
// the 400 bad_key a handler would have answered, and nothing changes.
func TestGateway_InvalidPercentEncoding(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	n.mustPut(t, "a", "original", "")
	for _, target := range []string{"/v1/kv/%zz", "/v1/kv/a%", "/v1/kv/a%2", "/v1/kv/%G0"} {
		t.Run(target, func(t *testing.T) {
			resp := n.do(t, http.MethodPut, target, http.Header{"Content-Type": {"text/plain"}}, []byte("x"))
			if resp.status != http.StatusBadRequest {
				t.Fatalf("PUT %s = %d %q, want 400", target, resp.status, resp.body)
			}
			if e := decodeError(t, resp); e.Code != "bad_key" || !strings.Contains(e.Error, "percent-encoding") {
				t.Errorf("PUT %s answered %+v, want bad_key about percent-encoding", target, e)
			}
			n.wantValue(t, "a", "original")
		})
	}
}

// TestGateway_TooManySiblings sets max_siblings to 2: a third concurrent
// write is refused with 409, and the two siblings already there stay.
func TestGateway_TooManySiblings(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *config.Config) { c.Limits.MaxSiblings = 2 })
	n.mustPut(t, "crowded", "one", "")
	n.mustPut(t, "crowded", "two", "")
	before := n.get(t, "crowded")

	tests := []struct {
		name   string
		method string
	}{
		{name: "blind put", method: http.MethodPut},
		// A DELETE without a context is no longer a third sibling: it
		// reads the key first and replaces both
		// (TestGateway_DeleteWithoutContextDeletes).
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp response
			if tt.method == http.MethodPut {
				resp = n.put(t, "crowded", "three", "")
			} else {
				resp = n.del(t, "crowded", "")
			}
			if resp.status != http.StatusConflict {
				t.Fatalf("third write = %d %q, want 409", resp.status, resp.body)
			}
			e := decodeError(t, resp)
			if e.Code != "too_many_siblings" {
				t.Errorf("code = %q, want too_many_siblings", e.Code)
			}
			if !strings.Contains(e.Error, "context") {
				t.Errorf("error %q does not tell how to resolve (read, write back with the context)", e.Error)
			}
			after := n.get(t, "crowded")
			values, _ := decodeSiblings(t, after)
			slices.Sort(values)
			if !slices.Equal(values, []string{"one", "two"}) {
				t.Errorf("siblings after the refused write = %q, want one and two", values)
			}
			if a, b := after.header.Get("X-Dht-Context"), before.header.Get("X-Dht-Context"); a != b {
				t.Errorf("context changed from %q to %q by a refused write", b, a)
			}
		})
	}

	t.Run("resolving write is allowed", func(t *testing.T) {
		ctx := n.get(t, "crowded").header.Get("X-Dht-Context")
		n.mustPut(t, "crowded", "resolved", ctx)
		n.wantValue(t, "crowded", "resolved")
	})
}
