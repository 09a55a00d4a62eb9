package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGateway_ServerErrorsAreJSON sends requests that net/http refuses
// before any handler runs, over a real listener: each answer is the API's
// JSON error, and says what was wrong.
func TestGateway_ServerErrorsAreJSON(t *testing.T) {
	t.Parallel()
	cfg := kvConfig()
	cfg.MaxHeaderBytes = 4 << 10
	_, base := startGateway(t, cfg)
	addr := strings.TrimPrefix(base, "http://")
	tests := []struct {
		name       string
		req        string
		wantStatus int
		wantCode   string
		wantInMsg  []string
	}{
		{name: "key not valid percent-encoding", req: "GET /v1/kv/%ZZ HTTP/1.1\r\nHost: t\r\n\r\n",
			wantStatus: 400, wantCode: "bad_key", wantInMsg: []string{"percent-encoding", "%ZZ"}},
		{name: "key cut short in an escape", req: "PUT /v1/kv/a%2 HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
			wantStatus: 400, wantCode: "bad_key", wantInMsg: []string{"percent-encoding"}},
		{name: "key with a query", req: "GET /v1/kv/%G0?r=1 HTTP/1.1\r\nHost: t\r\n\r\n",
			wantStatus: 400, wantCode: "bad_key"},
		{name: "HTTP/1.0", req: "GET /v1/kv/%zz HTTP/1.0\r\n\r\n",
			wantStatus: 400, wantCode: "bad_key"},
		{name: "other path not valid percent-encoding", req: "GET /admin/%zz HTTP/1.1\r\nHost: t\r\n\r\n",
			wantStatus: 400, wantCode: "bad_request", wantInMsg: []string{"/admin/%zz", "invalid URL escape"}},
		{name: "no Host", req: "GET /healthz HTTP/1.1\r\n\r\n",
			wantStatus: 400, wantCode: "bad_request", wantInMsg: []string{"missing required Host header"}},
		{name: "garbage request line", req: "HELLO\r\n\r\n",
			wantStatus: 400, wantCode: "bad_request", wantInMsg: []string{"malformed"}},
		{name: "unknown transfer coding", req: "PUT /v1/kv/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
			wantStatus: 501, wantCode: "bad_request", wantInMsg: []string{"transfer encoding"}},
		{name: "headers over the limit", req: fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", strings.Repeat("p", 16<<10)),
			wantStatus: 431, wantCode: "headers_too_large", wantInMsg: []string{"http.max_header_bytes"}},
		{name: "unknown path", req: "GET / HTTP/1.1\r\nHost: t\r\n\r\n",
			wantStatus: 404, wantCode: "unknown_path"},
		{name: "dot key sent raw", req: "GET /v1/kv/. HTTP/1.1\r\nHost: t\r\n\r\n",
			wantStatus: 400, wantCode: "bad_key", wantInMsg: []string{"%2E"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawRequest(t, addr, tt.req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no X-Content-Type-Options: nosniff")
			}
			wantJSONError(t, resp.Header, body, tt.wantCode, tt.wantInMsg...)
		})
	}
}

// TestGateway_ServerErrorAfterKeepAlive: on a connection that has already
// been answered, a bad request is still answered in JSON, and the good
// answers before it are untouched.
func TestGateway_ServerErrorAfterKeepAlive(t *testing.T) {
	t.Parallel()
	_, base := startGateway(t, kvConfig())
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), streamBound)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(streamBound))
	r := bufio.NewReader(conn)
	for range 2 {
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
		resp, body := readAnswer(t, r)
		if resp.StatusCode != 200 || string(body) != "ok\n" {
			t.Fatalf("GET /healthz = %d %q", resp.StatusCode, body)
		}
	}
	fmt.Fprintf(conn, "GET /v1/kv/%%zz HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, body := readAnswer(t, r)
	if resp.StatusCode != 400 {
		t.Fatalf("bad key after keep-alive = %d %q", resp.StatusCode, body)
	}
	wantJSONError(t, resp.Header, body, "bad_key", "percent-encoding")
}

// TestGateway_ServerErrorPipelined: a bad request sent in one write behind
// a good one is read before the good one is answered, so the connection
// cannot tell which request line was bad; the answer is still JSON.
func TestGateway_ServerErrorPipelined(t *testing.T) {
	t.Parallel()
	_, base := startGateway(t, kvConfig())
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), streamBound)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(streamBound))
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/kv/%%zz HTTP/1.1\r\nHost: t\r\n\r\n")
	r := bufio.NewReader(conn)
	if resp, body := readAnswer(t, r); resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("GET /healthz = %d %q", resp.StatusCode, body)
	}
	resp, body := readAnswer(t, r)
	if resp.StatusCode != 400 {
		t.Fatalf("pipelined bad key = %d %q", resp.StatusCode, body)
	}
	wantJSONError(t, resp.Header, body, "bad_request")
}

// TestGateway_MetricsListenerServerErrors: the metrics listener's own
// errors are JSON too.
func TestGateway_MetricsListenerServerErrors(t *testing.T) {
	t.Parallel()
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kvConfig()
	cfg.MetricsListener = ml
	startGateway(t, cfg)
	resp, body := rawRequest(t, ml.Addr().String(), "GET /metrics/%zz HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("status %d %q, want 400", resp.StatusCode, body)
	}
	wantJSONError(t, resp.Header, body, "bad_request", "invalid URL escape")
	resp, body = rawRequest(t, ml.Addr().String(), "GET /v1/kv/a HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp.StatusCode != 404 {
		t.Fatalf("status %d %q, want 404", resp.StatusCode, body)
	}
	wantJSONError(t, resp.Header, body, "unknown_path")
}

func TestJSONServerError(t *testing.T) {
	limits := Limits{MaxKeyBytes: 64}
	serverError := func(statusLine, text string) string {
		return "HTTP/1.1 " + statusLine + serverErrorHeaders + text
	}
	tests := []struct {
		name       string
		write      string
		head       string
		wantStatus int // 0: not rewritten
		wantCode   string
		wantMsg    string
	}{
		{name: "431", write: serverError("431 Request Header Fields Too Large", "431 Request Header Fields Too Large"),
			wantStatus: 431, wantCode: "headers_too_large"},
		{name: "400 with a reason", write: serverError("400 Bad Request: missing required Host header", "400 Bad Request: missing required Host header"),
			wantStatus: 400, wantCode: "bad_request", wantMsg: "bad request: missing required Host header"},
		{name: "400 of a bad key", write: serverError("400 Bad Request", "400 Bad Request"), head: "GET /v1/kv/%zz HTTP/1.1\r\nHost: t",
			wantStatus: 400, wantCode: "bad_key", wantMsg: `key is not valid percent-encoding: invalid URL escape "%zz"`},
		{name: "400 of a bad path", write: serverError("400 Bad Request", "400 Bad Request"), head: "GET /a%zz HTTP/1.1\n",
			wantStatus: 400, wantCode: "bad_request", wantMsg: `bad request target "/a%zz": invalid URL escape "%zz"`},
		{name: "400 without the request line", write: serverError("400 Bad Request", "400 Bad Request"), head: "GET /v1/kv/%zz",
			wantStatus: 400, wantCode: "bad_request", wantMsg: "malformed HTTP request"},
		{name: "400 of a good target", write: serverError("400 Bad Request", "400 Bad Request"), head: "GET /v1/kv/a HTTP/1.1\r\n",
			wantStatus: 400, wantCode: "bad_request", wantMsg: "malformed HTTP request"},
		{name: "505", write: serverError("505 HTTP Version Not Supported: unsupported protocol version", "505 HTTP Version Not Supported: unsupported protocol version"),
			wantStatus: 505, wantCode: "bad_request", wantMsg: "unsupported protocol version"},
		{name: "a handler's response", write: "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n"},
		{name: "a 2xx in the error format", write: serverError("200 OK", "fine")},
		{name: "an HTTP/1.0 status line", write: "HTTP/1.0 400 Bad Request" + serverErrorHeaders + "x"},
		{name: "the format inside a body", write: "value: " + serverError("400 Bad Request", "400 Bad Request")},
		{name: "a short status line", write: "HTTP/1.1 40" + serverErrorHeaders},
		{name: "empty", write: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := jsonServerError([]byte(tt.write), []byte(tt.head), limits)
			if tt.wantStatus == 0 {
				if ok {
					t.Fatalf("rewritten as %q", out)
				}
				return
			}
			if !ok {
				t.Fatal("not rewritten")
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(out))), nil)
			if err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tt.wantStatus || !resp.Close {
				t.Errorf("status %d, close %v; want %d, close", resp.StatusCode, resp.Close, tt.wantStatus)
			}
			var want []string
			if tt.wantMsg != "" {
				want = append(want, tt.wantMsg)
			}
			wantJSONError(t, resp.Header, []byte(body), tt.wantCode, want...)
		})
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if int64(b.Len()) != resp.ContentLength {
		t.Errorf("body of %d bytes, Content-Length %d", b.Len(), resp.ContentLength)
	}
	return b.String()
}

// FuzzRequestLineError feeds the start of a request, as a client sent it,
// to the explanation of a refused request line: it must never panic, and
// whatever it says is a 400.
func FuzzRequestLineError(f *testing.F) {
	for _, s := range []string{"GET /v1/kv/%zz HTTP/1.1\r\n", "GET /%", "\n", " / \n", "GET /v1/kv/%ZZ?%zz HTTP/1.1\n", "PUT  /v1/kv/a%2 HTTP/1.1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		if e := requestLineError(head, Limits{MaxKeyBytes: 64}); e != nil && e.status != http.StatusBadRequest {
			t.Fatalf("status %d for %q", e.status, head)
		}
	})
}

// TestJSONErrorsConn_OnlyOutsideHandlers: the same bytes are rewritten
// when no handler runs on the connection, and passed unchanged once one
// does, until the connection is idle again.
func TestJSONErrorsConn_OnlyOutsideHandlers(t *testing.T) {
	serverError := "HTTP/1.1 400 Bad Request" + serverErrorHeaders + "400 Bad Request"
	write := func(c *jsonErrorsConn, peer net.Conn) string {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, 4096)
			n, _ := peer.Read(buf)
			got <- string(buf[:n])
		}()
		if n, err := c.Write([]byte(serverError)); err != nil || n != len(serverError) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		return <-got
	}
	inner, peer := net.Pipe()
	defer inner.Close()
	defer peer.Close()
	c := &jsonErrorsConn{Conn: inner}
	if got := write(c, peer); !strings.Contains(got, "application/json") {
		t.Errorf("before any handler: %q, want JSON", got)
	}
	c.serving.Store(true)
	if got := write(c, peer); got != serverError {
		t.Errorf("while serving: %q, want the bytes unchanged", got)
	}
	c.connState(http.StateActive)
	if got := write(c, peer); got != serverError {
		t.Errorf("active, after a handler: %q, want the bytes unchanged", got)
	}
	c.connState(http.StateIdle)
	if got := write(c, peer); !strings.Contains(got, "application/json") {
		t.Errorf("idle again: %q, want JSON", got)
	}
}
