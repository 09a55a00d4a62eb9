package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// NewCluster returns a client for several nodes of one cluster, each given
// by its base URL as New takes it. Any node serves any key, so a call goes
// to the node that answered the last call and moves on to the next when a
// node cannot be reached or answers 503; RetryPolicy (WithRetry) bounds
// the attempts and the waits between rounds. The nodes must be of one
// cluster: a context from one is only meaningful to its peers.
func NewCluster(baseURLs []string, opts ...Option) (*Client, error) {
	if len(baseURLs) == 0 {
		return nil, errors.New("client: no base URL")
	}
	endpoints := make([]*url.URL, 0, len(baseURLs))
	for _, s := range baseURLs {
		u, err := parseBaseURL(s)
		if err != nil {
			return nil, err
		}
		endpoints = append(endpoints, u)
	}
	c := &Client{endpoints: endpoints, hc: http.DefaultClient, retry: DefaultRetryPolicy()}
	for _, o := range opts {
		o(c)
	}
	if err := c.applyTLS(); err != nil {
		return nil, err
	}
	return c, nil
}

// Endpoints returns the base URLs the client talks to, in the order given,
// with any user information (a password in the URL) redacted.
func (c *Client) Endpoints() []string {
	out := make([]string, len(c.endpoints))
	for i, u := range c.endpoints {
		out[i] = u.Redacted()
	}
	return out
}

// parseBaseURL checks a node's base URL: absolute http or https, without
// query or fragment; a path prefix (for a node behind a reverse proxy) is
// kept, without its trailing slash.
func parseBaseURL(baseURL string) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("client: base URL %q: scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("client: base URL %q: missing host", baseURL)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("client: base URL %q: must not have a query", baseURL)
	case u.Fragment != "":
		return nil, fmt.Errorf("client: base URL %q: must not have a fragment", baseURL)
	}
	// Paths are appended to the base, so a trailing slash would double.
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// call is one request as the failover loop sends it, to whichever
// endpoint serves it.
type call struct {
	// what names the call in transport errors ("status"); empty for the
	// key-value calls, whose errors name the method and URL.
	what   string
	method string
	// path is already escaped; query is encoded.
	path, query string
	body        []byte
	header      http.Header
	// token is sent as a bearer token when not empty.
	token string
	// idempotent requests may be sent again after any failure without an
	// answer; the others only when nothing can have been applied.
	idempotent bool
	// write decodes a failed answer as a write's (decodeError).
	write bool
	// firstOnly pins the call to the first endpoint: the request is about
	// that node (join), so another must not take it.
	firstOnly bool
	// key is the key of a key-value call, which a client routing by the
	// ring sends to an owner first (WithRingRouting).
	key string
}

// roundTrip sends cl to the client's endpoints until one answers, as
// RetryPolicy allows, and returns the answer. An answer that is a failure
// the call may not repeat is returned as it is (resp with any status);
// one it may repeat (503, and 502 and 504 for reads) is decoded, and
// returned as an error once the retries run out. Errors carry what the
// last attempt met; after retries they also match ErrUnavailable.
func (c *Client) roundTrip(ctx context.Context, cl call) (*http.Response, error) {
	// A context that is already done sends nothing, so the outcome is known.
	if err := ctx.Err(); err != nil {
		if cl.what != "" {
			return nil, fmt.Errorf("client: %s: %w", cl.what, err)
		}
		return nil, fmt.Errorf("client: %s: %w", strings.ToLower(cl.method), err)
	}
	if c.routing != nil && cl.key != "" && !cl.firstOnly {
		if resp, ok, err := c.routedAttempt(ctx, cl); ok {
			return resp, err
		}
	}
	n := len(c.endpoints)
	first := int(c.preferred.Load()) % n
	if cl.firstOnly {
		n, first = 1, 0
	}
	start := time.Now()
	for made := 0; ; {
		i := (first + made) % n
		resp, f, err := c.attempt(ctx, cl, c.endpoints[i])
		made++
		if f == 0 || !retryable(f, cl.idempotent) {
			if resp != nil || isAnswer(err) {
				// Later calls start with the node that served this one.
				c.preferred.Store(int32(i))
			}
			return resp, err
		}
		wait, ok := c.retry.wait(made, n, time.Since(start), rand.Float64())
		if !ok {
			return nil, &retryError{last: err, attempts: made, unavailable: true}
		}
		if deadline, has := ctx.Deadline(); has && time.Until(deadline) < wait {
			// Waiting would only end in the deadline: say so now.
			return nil, &retryError{last: err, attempts: made, stopped: context.DeadlineExceeded, unavailable: true}
		}
		if !sleepCtx(ctx, wait) {
			return nil, &retryError{last: err, attempts: made, stopped: ctx.Err(), unavailable: true}
		}
	}
}

// attempt sends cl once to the endpoint base. It returns the answer, or
// how the attempt failed and the error; a failure that repeating cannot
// help (a TLS refusal, a context that ended, a malformed request) has
// failure 0.
func (c *Client) attempt(ctx context.Context, cl call, base *url.URL) (*http.Response, failure, error) {
	attemptCtx, cancel := ctx, context.CancelFunc(func() {})
	if bound := c.retry.AttemptTimeout; bound > 0 && cl.key != "" && cl.idempotent {
		// A node that accepts connections but does not answer (a stopped
		// process, a stalled disk) would otherwise hold the read until the
		// caller's deadline; past the bound the read goes to the next
		// endpoint instead. The body is read after this returns, so the
		// bound is released when the body is closed.
		attemptCtx, cancel = context.WithTimeout(ctx, bound)
	}
	// Whether the attempt got a connection: without one, nothing of the
	// request left this process, whatever error ended it (a deadline
	// that struck while dialling reads like one that struck while the
	// node was answering).
	var connected atomic.Bool
	traced := httptrace.WithClientTrace(attemptCtx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})
	req, err := c.newRequestToken(traced, cl.method, joinURL(base, cl.path, cl.query), cl.body, cl.token)
	if err != nil {
		cancel()
		return nil, 0, err
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	resp, err := c.send(req)
	if err == nil {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	} else {
		cancel()
	}
	if err != nil {
		// The *url.Error already names the method and the URL.
		if cl.what != "" {
			err = fmt.Errorf("client: %s: %w", cl.what, err)
		} else {
			err = fmt.Errorf("client: %w", err)
		}
		sent := connected.Load() && mayHaveBeenSent(err)
		if !cl.idempotent && sent {
			err = &unknownOutcomeError{err: err}
		}
		switch {
		case ctx.Err() != nil || tlsRefused(err):
			return nil, 0, err
		case !sent:
			return nil, failedUnsent, err
		case attemptCtx.Err() != nil:
			err = fmt.Errorf("%w (no answer within the attempt timeout, %v)", err, c.retry.AttemptTimeout)
		}
		return nil, failedUnknown, err
	}
	switch resp.StatusCode {
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		defer closeBody(resp)
		err := decodeError(resp, cl.write)
		if e, ok := errors.AsType[*Error](err); ok && e.Indeterminate {
			return nil, failedUnknown, err
		}
		return nil, failedUnavailable, err
	}
	return resp, 0, nil
}

// cancelOnClose releases an attempt's timeout once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// isAnswer reports whether err is a node's (or a proxy's) answer rather
// than a failure to get one.
func isAnswer(err error) bool {
	_, ok := errors.AsType[*Error](err)
	return ok
}

// joinURL joins a base URL with an already escaped path and a query. The
// result is parsed again by net/http, which keeps the escaping as given.
func joinURL(base *url.URL, escapedPath, rawQuery string) string {
	u := *base
	u.RawQuery = ""
	s := strings.TrimSuffix(u.String(), "/") + escapedPath
	if rawQuery != "" {
		s += "?" + rawQuery
	}
	return s
}
