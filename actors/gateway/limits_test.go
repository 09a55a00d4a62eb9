package gateway

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/quorum"
)

// kvConfig is a gateway config whose client API parses requests (the
// coordinator is never reached by the refusals these tests send).
func kvConfig() Config {
	return Config{
		Limits:   Limits{MaxKeyBytes: 64, MaxValueBytes: 32, MaxSiblings: 4},
		Defaults: quorum.Params{N: 1, R: 1, W: 1},
		Events:   testBus(),
	}
}

// rawRequest writes req on a new connection to addr and reads one answer.
func rawRequest(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, streamBound)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(streamBound))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, bufio.NewReader(conn))
}

func readAnswer(t *testing.T, r *bufio.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp, body
}

// wantJSONError fails t unless body is the gateway's JSON error with code,
// mentioning each of want.
func wantJSONError(t *testing.T, header http.Header, body []byte, code string, want ...string) {
	t.Helper()
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json (body %q)", ct, body)
	}
	var e struct{ Error, Code string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.Code != code {
		t.Errorf("code = %q, want %q (error %q)", e.Code, code, e.Error)
	}
	for _, w := range want {
		if !strings.Contains(e.Error, w) {
			t.Errorf("error %q does not mention %q", e.Error, w)
		}
	}
}

// chunked hides a reader's length, so that the request is sent chunked and
// only reading it finds how long it is.
type chunked struct{ io.Reader }

// TestGateway_BodyLimits checks how http.max_body_bytes and
// limits.max_value_bytes divide the work: every body is capped at the
// former, and a value over the latter is value_too_large however large.
func TestGateway_BodyLimits(t *testing.T) {
	t.Parallel()
	const maxBody = 64 // the value limit of kvConfig is 32
	tests := []struct {
		name     string
		maxBody  int64 // zero: maxBody
		method   string
		target   string
		body     io.Reader
		declared int64 // Content-Length sent; -1 sends the body chunked

		wantStatus int // 0: anything but 413 (past every limit)
		wantCode   string
		wantInMsg  []string
	}{
		{name: "value at the limit", method: "PUT", target: "/v1/kv/k", body: strings.NewReader(strings.Repeat("v", 32)), declared: 32},
		{name: "value at the limit, chunked", method: "PUT", target: "/v1/kv/k", body: chunked{strings.NewReader(strings.Repeat("v", 32))}, declared: -1},
		{name: "value over the limit, declared", method: "PUT", target: "/v1/kv/k", body: strings.NewReader(strings.Repeat("v", 33)), declared: 33,
			wantStatus: 413, wantCode: string(codeValueTooLarge), wantInMsg: []string{"limits.max_value_bytes", "32"}},
		{name: "value over both limits, declared", method: "PUT", target: "/v1/kv/k", body: strings.NewReader(""), declared: 3 << 30,
			wantStatus: 413, wantCode: string(codeValueTooLarge), wantInMsg: []string{"limits.max_value_bytes"}},
		{name: "value over the limit, chunked", method: "PUT", target: "/v1/kv/k", body: chunked{strings.NewReader(strings.Repeat("v", 1000))}, declared: -1,
			wantStatus: 413, wantCode: string(codeValueTooLarge), wantInMsg: []string{"limits.max_value_bytes"}},
		{name: "body cap below the value limit, chunked", maxBody: 16, method: "PUT", target: "/v1/kv/k", body: chunked{strings.NewReader(strings.Repeat("v", 20))}, declared: -1,
			wantStatus: 413, wantCode: string(codeBodyTooLarge), wantInMsg: []string{"http.max_body_bytes", "16"}},
		{name: "admin body over the cap, declared", method: "POST", target: "/admin/join", body: strings.NewReader(""), declared: 1 << 20,
			wantStatus: 413, wantCode: string(codeBodyTooLarge), wantInMsg: []string{"http.max_body_bytes", "1048576", "64"}},
		{name: "probe with a body over the cap", method: "GET", target: "/healthz", body: strings.NewReader(""), declared: 1000,
			wantStatus: 413, wantCode: string(codeBodyTooLarge)},
		{name: "admin body within the cap", method: "POST", target: "/admin/join", body: strings.NewReader(`{"node":"a"}`), declared: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := kvConfig()
			cfg.MaxBodyBytes = maxBody
			if tt.maxBody != 0 {
				cfg.MaxBodyBytes = tt.maxBody
			}
			req := httptest.NewRequest(tt.method, tt.target, tt.body)
			req.ContentLength = tt.declared
			req.Header.Set("Content-Type", "text/plain")
			if tt.method == "POST" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			newGatewayFor(cfg).Handler().ServeHTTP(rec, req)
			if tt.wantStatus == 0 {
				if rec.Code == http.StatusRequestEntityTooLarge {
					t.Fatalf("%s %s = 413 %q, want it past the limits", tt.method, tt.target, rec.Body)
				}
				return
			}
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s = %d %q, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.wantStatus)
			}
			if tt.wantCode != "" {
				wantJSONError(t, rec.Header(), rec.Body.Bytes(), tt.wantCode, tt.wantInMsg...)
			}
		})
	}
}

// TestGateway_HeaderLimit: a header block over MaxHeaderBytes is refused
// by net/http with 431 before any handler runs, rewritten as the API's
// JSON (servererrors.go); one under it is served.
// net/http allows 4 KiB of slack over the configured bound.
func TestGateway_HeaderLimit(t *testing.T) {
	t.Parallel()
	cfg := kvConfig()
	cfg.MaxHeaderBytes = 16 << 10
	_, base := startGateway(t, cfg)
	addr := strings.TrimPrefix(base, "http://")
	tests := []struct {
		name       string
		pad        int
		wantStatus int
	}{
		{name: "under the limit", pad: 8 << 10, wantStatus: http.StatusOK},
		{name: "over the limit", pad: 32 << 10, wantStatus: http.StatusRequestHeaderFieldsTooLarge},
		{name: "far over the limit", pad: 900 << 10, wantStatus: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: %s\r\n\r\n", strings.Repeat("p", tt.pad))
			resp, body := rawRequest(t, addr, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusRequestHeaderFieldsTooLarge {
				wantJSONError(t, resp.Header, body, string(codeHeadersTooLarge), "http.max_header_bytes")
			}
		})
	}
}

// TestGateway_IdleTimeout: the configured idle timeout reaches the server,
// and a keep-alive connection left idle is closed by it. Without the
// timeout (ReadTimeout is zero here) the connection would stay open and
// the read below would hit streamBound.
func TestGateway_IdleTimeout(t *testing.T) {
	t.Parallel()
	cfg := kvConfig()
	cfg.IdleTimeout = 50 * time.Millisecond
	g, base := startGateway(t, cfg)
	if g.srv.IdleTimeout != cfg.IdleTimeout {
		t.Fatalf("server IdleTimeout = %v, want %v", g.srv.IdleTimeout, cfg.IdleTimeout)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(streamBound))
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	if resp, body := readAnswer(t, r); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("keep-alive request = %d %q (close %v), want 200 kept alive", resp.StatusCode, body, resp.Close)
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("read on the idle connection = %v, want EOF (closed by the server)", err)
	}
}

// TestGateway_MaxConnections: with two connections open, the server does
// not accept a third; it does once one of the two closes.
func TestGateway_MaxConnections(t *testing.T) {
	t.Parallel()
	cfg := kvConfig()
	cfg.MaxConnections = 2
	g, base := startGateway(t, cfg)
	addr := strings.TrimPrefix(base, "http://")
	if g.limit == nil {
		t.Fatal("MaxConnections set, but the listener is not bounded")
	}
	const get = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
	open := func() (net.Conn, *bufio.Reader) {
		conn, err := net.DialTimeout("tcp", addr, streamBound)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(streamBound))
		if _, err := io.WriteString(conn, get); err != nil {
			t.Fatal(err)
		}
		return conn, bufio.NewReader(conn)
	}
	// Two connections, answered and kept alive: the bound is reached.
	c1, r1 := open()
	readAnswer(t, r1)
	_, r2 := open()
	readAnswer(t, r2)
	// The server's accept loop now waits for a slot, so a third
	// connection stays in the backlog with its request unanswered.
	waitUntil(t, func() bool { return g.limit.waiting.Load() == 1 })
	c3, r3 := open()
	_ = c3.SetReadDeadline(time.Now()) // answered already would mean accepted
	if _, err := r3.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the third connection was answered (%v) while two were open", err)
	}
	_ = c3.SetReadDeadline(time.Now().Add(streamBound))
	// Closing one lets the third in.
	_ = c1.Close()
	if resp, _ := readAnswer(t, r3); resp.StatusCode != http.StatusOK {
		t.Fatalf("third connection = %d, want 200", resp.StatusCode)
	}
	if peak := g.limit.peak.Load(); peak > 2 {
		t.Fatalf("%d connections were open at once, the bound is 2", peak)
	}
}
