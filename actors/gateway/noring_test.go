package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/metrics"
)

// TestGateway_NoRingYetIs503SayingSo sends reads, writes and deletes to a
// node that knows no partition table yet (still joining). Each is a 503
// with Retry-After that says the node has no table, not that replicas are
// unreachable; none reaches a coordinator (the gateway has none: a request
// that got that far would fail differently). Once the table is known the
// check lets requests through, unless the node says its table may be stale
// (restarted, no peer's ring merged yet).
func TestGateway_NoRingYetIs503SayingSo(t *testing.T) {
	t.Parallel()
	view := &fakeView{}
	g := New(Config{Partitions: 4, RequestTimeout: 200 * time.Millisecond, Defaults: quorum.Params{N: 3, R: 2, W: 2},
		Limits: Limits{MaxKeyBytes: 64, MaxValueBytes: 64, MaxSiblings: 4}, Metrics: metrics.New(),
		Cluster: view, Self: "joiner", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req := httptest.NewRequest(method, api.KVPath("k"), strings.NewReader("v"))
		req.Header.Set("Content-Type", "text/plain")
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, req)
		var e api.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s: body %q is not a JSON error: %v", method, rec.Body, err)
		}
		if rec.Code != http.StatusServiceUnavailable || e.Code != api.CodeUnavailable ||
			!strings.Contains(e.Error, "joiner has no partition table yet") || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s without a table = %d %+v (Retry-After %q), want 503 unavailable naming the missing table, with Retry-After",
				method, rec.Code, e, rec.Header().Get("Retry-After"))
		}
	}
	view.ring = RingInfo{Partitions: 4, N: 1, Version: 1, Replicas: [][]string{{"joiner"}, {"joiner"}, {"joiner"}, {"joiner"}}}
	if err := g.noRing(httptest.NewRecorder()); err != nil {
		t.Fatalf("with a table: %v, want the request let through", err)
	}

	// A table stored before a restart that no peer's has been merged
	// into yet is refused the same way, naming the reason.
	stale := errors.New("it has not merged a live peer's ring since it started")
	g.cfg.RingStale = func() error { return stale }
	rec := httptest.NewRecorder()
	if err := g.noRing(rec); err == nil || err.status != http.StatusServiceUnavailable ||
		!strings.Contains(err.msg, "may route by an old partition table: "+stale.Error()) || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("with a stale table: %+v, want 503 naming the stale table, with Retry-After", err)
	}
	g.cfg.RingStale = func() error { return nil }
	if err := g.noRing(httptest.NewRecorder()); err != nil {
		t.Fatalf("once merged: %v, want the request let through", err)
	}
}
