package gateway_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/resolve"
	"github.com/dhtkv/dht/test/nodetest"
)

// logRecords keeps every log record as one line of text.
type logRecords struct {
	mu    sync.Mutex
	lines []string
}

func (*logRecords) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// matching returns the records containing every one of parts.
func (l *logRecords) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			out = append(out, line)
		}
	}
	return out
}

// startResolvingNode starts a node like startNode, with resolvers
// registered and its log kept.
func startResolvingNode(t *testing.T, mutate func(*config.Config), resolvers map[string]resolve.Resolver) (*testNode, *logRecords) {
	t.Helper()
	cfg := nodetest.Config(t, "r1")
	cfg.Ring.Partitions = 16
	cfg.Limits.MaxValueBytes = 1024
	mutate(&cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &logRecords{}
	n, err := node.Start(node.Options{Config: cfg, HTTPListener: ln, Logger: slog.New(logs), Resolvers: resolvers})
	if err != nil {
		_ = ln.Close()
		t.Fatalf("node.Start: %v", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("node.Stop: %v", err)
		}
	})
	return &testNode{node: n, base: "http://" + n.HTTPAddr(), cfg: cfg, hc: &http.Client{Transport: tr, Timeout: 20 * time.Second}}, logs
}

// concurrentPair writes base, then a and b both with base's context, so the
// key holds siblings a and b. It returns base's context.
func concurrentPair(t *testing.T, n *testNode, key, a, b string) string {
	t.Helper()
	ctx := n.mustPut(t, key, "base", "")
	n.mustPut(t, key, a, ctx)
	n.mustPut(t, key, b, ctx)
	return ctx
}

// storedSiblings reports how many siblings key holds, without a resolver
// in the way: a blind write adds one more sibling and says how many there
// are then.
func storedSiblings(t *testing.T, n *testNode, key string) int {
	t.Helper()
	resp := n.put(t, key, "probe", "")
	if resp.status != http.StatusNoContent {
		t.Fatalf("probe PUT = %d %s", resp.status, resp.body)
	}
	c, err := strconv.Atoi(resp.header.Get(gateway.SiblingsHeader))
	if err != nil {
		t.Fatal(err)
	}
	return c - 1
}

func TestGateway_ReadResolvesWithMergedContext(t *testing.T) {
	t.Parallel()
	n, _ := startResolvingNode(t, func(c *config.Config) { c.Resolution.Buckets = "lww/=lww" }, nil)

	concurrentPair(t, n, "lww/k", "a", "b")
	resp := n.get(t, "lww/k")
	if resp.status != http.StatusOK || (string(resp.body) != "a" && string(resp.body) != "b") {
		t.Fatalf("GET = %d %q, want 200 with a or b", resp.status, resp.body)
	}
	if by, count := resp.header.Get(gateway.ResolvedByHeader), resp.header.Get(gateway.ResolvedSiblingsHeader); by != "lww" || count != "2" {
		t.Errorf("resolved by %q from %q siblings, want lww from 2", by, count)
	}
	if ct := resp.header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type = %q, want the winner's text/plain", ct)
	}
	// The read changed nothing stored: both siblings are still there.
	if got := storedSiblings(t, n, "lww/k"); got != 2 {
		t.Fatalf("after the resolved read the key holds %d siblings, want 2", got)
	}

	// The resolved read's context covers every sibling (the probe too,
	// once read), so writing with it replaces them all.
	resp = n.get(t, "lww/k")
	ctx := resp.header.Get(gateway.ContextHeader)
	n.mustPut(t, "lww/k", "merged", ctx)
	got := n.wantValue(t, "lww/k", "merged")
	if by := got.header.Get(gateway.ResolvedByHeader); by != "" {
		t.Errorf("a single value was reported resolved by %q", by)
	}

	// Keys outside the bucket keep their siblings.
	concurrentPair(t, n, "other", "a", "b")
	if values, _ := decodeSiblings(t, n.get(t, "other")); len(values) != 2 {
		t.Errorf("outside the lww bucket: %q, want both siblings", values)
	}
}

func TestGateway_ReadResolvesToDelete(t *testing.T) {
	t.Parallel()
	del := resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
		return resolve.Resolution{Delete: true}, nil
	})
	n, _ := startResolvingNode(t, func(c *config.Config) { c.Resolution.Default = "del" }, map[string]resolve.Resolver{"del": del})
	concurrentPair(t, n, "k", "a", "b")
	resp := n.get(t, "k")
	if resp.status != http.StatusNotFound || resp.header.Get(gateway.ContextHeader) == "" {
		t.Fatalf("GET = %d (context %q), want 404 with a context", resp.status, resp.header.Get(gateway.ContextHeader))
	}
	if by := resp.header.Get(gateway.ResolvedByHeader); by != "del" {
		t.Errorf("resolved by %q, want del", by)
	}
}

// TestGateway_FailingResolverServesSiblings: whatever goes wrong in a
// resolver, the read answers 300 with every sibling and says why in a
// header; the failure is logged with key and bucket and counted; nothing
// stored changes.
func TestGateway_FailingResolverServesSiblings(t *testing.T) {
	t.Parallel()
	resolvers := map[string]resolve.Resolver{
		"panics": resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) { panic("boom\nsecond line") }),
		"fails": resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
			return resolve.Resolution{}, errors.New("no merge")
		}),
		"huge": resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
			return resolve.Resolution{Value: make([]byte, 4096)}, nil
		}),
		"badtype": resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
			return resolve.Resolution{Value: []byte("x"), ContentType: "\x00"}, nil
		}),
	}
	n, logs := startResolvingNode(t, func(c *config.Config) {
		c.Resolution.Buckets = "p/=panics,f/=fails,h/=huge,t/=badtype"
	}, resolvers)
	tests := []struct{ key, resolver, bucket, reason string }{
		{"p/k", "panics", "p/", resolve.ReasonPanic},
		{"f/k", "fails", "f/", resolve.ReasonError},
		{"h/k", "huge", "h/", resolve.ReasonInvalid},
		{"t/k", "badtype", "t/", resolve.ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.resolver, func(t *testing.T) {
			concurrentPair(t, n, tt.key, "a", "b")
			resp := n.get(t, tt.key)
			values, _ := decodeSiblings(t, resp)
			slices.Sort(values)
			if !slices.Equal(values, []string{"a", "b"}) {
				t.Errorf("siblings %q, want a and b", values)
			}
			if resp.header.Get(gateway.ContextHeader) == "" {
				t.Error("no context")
			}
			h := resp.header.Get(gateway.ResolverErrorHeader)
			for _, want := range []string{`resolver "` + tt.resolver + `"`, `bucket "` + tt.bucket + `"`, tt.reason} {
				if !strings.Contains(h, want) {
					t.Errorf("%s = %q, lacks %q", gateway.ResolverErrorHeader, h, want)
				}
			}
			if len(logs.matching("ERROR", "resolver failed", "key="+tt.key, "bucket="+tt.bucket, "resolver="+tt.resolver)) == 0 {
				t.Error("the failure was not logged at error level with key, bucket and resolver")
			}
			if got := failures(t, n, tt.resolver, tt.bucket, tt.reason); got < 1 {
				t.Errorf("dht_resolver_failures_total{resolver=%q,bucket=%q,reason=%q} = %v, want at least 1", tt.resolver, tt.bucket, tt.reason, got)
			}
			if got := storedSiblings(t, n, tt.key); got != 2 {
				t.Errorf("the key holds %d siblings after the failed resolution, want 2", got)
			}
		})
	}
}

// failures reads the failure counter from the node's /metrics.
func failures(t *testing.T, n *testNode, resolver, bucket, reason string) float64 {
	t.Helper()
	families, err := n.node.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "dht_resolver_failures_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["resolver"] == resolver && labels["bucket"] == bucket && labels["reason"] == reason && labels["path"] == "read" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestGateway_ResolverErrorHeaderIsOneLine(t *testing.T) {
	t.Parallel()
	panics := resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
		panic(strings.Repeat("é\r\n", 1000))
	})
	n, _ := startResolvingNode(t, func(c *config.Config) { c.Resolution.Default = "p" }, map[string]resolve.Resolver{"p": panics})
	concurrentPair(t, n, "k", "a", "b")
	resp := n.get(t, "k")
	if resp.status != http.StatusMultipleChoices {
		t.Fatalf("GET = %d, want 300", resp.status)
	}
	h := resp.header.Get(gateway.ResolverErrorHeader)
	if h == "" || len(h) > 512 || strings.IndexFunc(h, func(r rune) bool { return r < 0x20 || r >= 0x7f }) >= 0 {
		t.Errorf("header %q (%d bytes): want one line of printable ASCII, at most 512 bytes", h, len(h))
	}
}
