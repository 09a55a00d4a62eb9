package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/test/nodetest"
)

// testNode is one real node, started in-process on 127.0.0.1:0 with the
// memory engine, and an HTTP client that does not follow redirects (a
// redirect on the client API is a bug a test should see, not hide).
type testNode struct {
	node *node.Node
	base string
	hc   *http.Client
	cfg  config.Config
}

// startNode starts a single node (N=R=W=1, 16 partitions) after letting
// mutate adjust the config, and stops it when the test ends. Any panic the
// node's HTTP server recovers from fails the test.
func startNode(tb testing.TB, mutate func(*config.Config)) *testNode {
	tb.Helper()
	return startNodeWith(tb, mutate, node.Options{})
}

// startNodeWith is startNode with the node's options besides its config,
// listener and logger (a clock).
func startNodeWith(tb testing.TB, mutate func(*config.Config), opts node.Options) *testNode {
	tb.Helper()
	cfg := nodetest.Config(tb, "t1")
	cfg.Ring.Partitions = 16
	if mutate != nil {
		mutate(&cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	panics := &panicLog{}
	opts.Config, opts.HTTPListener, opts.Logger = cfg, ln, slog.New(panics)
	n, err := node.Start(opts)
	if err != nil {
		_ = ln.Close()
		tb.Fatalf("node.Start: %v", err)
	}
	// Cleanups run last-in first-out: the node stops before the panic check.
	tb.Cleanup(func() {
		if p := panics.seen(); len(p) > 0 {
			tb.Errorf("the node logged panics:\n%s", strings.Join(p, "\n"))
		}
	})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tb.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			tb.Errorf("node.Stop: %v", err)
		}
	})
	return &testNode{
		node: n,
		base: "http://" + n.HTTPAddr(),
		cfg:  cfg,
		hc: &http.Client{
			Transport:     tr,
			Timeout:       20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// panicLog is a slog handler that drops everything but records mentioning a
// panic (net/http logs "http: panic serving ..." when a handler panics).
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (*panicLog) Enabled(context.Context, slog.Level) bool { return true }

func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	if s := b.String(); strings.Contains(strings.ToLower(s), "panic") {
		p.mu.Lock()
		p.panics = append(p.panics, s)
		p.mu.Unlock()
	}
	return nil
}

func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

func (p *panicLog) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.panics...)
}

// response is a fully read HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// keyPath is the escaped path of key, escaped as package client does.
func keyPath(key string) string { return api.KVPath(key) }

// do sends method to target, an already escaped path with an optional query,
// exactly as given: no re-escaping or cleaning on the way.
func (n *testNode) do(tb testing.TB, method, target string, h http.Header, body []byte) response {
	tb.Helper()
	path, query, _ := strings.Cut(target, "?")
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, n.base+"/", r)
	if err != nil {
		tb.Fatal(err)
	}
	req.URL.Opaque = path // sent verbatim as the request-target's path
	req.URL.RawQuery = query
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := n.hc.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (n *testNode) get(tb testing.TB, key string) response {
	tb.Helper()
	return n.do(tb, http.MethodGet, keyPath(key), nil, nil)
}

// put writes value under key with ctx (none when empty) as text/plain.
func (n *testNode) put(tb testing.TB, key, value, ctx string) response {
	tb.Helper()
	h := http.Header{"Content-Type": {"text/plain"}}
	if ctx != "" {
		h.Set("X-Dht-Context", ctx)
	}
	return n.do(tb, http.MethodPut, keyPath(key), h, []byte(value))
}

func (n *testNode) del(tb testing.TB, key, ctx string) response {
	tb.Helper()
	h := http.Header{}
	if ctx != "" {
		h.Set("X-Dht-Context", ctx)
	}
	return n.do(tb, http.MethodDelete, keyPath(key), h, nil)
}

// mustPut writes and fails the test unless the write is acknowledged; it
// returns the new context.
func (n *testNode) mustPut(tb testing.TB, key, value, ctx string) string {
	tb.Helper()
	resp := n.put(tb, key, value, ctx)
	if resp.status != http.StatusNoContent {
		tb.Fatalf("PUT %q = %d %s, want 204", key, resp.status, resp.body)
	}
	return resp.header.Get("X-Dht-Context")
}

// wantValue fails the test unless key reads as exactly one value.
func (n *testNode) wantValue(tb testing.TB, key, want string) response {
	tb.Helper()
	resp := n.get(tb, key)
	if resp.status != http.StatusOK || string(resp.body) != want {
		tb.Fatalf("GET %q = %d %q, want 200 %q", key, resp.status, resp.body, want)
	}
	return resp
}

// errorJSON is the body of every error answer of the client API.
type errorJSON struct {
	Error         string `json:"error"`
	Code          string `json:"code"`
	Indeterminate bool   `json:"indeterminate"`
}

// decodeError fails the test unless resp carries a JSON error body.
func decodeError(tb testing.TB, resp response) errorJSON {
	tb.Helper()
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("error answer %d has Content-Type %q, want application/json (body %q)", resp.status, ct, resp.body)
	}
	var e errorJSON
	dec := json.NewDecoder(bytes.NewReader(resp.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		tb.Fatalf("error body %q: %v", resp.body, err)
	}
	if e.Error == "" || e.Code == "" {
		tb.Fatalf("error body %q lacks error or code", resp.body)
	}
	return e
}

// siblingJSON is one sibling of a 300 answer.
type siblingJSON struct {
	Value       string    `json:"value"`
	ContentType string    `json:"content_type"`
	Timestamp   time.Time `json:"timestamp"`
}

// decodeSiblings fails the test unless resp is a 300 with a sibling list;
// it returns the decoded values in the order given.
func decodeSiblings(tb testing.TB, resp response) ([]string, []siblingJSON) {
	tb.Helper()
	if resp.status != http.StatusMultipleChoices {
		tb.Fatalf("status %d %q, want 300", resp.status, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("300 answer has Content-Type %q, want application/json", ct)
	}
	var body struct {
		Siblings []siblingJSON `json:"siblings"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		tb.Fatalf("300 body %q: %v", resp.body, err)
	}
	values := make([]string, len(body.Siblings))
	for i, s := range body.Siblings {
		v, err := base64.StdEncoding.DecodeString(s.Value)
		if err != nil {
			tb.Fatalf("sibling %d value %q is not standard base64: %v", i, s.Value, err)
		}
		values[i] = string(v)
	}
	return values, body.Siblings
}
