package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dhtkv/dht/api"
)

// net/http answers some requests itself, before any handler runs, by writing
// a plain-text response straight to the connection (conn.serve in
// net/http/server.go): 431 for a header block over MaxHeaderBytes, 400 for
// a request line it cannot parse (a path that is not valid percent-encoding,
// "/v1/kv/%ZZ", among them), a missing or malformed Host header or an
// invalid header, 501 for an unknown transfer coding and 505 for an
// unsupported protocol version. No Server option changes them, and the
// gateway's own handlers never see those requests. Every answer of the API
// is a JSON api.Error, so the connections of a plain-HTTP listener are
// wrapped (jsonErrorsConn), and those answers, and only those, are rewritten
// as JSON on their way out.
//
// A write is the server's own error when both hold:
//
//   - no handler has run on the connection since its last response ended
//     (the front handler, markServing, marks the connection as serving; the
//     server's ConnState hook clears the mark when the connection goes
//     idle). Whatever a handler writes, a stored value included, is never
//     looked at, so no value can be made to look like an error and be
//     rewritten.
//   - the write is one whole response in the server's error format: a
//     status line "HTTP/1.1 NNN ...", then exactly serverErrorHeaders, then
//     the text (net/http writes each with one Fprintf).
//
// Any other write passes as it is: a response of a later net/http in
// another format stays plain text (the tests through a real listener say
// so) rather than being mangled.
//
// Over HTTPS the connection is not wrapped: the bytes below TLS are
// encrypted, and net/http must see its own *tls.Conn to offer HTTP/2 and
// fill in Request.TLS, so no wrapper can sit above it. Those answers stay
// plain text there (HTTP/2 answers a bad path with a stream reset, not a
// body).

// serverErrorHeaders is what net/http writes between the status line and
// the text of its own error answers.
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// maxRequestHead bounds how much of a request's first bytes a connection
// keeps to explain a refusal: the request line of the longest key fits.
const maxRequestHead = 8 << 10

// jsonErrorsListener wraps the connections a plain-HTTP server accepts in a
// jsonErrorsConn.
type jsonErrorsListener struct {
	net.Listener
	limits Limits
}

func (l *jsonErrorsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorsConn{Conn: c, limits: l.limits}, nil
}

// jsonErrorsConn rewrites the server's own plain-text error answers as
// JSON. net/http reads and writes a connection from its serving goroutine,
// and reads it from a background goroutine while a handler runs; the two
// never read at once, but the race detector is owed a lock for the bytes
// kept.
type jsonErrorsConn struct {
	net.Conn
	limits Limits

	// serving is set by the front handler when a request reaches it and
	// cleared when the connection goes idle after the response.
	serving atomic.Bool
	mu      struct {
		sync.Mutex
		// head is the start of the bytes read since the connection was
		// last idle, up to the first line: the request line, to say
		// what was wrong with it. A request pipelined behind another
		// was read with it, before the idle: head is then empty, and
		// the answer a JSON 400 that says less.
		head []byte
	}
}

func (c *jsonErrorsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.serving.Load() {
		c.mu.Lock()
		if len(c.mu.head) < maxRequestHead && bytes.IndexByte(c.mu.head, '\n') < 0 {
			c.mu.head = append(c.mu.head, p[:min(n, maxRequestHead-len(c.mu.head))]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *jsonErrorsConn) Write(p []byte) (int, error) {
	if !c.serving.Load() {
		c.mu.Lock()
		head := c.mu.head
		c.mu.Unlock()
		if out, ok := jsonServerError(p, head, c.limits); ok {
			if _, err := c.Conn.Write(out); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection when the inner one can: net/http
// does so after its 431, so that the client reads the answer rather than a
// reset; without it, the wrapper would hide the inner method.
func (c *jsonErrorsConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connState is called from the server's ConnState hook: an idle connection
// has finished its response, and the next bytes are a new request's.
func (c *jsonErrorsConn) connState(s http.ConnState) {
	if s == http.StateIdle {
		c.mu.Lock()
		c.mu.head = nil
		c.mu.Unlock()
		c.serving.Store(false)
	}
}

type jsonErrorsConnKey struct{}

// connContext is the server's ConnContext hook: it hands the connection to
// markServing through the requests' context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if jc, ok := c.(*jsonErrorsConn); ok {
		return context.WithValue(ctx, jsonErrorsConnKey{}, jc)
	}
	return ctx
}

// markServing wraps the server's handler: once a request reaches it,
// what the connection writes until it is idle again is the handler's
// answer, never rewritten.
func markServing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if jc, ok := r.Context().Value(jsonErrorsConnKey{}).(*jsonErrorsConn); ok {
			jc.serving.Store(true)
		}
		h.ServeHTTP(w, r)
	})
}

// jsonServerError returns the JSON answer that replaces p, when p is one of
// net/http's own plain-text error answers (see above); head is the start of
// the request it answers, as read.
func jsonServerError(p, head []byte, limits Limits) ([]byte, bool) {
	statusLine, text, ok := bytes.Cut(p, []byte(serverErrorHeaders))
	if !ok || !bytes.HasPrefix(statusLine, []byte("HTTP/1.1 ")) || bytes.ContainsAny(statusLine, "\r\n") || len(statusLine) < len("HTTP/1.1 NNN") {
		return nil, false
	}
	status, err := strconv.Atoi(string(statusLine[9:12]))
	if err != nil || status < 400 || status > 599 {
		return nil, false
	}
	// A statusError's line is "NNN Status Text: reason", and its text
	// repeats it; the other errors' text is the bare status.
	_, reason, _ := strings.Cut(string(statusLine[9:]), ": ")
	return renderError(serverError(status, reason, string(text), head, limits)), true
}

// serverError is the api error for net/http's own answer of status, with
// the reason its status line gave (if any), its text, and head, the start of
// the request.
func serverError(status int, reason, text string, head []byte, limits Limits) *apiError {
	switch {
	case status == http.StatusRequestHeaderFieldsTooLarge:
		return &apiError{status: status, code: codeHeadersTooLarge,
			msg: "the request's header block is over the limit (http.max_header_bytes); nothing past it was read"}
	case status != http.StatusBadRequest && reason != "":
		return &apiError{status: status, code: codeBadRequest, msg: reason}
	case status != http.StatusBadRequest && text != "":
		return &apiError{status: status, code: codeBadRequest, msg: text}
	case status != http.StatusBadRequest:
		return &apiError{status: status, code: codeBadRequest, msg: http.StatusText(status)}
	case reason != "":
		return badRequest(codeBadRequest, "bad request: %s", reason)
	}
	if e := requestLineError(head, limits); e != nil {
		return e
	}
	return badRequest(codeBadRequest, "malformed HTTP request")
}

// requestLineError explains why net/http refused the request line that
// head starts with, when the reason is its target: a key's path that is
// not valid percent-encoding is the bad_key a handler would have answered
// (parseKey), any other target a bad_request. Nil when head holds no whole
// request line, or its target parses.
func requestLineError(head []byte, limits Limits) *apiError {
	line, _, ok := bytes.Cut(head, []byte("\n"))
	if !ok {
		return nil
	}
	fields := strings.Split(strings.TrimSuffix(string(line), "\r"), " ")
	if len(fields) != 3 {
		return nil
	}
	target := fields[1]
	_, err := url.ParseRequestURI(target)
	if err == nil {
		return nil
	}
	escapedPath, _, _ := strings.Cut(target, "?")
	if strings.HasPrefix(escapedPath, kvPrefix) {
		if _, e := parseKey(escapedPath, limits); e != nil && e.code == codeBadKey {
			return e
		}
	}
	return badRequest(codeBadRequest, "bad request target %s: %v", quotePath(target), unwrapURLError(err))
}

// unwrapURLError drops url.Error's repetition of the whole target.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// renderError renders e as a whole HTTP/1.1 response that closes the
// connection, as net/http's own answer did.
func renderError(e *apiError) []byte {
	body, err := json.Marshal(api.Error{Error: e.msg, Code: e.code})
	if err != nil {
		panic(fmt.Sprintf("gateway: encoding an answer: %v", err)) // api.Error always encodes
	}
	body = append(body, '\n')
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", e.status, http.StatusText(e.status))
	fmt.Fprintf(&b, "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}
