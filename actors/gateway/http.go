package gateway

import (
	"crypto/subtle"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/ui"
)

// routes is the main listener's handler: the client API, the admin API,
// the probes, and /metrics unless it has a listener of its own. Each route
// names its methods; the router answers the rest (edges.go): a JSON 405
// with Allow for a wrong method, a JSON 404 unknown_path for an unknown
// path, and never a redirect.
func (g *Gateway) routes() http.Handler {
	mux := newRouter(g.unroutedGuard)
	// HEAD is a GET whose body net/http discards (the GET pattern serves
	// it): the same status and headers, Content-Length included.
	kv := g.instrument(g.requireToken(g.cfg.ClientToken, http.HandlerFunc(g.serveKV)))
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		mux.Handle(method+" "+kvPattern, kv)
	}
	mux.Handle("GET "+api.ListPath, g.listHandler())
	mux.Handle("GET "+api.RoutingPath, g.requireToken(g.cfg.ClientToken, http.HandlerFunc(g.serveRouting)))
	g.adminRoutes(mux)
	if g.cfg.Pprof {
		g.pprofRoutes(mux)
	}
	if g.cfg.MetricsListener == nil {
		mux.Handle("GET "+metricsPath, g.metricsHandler())
	} else {
		// Say where the metrics went rather than a bare 404, for whoever
		// points a scraper at the old address.
		mux.HandleFunc("GET "+metricsPath, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, &apiError{status: http.StatusNotFound, code: codeNotFound,
				msg: "/metrics is served on the metrics listener (http.metrics_listen), not on this one"})
		})
	}
	g.probeRoutes(mux)
	// The dashboard's assets hold no cluster data: the page asks for the
	// admin token itself and sends it on its reads of the admin API (ui).
	for _, p := range ui.Patterns() {
		mux.Handle("GET "+p, ui.Handler())
	}
	return g.limitBody(mux)
}

// kvPattern matches a key's path: the key is the rest of the path after
// kvPrefix, escaped (parseKey reads it from the escaped path, not from the
// pattern's wildcard, which ServeMux unescapes).
const kvPattern = kvPrefix + "{key...}"

// metricsRoutes is the metrics listener's handler: /metrics and the
// probes, so that a kubelet may probe either port.
func (g *Gateway) metricsRoutes() http.Handler {
	mux := newRouter(g.unroutedGuard)
	mux.Handle("GET "+metricsPath, g.metricsHandler())
	g.probeRoutes(mux)
	return g.limitBody(mux)
}

const metricsPath = "/metrics"

func (g *Gateway) metricsHandler() http.Handler {
	return promhttp.HandlerFor(g.cfg.Metrics.Registry, promhttp.HandlerOpts{})
}

func (g *Gateway) probeRoutes(mux *router) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if g.cfg.Ready != nil {
			if err := g.cfg.Ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "not ready: "+err.Error()+"\n")
				return
			}
		}
		_, _ = io.WriteString(w, "ready\n")
	})
}

// limitBody caps every request body at MaxBodyBytes. A body declared
// larger is refused before a byte of it is read; one sent chunked is cut
// off at the cap, and its handler sees an *http.MaxBytesError. The client
// API is let through with its declared length unchecked: its PUT enforces
// the tighter value limit itself (parse), answering value_too_large inside
// the request metrics, and its GET and DELETE never read a body.
func (g *Gateway) limitBody(h http.Handler) http.Handler {
	limit := g.cfg.MaxBodyBytes
	if limit <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit && !strings.HasPrefix(r.URL.Path, kvPrefix) {
			writeError(w, bodyTooLarge(r.ContentLength, limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

// requireToken guards h with a bearer token compared in constant time, so
// response timing does not leak how much of a guess was right.
func (g *Gateway) requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme name is case-insensitive (RFC 9110 §11.1); the token
		// is not.
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dht"`)
			writeError(w, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: "missing or wrong bearer token"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (g *Gateway) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		g.cfg.Metrics.ObserveRequest(metrics.OpOfMethod(r.Method), rec.status, time.Since(start))
	})
}

func (g *Gateway) serveKV(w http.ResponseWriter, r *http.Request) {
	var op coordinator.Op
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		op = coordinator.OpGet
	case http.MethodPut:
		op = coordinator.OpPut
	case http.MethodDelete:
		op = coordinator.OpDelete
	default:
		// routes registers serveKV for these methods only; the router
		// answers any other with a 405.
		panic("gateway: serveKV routed a " + r.Method)
	}
	req, apiErr := g.parse(w, r, op)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	if apiErr := g.noRing(w); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	g.countOwner(w, req.Partition)
	reply, err := g.coordinate(req)
	if err == nil {
		err = reply.Err
	}
	if err != nil {
		writeError(w, replyError(err))
		return
	}
	w.Header().Set(ContextHeader, g.contexts.Encode(req.Key, reply.Object.Context))
	w.Header().Set(ETagHeader, etag(reply.Object.Context))
	switch {
	case op == coordinator.OpGet:
		switch readPrecondition(req.Precondition, reply.Object) {
		case http.StatusNotModified:
			w.WriteHeader(http.StatusNotModified)
			return
		case http.StatusPreconditionFailed:
			writeError(w, &apiError{status: http.StatusPreconditionFailed, code: codePreconditionFailed,
				msg: "precondition failed: the key's current ETag does not match If-Match"})
			return
		}
		writeObject(w, g.resolveRead(w, req.Key, reply.Object))
	case reply.NotFound:
		// A delete without a context read the key first and found no
		// live value: nothing was written, as in Riak.
		writeError(w, &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "not found: the key holds no live value; nothing was deleted"})
	default:
		// Tombstones are not counted: a client sees only live values, in
		// a read's 300 as here.
		w.Header().Set(SiblingsHeader, strconv.Itoa(len(reply.Object.Live())))
		setExpires(w.Header(), reply.Object)
		w.WriteHeader(http.StatusNoContent)
	}
}

// parse validates everything about a request before any actor sees it.
func (g *Gateway) parse(w http.ResponseWriter, r *http.Request, op coordinator.Op) (coordinator.Request, *apiError) {
	req := coordinator.Request{Op: op, MaxSiblings: g.cfg.Limits.MaxSiblings, Deadline: time.Now().Add(g.cfg.RequestTimeout)}
	var apiErr *apiError
	if req.Key, apiErr = parseKey(r.URL.EscapedPath(), g.cfg.Limits); apiErr != nil {
		return req, apiErr
	}
	req.Partition = ring.PartitionOf(req.Key, g.partitions())
	// url.URL.Query drops pairs it cannot parse, which would silently apply
	// the default quorum to a mistyped override.
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, badRequest(codeBadParameter, "query string %q: %v", r.URL.RawQuery, err)
	}
	if op == coordinator.OpPut {
		if req.TTL, query, apiErr = parseTTL(query); apiErr != nil {
			return req, apiErr
		}
	}
	if op == coordinator.OpDelete {
		req.Params, apiErr = parseDeleteParams(query, g.cfg.Defaults)
	} else {
		req.Params, apiErr = parseParams(query, g.cfg.Defaults, op != coordinator.OpGet)
	}
	if apiErr != nil {
		return req, apiErr
	}
	if req.Precondition, apiErr = parsePrecondition(r.Header); apiErr != nil {
		return req, apiErr
	}
	if op == coordinator.OpGet {
		return req, nil
	}
	if req.Context, apiErr = parseContext(g.contexts, r.Header, req.Key); apiErr != nil {
		return req, apiErr
	}
	if op == coordinator.OpDelete {
		return req, nil
	}
	if req.ContentType, apiErr = parseContentType(r.Header); apiErr != nil {
		return req, apiErr
	}
	limit := int64(g.cfg.Limits.MaxValueBytes)
	if r.ContentLength > limit {
		// Refused before reading it: a client that announces 3 GB is
		// told at once, and the connection is not held to drain it.
		return req, valueTooLarge(limit)
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if e := bodyLimitError(err, limit); e != nil {
			return req, e
		}
		return req, badRequest(codeBadParameter, "reading the value: %v", err)
	}
	req.Value = value
	return req, nil
}

// writeObject renders a read: 404 for absent or deleted keys, the value for
// one live sibling, 300 with every live sibling otherwise. Tombstones
// concurrent with live values are not shown; the context covers them, so a
// write made with it supersedes them too. obj is read at the node's clock
// (the coordinator's answer): an expired value is a tombstone.
func writeObject(w http.ResponseWriter, obj dvv.Set) {
	live := obj.Live()
	setExpires(w.Header(), obj)
	switch len(live) {
	case 0:
		writeError(w, &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "not found"})
	case 1:
		w.Header().Set("Content-Type", live[0].ContentType)
		w.Header().Set("Last-Modified", time.UnixMilli(live[0].Timestamp).UTC().Format(http.TimeFormat))
		// Set, not left to net/http, so that a HEAD answers it too.
		w.Header().Set("Content-Length", strconv.Itoa(len(live[0].Value)))
		_, _ = w.Write(live[0].Value)
	default:
		slices.SortStableFunc(live, func(a, b dvv.Sibling) int { return int(a.Timestamp - b.Timestamp) })
		var body api.Siblings
		for _, s := range live {
			value := s.Value
			if value == nil {
				value = []byte{} // "" as before, not null
			}
			sib := api.Sibling{
				Value:       value,
				ContentType: s.ContentType,
				Timestamp:   time.UnixMilli(s.Timestamp).UTC(),
			}
			if s.ExpiresAt != 0 {
				at := time.UnixMilli(s.ExpiresAt).UTC()
				sib.Expires = &at
			}
			body.Siblings = append(body.Siblings, sib)
		}
		writeJSON(w, http.StatusMultipleChoices, body)
	}
}
