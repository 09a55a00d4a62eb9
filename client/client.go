package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dhtkv/dht/api"
)

// Header names and paths of the node's HTTP API.
const (
	// HeaderContext carries the opaque causal context in both directions.
	HeaderContext = "X-Dht-Context"
	// HeaderSiblings tells, on a write's response, how many siblings the key
	// now has.
	HeaderSiblings = "X-Dht-Siblings"
	// HeaderResolvedBy names, on a read's response, the server-side
	// resolver that merged the key's siblings into the one value served.
	HeaderResolvedBy = "X-Dht-Resolved-By"
	// HeaderResolverError says, on a read's response, why the server-side
	// resolver failed; the response then carries every sibling.
	HeaderResolverError = "X-Dht-Resolver-Error"
	// HeaderETag is the entity tag of the key's causal context, on every
	// answer that carries a context. WriteOptions.IfMatch sends it back.
	HeaderETag = "ETag"
	// HeaderExpires answers a read or a write whose live values expire
	// (written with WriteOptions.TTL): the earliest expiry, RFC 3339 UTC.
	HeaderExpires = "X-Dht-Expires"

	healthPath = "/healthz"
)

// DefaultContentType is the content type Put sends when WriteOptions names
// none, and what the server assumes for a write without one.
const DefaultContentType = "application/octet-stream"

// maxResponseBytes bounds how much of a response body the client reads, so
// that a misbehaving server or a wrong address cannot exhaust memory. It is
// far above the server's value limit (1 MiB by default, configurable), and a
// sibling list is base64 (4/3 larger) times the sibling count.
const maxResponseBytes = 512 << 20

// maxErrorBodyBytes bounds the part of a non-JSON error body quoted in an
// Error's message.
const maxErrorBodyBytes = 512

// ErrEmptyKey is returned for an empty key, which the store does not allow
// (and which would address a different route).
var ErrEmptyKey = errors.New("client: empty key")

// Client talks to the HTTP API of one node (New) or of several nodes of a
// cluster (NewCluster), failing over between them. Any node accepts any
// key: it coordinates the request on the key's replicas.
type Client struct {
	// endpoints are the nodes' base URLs; a call starts with the one at
	// preferred, the last that served a call (failover.go).
	endpoints []*url.URL
	preferred atomic.Int32
	retry     RetryPolicy

	hc    *http.Client
	token string
	// adminTok guards /admin separately from the key-value API's token.
	adminTok string
	// tls, set by WithTLS, is applied to hc's transport once all options
	// are in, so that the order of WithTLS and WithHTTPClient is free.
	tls *tls.Config
	// certMissing is set once a node asked this client for a certificate
	// in a handshake and it had none to give (WithTLS).
	certMissing *atomic.Bool
	// routing, set by WithRingRouting, sends each key to an owner.
	routing *routing
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the client send requests with hc instead of
// http.DefaultClient, for example to set a transport-level timeout (WithTLS
// sets TLS).
// Per-request deadlines are better set on the context passed to each call.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithToken makes the client send "Authorization: Bearer token" with every
// request. An empty token sends no Authorization header.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// New returns a client for the node at baseURL, such as
// "http://127.0.0.1:8080". The URL must be absolute http or https, without
// query or fragment; a path prefix (for a node behind a reverse proxy) is
// kept. A request that finds the node unreachable or unavailable is
// retried as RetryPolicy allows; NewCluster adds failover to other nodes.
func New(baseURL string, opts ...Option) (*Client, error) {
	return NewCluster([]string{baseURL}, opts...)
}

// applyTLS sets the TLS configuration of WithTLS on the HTTP client's
// transport, once all options are in.
func (c *Client) applyTLS() error {
	if c.tls == nil {
		return nil
	}
	c.certMissing = new(atomic.Bool)
	hc, err := withTLSTransport(c.hc, c.tls, c.certMissing)
	if err != nil {
		return err
	}
	c.hc = hc
	return nil
}

// Sibling is one of the concurrent values of a key.
type Sibling struct {
	Value       []byte
	ContentType string
	// Timestamp is when the sibling was written, by the coordinating node's
	// clock. It is informational only (causality lives in the context) and
	// is zero on a 200 response, which does not carry it.
	Timestamp time.Time
	// Expires is when the value expires (written with WriteOptions.TTL);
	// zero when it never does.
	Expires time.Time
}

// Object is the result of a read.
type Object struct {
	Key string
	// Found is false when the key holds no live value (never written, or
	// deleted). Context is still set then and must be sent with a later
	// write, so that the write supersedes the delete.
	Found bool
	// Siblings holds one value normally and several after concurrent writes;
	// it is empty when Found is false.
	Siblings []Sibling
	// Context is the opaque causal context covering all Siblings. Send it
	// back with the write that replaces them.
	Context string
	// ETag is the entity tag of Context (quoted, as the server sent it):
	// the same context always has the same ETag. Send it as
	// WriteOptions.IfMatch to write only while the key is unchanged.
	ETag string
	// ResolvedBy names the server-side resolver (config resolution) that
	// merged concurrent siblings into the one value in Siblings; empty when
	// the server resolved nothing. Context covers every sibling it merged,
	// so a write with it replaces them all.
	ResolvedBy string
	// Expires is the earliest expiry among Siblings: when this answer
	// changes by itself. Zero when no sibling expires.
	Expires time.Time
	// ResolverError, when set, says why the server-side resolver failed:
	// Siblings then holds every sibling, unresolved, for the caller to
	// merge.
	ResolverError string
}

// ReadOptions tune a read. Zero values mean the server's defaults.
type ReadOptions struct {
	// R is how many replicas must answer; PR how many of them must be
	// primaries rather than fallbacks.
	R, PR int
}

// WriteOptions tune a write. Zero values mean the server's defaults.
type WriteOptions struct {
	// W is how many replicas must acknowledge; PW how many of them must be
	// primaries rather than fallbacks.
	W, PW int
	// ContentType of the value; empty means DefaultContentType. Ignored by
	// Delete.
	ContentType string
	// Context from the read this write is based on. The siblings it covers
	// are replaced; without it a Put becomes one more sibling, and a Delete
	// is made with the context of a read the server makes first.
	Context string
	// IfMatch makes the write conditional: it is made only while the key's
	// context is still the one this ETag (Object.ETag, WriteResult.ETag)
	// names, or, given "*", only when the key holds a live value. A list of
	// ETags, comma-separated, matches when any does. Without Context the
	// write then replaces what the ETag named.
	IfMatch string
	// IfNoneMatch makes the write conditional the other way: "*" writes
	// only when the key holds no live value (create, never overwrite); an
	// ETag writes only when the key's context is no longer that one.
	//
	// A failed condition is an *Error matching ErrPreconditionFailed, and
	// nothing is stored. The README says what is guaranteed under failures.
	IfNoneMatch string
	// TTL, when not zero, makes the value expire that long after the node
	// coordinating the write takes it (?ttl=): from then on reads find it
	// absent on every replica. The server takes 1s to 87600h and refuses
	// anything else: an *Error with Status 400 and Code "bad_ttl". Ignored
	// by Delete.
	TTL time.Duration
}

// WriteResult is the outcome of an acknowledged write.
type WriteResult struct {
	// Context covers the value just written; a following write by the same
	// writer should send it back.
	Context string
	// ETag is the entity tag of Context.
	ETag string
	// Siblings is how many live siblings (values, not tombstones) the key
	// has after the write; more than one means writes concurrent with this
	// one exist. A delete leaves 0 unless a concurrent value survives it.
	// It is 0 too when the server did not say.
	Siblings int
	// Expires is the earliest expiry among the key's live values after the
	// write (a Put's own with WriteOptions.TTL); zero when none expires.
	Expires time.Time
}

// Error is a failure reported by the server (any status other than the
// documented 200, 204, 300 and key-not-found 404).
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the server's short error code, such as "bad_quorum" or
	// "timeout"; it may be empty when the answer did not come from a node
	// (for example from a proxy).
	Code string
	// Message is the server's explanation.
	Message string
	// Indeterminate is set when a write failed in a way that leaves its
	// outcome unknown: it may still be applied.
	Indeterminate bool
}

// Error formats as "dht: 400 bad_quorum: message", saying each thing once:
// a message that starts with the code or the status (as a node's error
// chain or a proxy's body does) is printed without it.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dht: ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if msg := e.explanation(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if e.Indeterminate {
		b.WriteString(" (outcome unknown: the write may still be applied)")
	}
	return b.String()
}

// unknownOutcomeError wraps a transport failure of a write after the request
// may have reached the server, such as a timeout while waiting for the
// answer: the write may have been applied.
type unknownOutcomeError struct{ err error }

func (e *unknownOutcomeError) Error() string {
	return "dht: outcome unknown, the write may still be applied: " + e.err.Error()
}

func (e *unknownOutcomeError) Unwrap() error { return e.err }

// IsIndeterminate reports whether err, returned by a write, leaves the
// write's outcome unknown: the server said so (503 with indeterminate set),
// a gateway in front of it timed out, or the connection failed or timed out
// after the request may have been sent. Retrying such a write with the same
// context is safe but may leave one more sibling; reading the key tells what
// happened.
func IsIndeterminate(err error) bool {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Indeterminate
	}
	_, ok := errors.AsType[*unknownOutcomeError](err)
	return ok
}

// Get reads key. A key without a live value is not an error: the Object then
// has Found == false and the context to send with a later write. o may be
// nil.
func (c *Client) Get(ctx context.Context, key string, o *ReadOptions) (*Object, error) {
	if o == nil {
		o = &ReadOptions{}
	}
	q := url.Values{}
	setInt(q, "r", o.R)
	setInt(q, "pr", o.PR)
	resp, err := c.do(ctx, http.MethodGet, key, q, nil, nil)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)

	obj := &Object{Key: key, Context: resp.Header.Get(HeaderContext), ETag: resp.Header.Get(HeaderETag),
		ResolvedBy: resp.Header.Get(HeaderResolvedBy), ResolverError: resp.Header.Get(HeaderResolverError)}
	switch resp.StatusCode {
	case http.StatusOK:
		v, err := readAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("client: get %q: reading value: %w", key, err)
		}
		obj.Found = true
		obj.Expires = parseExpires(resp.Header)
		obj.Siblings = []Sibling{{Value: v, ContentType: resp.Header.Get("Content-Type"), Expires: obj.Expires}}
		return obj, nil
	case http.StatusMultipleChoices:
		sibs, err := decodeSiblings(resp)
		if err != nil {
			return nil, fmt.Errorf("client: get %q: %w", key, err)
		}
		obj.Found = true
		obj.Siblings = sibs
		obj.Expires = parseExpires(resp.Header)
		return obj, nil
	case http.StatusNotFound:
		if isKeyNotFound(resp) {
			return obj, nil
		}
	}
	return nil, decodeError(resp, false)
}

// Put writes value under key and returns the new context once the write
// quorum has acknowledged. Send o.Context from the read the value is based
// on; without it the value is kept next to the existing ones as a sibling.
// o may be nil.
func (c *Client) Put(ctx context.Context, key string, value []byte, o *WriteOptions) (*WriteResult, error) {
	if o == nil {
		o = &WriteOptions{}
	}
	ct := o.ContentType
	if ct == "" {
		ct = DefaultContentType
	}
	h := http.Header{}
	h.Set("Content-Type", ct)
	// Never send a nil body: the length must be explicit even when zero.
	if value == nil {
		value = []byte{}
	}
	return c.write(ctx, http.MethodPut, key, value, h, o)
}

// Delete deletes key by writing a tombstone that replaces the siblings
// covered by o.Context. Without a context (and without o.IfMatch) the node
// reads the key first, at the server's default r and pr, and deletes what
// that read saw, as Riak does; if the read finds no live value nothing is
// written and the error matches ErrNotFound. Values written concurrently
// with the delete survive it as siblings. o may be nil.
func (c *Client) Delete(ctx context.Context, key string, o *WriteOptions) (*WriteResult, error) {
	if o == nil {
		o = &WriteOptions{}
	}
	return c.write(ctx, http.MethodDelete, key, nil, http.Header{}, o)
}

// Update is the read-resolve-write-back helper. It reads key with the
// server's default quorum, calls resolve with all current siblings (nil when
// the key is not found) to produce the merged value, and writes that back
// with the read's context, so that exactly the siblings resolve saw are
// replaced. Writes that race with Update stay as siblings and are never
// lost; Update does not repeat the cycle (its read and its write are each
// retried as RetryPolicy allows), and the caller decides whether to run it
// again.
//
// The context in o is ignored (the read's is used); W, PW and ContentType
// apply, ContentType only when resolve returns an empty one. An error from
// resolve aborts the update and is returned wrapped. o may be nil.
func (c *Client) Update(ctx context.Context, key string, resolve func(siblings []Sibling) (value []byte, contentType string, err error), o *WriteOptions) (*WriteResult, error) {
	if resolve == nil {
		return nil, errors.New("client: update: nil resolve function")
	}
	obj, err := c.Get(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	var sibs []Sibling
	if obj.Found {
		sibs = obj.Siblings
	}
	value, ct, err := resolve(sibs)
	if err != nil {
		return nil, fmt.Errorf("client: update %q: resolve: %w", key, err)
	}
	wo := WriteOptions{Context: obj.Context}
	if o != nil {
		wo.W, wo.PW, wo.ContentType = o.W, o.PW, o.ContentType
	}
	if ct != "" {
		wo.ContentType = ct
	}
	return c.Put(ctx, key, value, &wo)
}

// Health checks that the node's HTTP server is up (GET /healthz answers
// 200). It says nothing about readiness to serve keys.
func (c *Client) Health(ctx context.Context) error {
	resp, err := c.roundTrip(ctx, call{what: "health", method: http.MethodGet, path: healthPath, idempotent: true})
	if err != nil {
		return err
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp, false)
	}
	return nil
}

// write sends a PUT or DELETE and decodes its acknowledgement.
func (c *Client) write(ctx context.Context, method, key string, body []byte, h http.Header, o *WriteOptions) (*WriteResult, error) {
	q := url.Values{}
	setInt(q, "w", o.W)
	setInt(q, "pw", o.PW)
	if method == http.MethodPut && o.TTL != 0 {
		q.Set("ttl", o.TTL.String())
	}
	if o.Context != "" {
		h.Set(HeaderContext, o.Context)
	}
	if o.IfMatch != "" {
		h.Set("If-Match", o.IfMatch)
	}
	if o.IfNoneMatch != "" {
		h.Set("If-None-Match", o.IfNoneMatch)
	}
	resp, err := c.do(ctx, method, key, q, body, h)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp, true)
	}
	res := &WriteResult{Context: resp.Header.Get(HeaderContext), ETag: resp.Header.Get(HeaderETag)}
	// The write is acknowledged at this point; a malformed count must not
	// turn that into an error the caller would take for a failed write.
	if n, err := strconv.Atoi(resp.Header.Get(HeaderSiblings)); err == nil && n >= 0 {
		res.Siblings = n
	}
	res.Expires = parseExpires(resp.Header)
	return res, nil
}

// parseExpires reads HeaderExpires; zero when absent or malformed (an
// answer is not failed over an informational header).
func parseExpires(h http.Header) time.Time {
	t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderExpires))
	if err != nil {
		return time.Time{}
	}
	return t
}

// do sends a request on key's URL to the endpoints, with failover and the
// retries that are safe for its method (roundTrip). Transport failures of
// writes that may have reached the server are marked as of unknown
// outcome. A 503 (or a proxy's 502 or 504) comes back as an error, decoded.
func (c *Client) do(ctx context.Context, method, key string, q url.Values, body []byte, h http.Header) (*http.Response, error) {
	if key == "" {
		return nil, ErrEmptyKey
	}
	// A context that is already done sends nothing, so the outcome is known.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("client: %s %q: %w", strings.ToLower(method), key, err)
	}
	idempotent := method == http.MethodGet || method == http.MethodHead
	return c.roundTrip(ctx, call{method: method, path: api.KVPath(key), query: q.Encode(), body: body, header: h,
		token: c.token, idempotent: idempotent, write: !idempotent, key: key})
}

// newRequestToken is newRequest with token, not the key-value API's, as
// the bearer token; an empty token sends none.
func (c *Client) newRequestToken(ctx context.Context, method, rawURL string, body []byte, token string) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		// A bytes.Reader lets net/http set the length and replay the body.
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// send performs req and refuses a redirect that changed the method: net/http
// turns a redirected PUT or DELETE into a GET, whose 200 would otherwise be
// mistaken for an acknowledged write.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		if c.certMissing != nil && c.certMissing.Load() && connectionLost(err) {
			// With TLS 1.3 a node refuses a missing client certificate only
			// after this side's handshake is done, so the refusal shows as
			// a lost connection (a broken pipe, a reset, HTTP/2 failing to
			// start), not as its TLS alert. The node asked for a
			// certificate this client does not have: that is why.
			err = &certificateRequiredError{err: err}
		}
		return nil, err
	}
	if resp.Request != nil && resp.Request.Method != req.Method {
		closeBody(resp)
		return nil, fmt.Errorf("%s %s was redirected to %s %s; use the final address as the base URL",
			req.Method, req.URL.Redacted(), resp.Request.Method, resp.Request.URL.Redacted())
	}
	return resp, nil
}

func setInt(q url.Values, name string, v int) {
	if v != 0 {
		q.Set(name, strconv.Itoa(v))
	}
}

// mayHaveBeenSent reports whether a transport error could have happened after
// the request reached the server. Failures to connect are known not to have
// sent anything, and so are failed TLS handshakes (see tlsRefused).
func mayHaveBeenSent(err error) bool {
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "dial" {
		return false
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return false
	}
	return !tlsRefused(err)
}

// tlsRefused reports whether err is a TLS handshake that failed, so that
// the server never read the request: this side did not accept the node's
// certificate, the node answered the handshake in plain HTTP or not in TLS
// at all, or the node refused this side's certificate. The node sends that
// refusal as an alert only during the handshake; with TLS 1.3 the client
// may have written the request by then, but the node discards it unread.
func tlsRefused(err error) bool {
	if errors.Is(err, http.ErrSchemeMismatch) {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	return IsCertificateRefused(err)
}

// certificateRequiredError is a request that failed after a node asked this
// client for a certificate it does not have.
type certificateRequiredError struct{ err error }

func (e *certificateRequiredError) Error() string {
	return "the node requires a client certificate and none is configured (WithTLS, TLSConfig): " + e.err.Error()
}

func (e *certificateRequiredError) Unwrap() error { return e.err }

// connectionLost reports whether err is a connection that ended under a
// request: what a TLS 1.3 server's refusal of the client's certificate
// looks like from the client. With HTTP/2 the refusal's alert ends the
// connection's read loop, and a request handed to the connection just
// before, or just after, fails with the transport's own words for a
// connection that is gone, without the alert.
func connectionLost(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	msg := err.Error()
	for _, gone := range []string{"http2: client conn could not be established", "http2: client conn is closed", "http2: client connection lost"} {
		if strings.Contains(msg, gone) {
			return true
		}
	}
	return false
}

// IsCertificateRefused reports whether err says that the node refused the
// TLS handshake over this side's certificate: none was sent to a node that
// requires one (http.tls.client_ca_file), or the node does not trust the
// one sent. The node sends its reason as a TLS alert, which crypto/tls
// reports only as text.
func IsCertificateRefused(err error) bool {
	if _, ok := errors.AsType[*certificateRequiredError](err); ok {
		return true
	}
	opErr, ok := errors.AsType[*net.OpError](err)
	if !ok || opErr.Op != "remote error" || opErr.Err == nil {
		return false
	}
	msg := opErr.Err.Error()
	return strings.HasPrefix(msg, "tls: ") && strings.Contains(msg, "certificate")
}

func decodeSiblings(resp *http.Response) ([]Sibling, error) {
	data, err := readAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading siblings: %w", err)
	}
	var body api.Siblings
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, fmt.Errorf("malformed sibling list: %w", err)
	}
	if len(body.Siblings) == 0 {
		return nil, errors.New("malformed sibling list: 300 answer without siblings")
	}
	sibs := make([]Sibling, len(body.Siblings))
	for i, s := range body.Siblings {
		v := s.Value
		if v == nil {
			v = []byte{}
		}
		sibs[i] = Sibling{Value: v, ContentType: s.ContentType, Timestamp: s.Timestamp}
		if s.Expires != nil {
			sibs[i].Expires = *s.Expires
		}
	}
	return sibs, nil
}

// isKeyNotFound tells the API's "no such key" 404, which carries a context
// header or a JSON body, from a 404 of a wrong address or route, which must
// not be reported as a missing key.
func isKeyNotFound(resp *http.Response) bool {
	if _, ok := resp.Header[http.CanonicalHeaderKey(HeaderContext)]; ok {
		return true
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/json"
}

// decodeError turns a failed answer into an *Error. A body that is not the
// API's JSON (from a proxy, say) is quoted in the message; for a write, a
// gateway failure without a node's verdict leaves the outcome unknown.
func decodeError(resp *http.Response, isWrite bool) error {
	e := &Error{Status: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body api.Error
	if err := json.Unmarshal(data, &body); err == nil && (body.Error != "" || body.Code != "") {
		e.Code, e.Message, e.Indeterminate = string(body.Code), body.Error, body.Indeterminate
		return e
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(data), "\uFFFD"))
	if len(msg) > maxErrorBodyBytes {
		msg = strings.ToValidUTF8(msg[:maxErrorBodyBytes], "") + "…"
	}
	e.Message = msg
	if isWrite {
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			e.Indeterminate = true
		}
	}
	return e
}

// readAll reads a response body up to maxResponseBytes.
func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}
	return data, nil
}

// closeBody drains a little of the body so the connection can be reused, then
// closes it.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
}
