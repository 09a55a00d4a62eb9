package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/test/testutil"
)

// putTTL writes value under key with ?ttl= and the extra headers.
func (n *testNode) putTTL(tb testing.TB, key, value, ttl string, kv ...string) response {
	tb.Helper()
	h := withHeaders(http.Header{"Content-Type": {"text/plain"}}, kv...)
	return n.do(tb, http.MethodPut, keyPath(key)+"?ttl="+ttl, h, []byte(value))
}

// wantExpires fails unless resp carries X-Dht-Expires within a second
// after want (the node's clock moves on between the test's reading and
// the write; expiries are whole milliseconds).
func wantExpires(tb testing.TB, resp response, want time.Time) time.Time {
	tb.Helper()
	raw := resp.header.Get("X-Dht-Expires")
	got, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		tb.Fatalf("X-Dht-Expires %q: %v", raw, err)
	}
	if got.Location() != time.UTC {
		tb.Errorf("X-Dht-Expires %q is not UTC", raw)
	}
	// Expiries are kept to the millisecond.
	if d := got.Sub(want); d < -time.Millisecond || d > time.Second {
		tb.Fatalf("X-Dht-Expires %s, want about %s", got, want)
	}
	return got
}

func TestGateway_TTL(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	n := startNodeWith(t, nil, node.Options{Now: clock.Now})

	start := clock.Now()
	put := n.putTTL(t, "k", "v", "30s")
	if put.status != http.StatusNoContent {
		t.Fatalf("PUT ?ttl=30s = %d %s", put.status, put.body)
	}
	expires := wantExpires(t, put, start.Add(30*time.Second))

	get := n.wantValue(t, "k", "v")
	if got := wantExpires(t, get, start.Add(30*time.Second)); !got.Equal(expires) {
		t.Fatalf("GET X-Dht-Expires %s, PUT said %s", got, expires)
	}
	head := n.do(t, http.MethodHead, keyPath("k"), nil, nil)
	if head.status != http.StatusOK || head.header.Get("X-Dht-Expires") != put.header.Get("X-Dht-Expires") {
		t.Fatalf("HEAD = %d X-Dht-Expires %q, want 200 %q", head.status, head.header.Get("X-Dht-Expires"), put.header.Get("X-Dht-Expires"))
	}
	// Before the expiry the key holds a live value.
	if resp := n.putIf(t, "k", "w", "If-None-Match", "*"); resp.status != http.StatusPreconditionFailed {
		t.Fatalf("If-None-Match: * before the expiry = %d %s, want 412", resp.status, resp.body)
	}

	clock.Advance(31 * time.Second)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		if resp := n.do(t, method, keyPath("k"), nil, nil); resp.status != http.StatusNotFound || resp.header.Get("X-Dht-Expires") != "" {
			t.Fatalf("%s after the expiry = %d (X-Dht-Expires %q), want 404 without it", method, resp.status, resp.header.Get("X-Dht-Expires"))
		}
	}
	// A delete without a context finds nothing to delete.
	if resp := n.del(t, "k", ""); resp.status != http.StatusNotFound {
		t.Fatalf("DELETE after the expiry = %d %s, want 404", resp.status, resp.body)
	}
	// An expired value is absent to If-None-Match: *, and the write
	// replaces it.
	if resp := n.putIf(t, "k", "w", "If-None-Match", "*"); resp.status != http.StatusNoContent || resp.header.Get("X-Dht-Siblings") != "1" {
		t.Fatalf("If-None-Match: * after the expiry = %d %s (siblings %s), want 204 and 1", resp.status, resp.body, resp.header.Get("X-Dht-Siblings"))
	}
	if resp := n.wantValue(t, "k", "w"); resp.header.Get("X-Dht-Expires") != "" {
		t.Fatalf("a value written without ttl has X-Dht-Expires %q", resp.header.Get("X-Dht-Expires"))
	}
}

// Concurrent siblings with different TTLs expire one by one; the 300 names
// each one's expiry.
func TestGateway_TTLSiblings(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	n := startNodeWith(t, nil, node.Options{Now: clock.Now})

	start := clock.Now()
	for _, w := range []struct{ value, ttl string }{{"short", "10s"}, {"long", "1h"}} {
		if resp := n.putTTL(t, "s", w.value, w.ttl); resp.status != http.StatusNoContent {
			t.Fatalf("PUT %s = %d %s", w.value, resp.status, resp.body)
		}
	}
	if resp := n.put(t, "s", "forever", ""); resp.status != http.StatusNoContent {
		t.Fatalf("PUT forever = %d %s", resp.status, resp.body)
	}
	resp := n.get(t, "s")
	if resp.status != http.StatusMultipleChoices {
		t.Fatalf("GET = %d %s, want 300", resp.status, resp.body)
	}
	wantExpires(t, resp, start.Add(10*time.Second)) // the earliest
	var body api.Siblings
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatal(err)
	}
	got := map[string]*time.Time{}
	for _, s := range body.Siblings {
		got[string(s.Value)] = s.Expires
	}
	if len(got) != 3 || got["short"] == nil || got["long"] == nil || got["forever"] != nil {
		t.Fatalf("siblings' expiries %v, want short and long to expire, forever not", got)
	}

	clock.Advance(11 * time.Second)
	resp = n.get(t, "s")
	if resp.status != http.StatusMultipleChoices {
		t.Fatalf("GET after the short expiry = %d %s, want 300 with long and forever", resp.status, resp.body)
	}
	body = api.Siblings{}
	if err := json.Unmarshal(resp.body, &body); err != nil || len(body.Siblings) != 2 {
		t.Fatalf("siblings after the short expiry: %s (%v)", resp.body, err)
	}
	wantExpires(t, resp, start.Add(time.Hour))

	clock.Advance(time.Hour)
	if resp := n.wantValue(t, "s", "forever"); resp.header.Get("X-Dht-Expires") != "" {
		t.Fatalf("X-Dht-Expires %q on a value that never expires", resp.header.Get("X-Dht-Expires"))
	}
}
