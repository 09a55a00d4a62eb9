package clienttest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dhtkv/dht/api"
)

// N is the replication factor the fake pretends to have; quorum parameters
// above it are rejected as the server would.
const N = 3

// contextPrefix starts every context token the fake issues, so that a token
// from elsewhere is recognisably corrupt.
const contextPrefix = "v1:"

// epoch is the fake clock's start; each write advances it by a millisecond,
// so timestamps are deterministic and ordered.
var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Failure is an error answer injected for a key with Server.Fail.
type Failure struct {
	// Method limits the failure to one HTTP method; empty means all.
	Method string
	// Status, Code, Message and Indeterminate make up the JSON error answer.
	Status        int
	Code, Message string
	Indeterminate bool
	// Apply performs a write before answering with the failure, as a write
	// that timed out at the coordinator but still landed.
	Apply bool
}

// Request is a request as the fake received it.
type Request struct {
	Method string
	// EscapedPath is the path as sent on the wire.
	EscapedPath string
	// Key is the decoded key, empty for other routes.
	Key    string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// sibling is one stored version; tombstones are kept like values so that a
// delete has a context that a later write must cover.
type sibling struct {
	id          uint64
	value       []byte
	contentType string
	timestamp   time.Time
	tombstone   bool
	// expires is when a value written with ?ttl= expires by the fake's
	// clock; zero never.
	expires time.Time
}

// Server is the fake node. Its URL is the embedded httptest.Server's.
type Server struct {
	*httptest.Server
	token string

	mu struct {
		sync.Mutex
		keys     map[string][]sibling
		lastID   uint64
		clock    time.Time
		failures map[string]Failure
		requests []Request
		// adminToken guards /admin/ instead of token, as on a node.
		adminToken string
		// cluster is what the admin API shows; nil answers 503.
		cluster *Cluster
		// status is what /admin/status answers; nil answers 503.
		status *Status
		// events is what /admin/events streams; nil answers 503.
		events *EventStream
		// backup is what /admin/backup streams; nil answers 503.
		backup []byte
	}
	// closing is closed by Close, to end the event streams still open:
	// httptest.Server.Close waits for every active request.
	closing   chan struct{}
	closeOnce sync.Once
}

// NewServer starts a fake node. With a non-empty token, every request must
// carry "Authorization: Bearer token". Close it when done.
func NewServer(token string) *Server {
	s := newServer(token)
	s.Start()
	return s
}

// NewTLSServer is NewServer serving HTTPS with cfg, which holds the
// server's certificate and, to require client certificates, its ClientAuth
// and ClientCAs: a node with http.tls set. Its URL is https://.
func NewTLSServer(token string, cfg *tls.Config) *Server {
	s := newServer(token)
	s.TLS = cfg
	s.StartTLS()
	return s
}

// newServer returns a fake node that is not started yet.
func newServer(token string) *Server {
	s := &Server{token: token, closing: make(chan struct{})}
	s.mu.keys = map[string][]sibling{}
	s.mu.failures = map[string]Failure{}
	s.mu.clock = epoch
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v1/kv/{key}", s.handleGet)
	mux.HandleFunc("GET "+api.ListPath, s.handleList)
	mux.HandleFunc("PUT /v1/kv/{key}", s.handleWrite)
	mux.HandleFunc("DELETE /v1/kv/{key}", s.handleWrite)
	s.adminRoutes(mux)
	s.adminOps(mux)
	mux.HandleFunc("/admin/events", s.serveEvents)
	s.Server = httptest.NewUnstartedServer(s.record(s.auth(mux)))
	return s
}

// Close ends the event streams still open, then shuts the server down and
// waits for its requests to finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.Server.Close()
}

// Fail makes every request for key (of f.Method, if set) answer with f. A
// zero Failure clears it.
func (s *Server) Fail(key string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 {
		delete(s.mu.failures, key)
		return
	}
	s.mu.failures[key] = f
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mu.requests)
}

// LastRequest returns the latest request received, or a zero Request.
func (s *Server) LastRequest() Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mu.requests) == 0 {
		return Request{}
	}
	return s.mu.requests[len(s.mu.requests)-1]
}

// Advance moves the fake's clock forward by d, so that values written with
// ?ttl= expire (each write also moves it by a millisecond).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.clock = s.mu.clock.Add(d)
}

// Siblings returns how many versions (values and tombstones) key holds.
func (s *Server) Siblings(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.keys[key])
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "reading body: "+err.Error(), false)
			return
		}
		var key string
		if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/kv/"); ok {
			key, _ = url.PathUnescape(rest)
		}
		s.mu.Lock()
		s.mu.requests = append(s.mu.requests, Request{
			Method:      r.Method,
			EscapedPath: r.URL.EscapedPath(),
			Key:         key,
			Query:       r.URL.Query(),
			Header:      r.Header.Clone(),
			Body:        body,
		})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := s.token
		// Key listing takes the admin token when one is set, as on a node
		// without http.listing_for_clients.
		if strings.HasPrefix(r.URL.Path, "/admin/") || (r.URL.Path == api.ListPath && s.adminTokenSet()) {
			s.mu.Lock()
			token = s.mu.adminToken
			s.mu.Unlock()
		}
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token", false)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) adminTokenSet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.adminToken != ""
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !s.checkQuorum(w, r, "r", "pr") {
		return
	}
	s.mu.Lock()
	f, failing := s.failure(key, r.Method)
	sibs := slices.Clone(s.mu.keys[key])
	now := s.mu.clock
	s.mu.Unlock()
	if failing {
		writeError(w, f.Status, api.Code(f.Code), f.Message, f.Indeterminate)
		return
	}

	w.Header().Set("X-Dht-Context", encodeContext(sibs))
	w.Header().Set("ETag", etag(sibs))
	live := liveOf(sibs, now)
	setExpires(w, live)
	switch len(live) {
	case 0:
		writeError(w, http.StatusNotFound, api.CodeNotFound, "not found", false)
	case 1:
		w.Header().Set("Content-Type", live[0].contentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(live[0].value)
	default:
		var body api.Siblings
		for _, sb := range live {
			sib := api.Sibling{Value: sb.value, ContentType: sb.contentType, Timestamp: sb.timestamp}
			if !sb.expires.IsZero() {
				sib.Expires = &sb.expires
			}
			body.Siblings = append(body.Siblings, sib)
		}
		writeJSON(w, http.StatusMultipleChoices, body)
	}
}

func (s *Server) handleWrite(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !s.checkQuorum(w, r, "w", "pw") {
		return
	}
	covered, ok := decodeContext(r.Header.Get("X-Dht-Context"))
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_context", "X-Dht-Context is not a context issued by this store", false)
		return
	}
	var ttl time.Duration
	if v, given := r.URL.Query()["ttl"]; given && r.Method == http.MethodPut {
		// As the node: a Go duration from 1s to ten years.
		d, err := time.ParseDuration(v[0])
		if err != nil || len(v) != 1 || d < time.Second || d > 87600*time.Hour {
			writeError(w, http.StatusBadRequest, api.CodeBadTTL, fmt.Sprintf("ttl=%q is not a duration within 1s..87600h", v[0]), false)
			return
		}
		ttl = d
	}
	body, _ := io.ReadAll(r.Body)
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	f, failing := s.failure(key, r.Method)
	if failing && !f.Apply {
		writeError(w, f.Status, api.Code(f.Code), f.Message, f.Indeterminate)
		return
	}
	current := s.mu.keys[key]
	ifMatch, ifNoneMatch := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	if ifMatch != "" || ifNoneMatch != "" {
		// As the node: tested against the key's state, and a write that
		// passes without a context replaces what was tested.
		if !preconditionHolds(current, s.mu.clock, ifMatch, ifNoneMatch) {
			writeError(w, http.StatusPreconditionFailed, api.CodePreconditionFailed, "precondition failed", false)
			return
		}
		if len(covered) == 0 {
			covered = idsOf(current)
		}
	} else if r.Method == http.MethodDelete && len(covered) == 0 {
		// As the node: a delete without a context deletes what a read
		// sees, and nothing when that is no live value.
		if len(liveOf(current, s.mu.clock)) == 0 {
			w.Header().Set("X-Dht-Context", encodeContext(current))
			w.Header().Set("ETag", etag(current))
			writeError(w, http.StatusNotFound, api.CodeNotFound, "not found", false)
			return
		}
		covered = idsOf(current)
	}
	s.mu.lastID++
	s.mu.clock = s.mu.clock.Add(time.Millisecond)
	next := sibling{id: s.mu.lastID, timestamp: s.mu.clock}
	if r.Method == http.MethodDelete {
		next.tombstone = true
	} else {
		next.value, next.contentType = body, ct
		if ttl > 0 {
			next.expires = s.mu.clock.Add(ttl)
		}
	}
	kept := slices.DeleteFunc(s.mu.keys[key], func(sb sibling) bool { return covered[sb.id] })
	s.mu.keys[key] = append(kept, next)
	if failing {
		writeError(w, f.Status, api.Code(f.Code), f.Message, f.Indeterminate)
		return
	}
	// The new context covers only what this write replaced plus itself:
	// siblings it did not see stay concurrent with it.
	w.Header().Set("X-Dht-Context", encodeContext([]sibling{next}))
	w.Header().Set("ETag", etag(s.mu.keys[key]))
	live := liveOf(s.mu.keys[key], s.mu.clock)
	w.Header().Set("X-Dht-Siblings", strconv.Itoa(len(live)))
	setExpires(w, live)
	w.WriteHeader(http.StatusNoContent)
}

// liveOf returns the siblings that are values, not tombstones, and not
// expired at now.
func liveOf(sibs []sibling, now time.Time) []sibling {
	var live []sibling
	for _, sb := range sibs {
		if !sb.tombstone && (sb.expires.IsZero() || now.Before(sb.expires)) {
			live = append(live, sb)
		}
	}
	return live
}

func idsOf(sibs []sibling) map[uint64]bool {
	ids := map[uint64]bool{}
	for _, sb := range sibs {
		ids[sb.id] = true
	}
	return ids
}

// etag is the fake's entity tag of a key's state: its full context,
// quoted. Like the node's, it is the same for the same state.
func etag(sibs []sibling) string { return `"` + encodeContext(sibs) + `"` }

// preconditionHolds tests If-Match and If-None-Match (one tag or "*" each,
// simpler than the node's lists) against the key's state.
func preconditionHolds(sibs []sibling, now time.Time, ifMatch, ifNoneMatch string) bool {
	live := len(liveOf(sibs, now)) > 0
	switch {
	case ifMatch == "*" && !live:
		return false
	case ifMatch != "" && ifMatch != "*" && ifMatch != etag(sibs):
		return false
	case ifNoneMatch == "*" && live:
		return false
	case ifNoneMatch != "" && ifNoneMatch != "*" && ifNoneMatch == etag(sibs):
		return false
	}
	return true
}

// failure returns the failure injected for key and method. Callers hold mu.
func (s *Server) failure(key, method string) (Failure, bool) {
	f, ok := s.mu.failures[key]
	if !ok || (f.Method != "" && f.Method != method) {
		return Failure{}, false
	}
	return f, true
}

// checkQuorum validates the quorum query parameters as the server does,
// answering 400 for an impossible one.
func (s *Server) checkQuorum(w http.ResponseWriter, r *http.Request, names ...string) bool {
	q := r.URL.Query()
	for _, name := range names {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > N {
			writeError(w, http.StatusBadRequest, "bad_quorum",
				fmt.Sprintf("%s=%s is impossible: it must be between 1 and n=%d", name, v, N), false)
			return false
		}
	}
	return true
}

func encodeContext(sibs []sibling) string {
	ids := make([]string, len(sibs))
	for i, sb := range sibs {
		ids[i] = strconv.FormatUint(sb.id, 10)
	}
	return contextPrefix + strings.Join(ids, ",")
}

func decodeContext(token string) (map[uint64]bool, bool) {
	covered := map[uint64]bool{}
	if token == "" {
		return covered, true
	}
	rest, ok := strings.CutPrefix(token, contextPrefix)
	if !ok {
		return nil, false
	}
	if rest == "" {
		return covered, true
	}
	for part := range strings.SplitSeq(rest, ",") {
		id, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return nil, false
		}
		covered[id] = true
	}
	return covered, true
}

func writeError(w http.ResponseWriter, status int, code api.Code, msg string, indeterminate bool) {
	writeJSON(w, status, api.Error{Error: msg, Code: code, Indeterminate: indeterminate})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// setExpires sets X-Dht-Expires, as the node does, to the earliest expiry
// among live.
func setExpires(w http.ResponseWriter, live []sibling) {
	var first time.Time
	for _, sb := range live {
		if !sb.expires.IsZero() && (first.IsZero() || sb.expires.Before(first)) {
			first = sb.expires
		}
	}
	if !first.IsZero() {
		w.Header().Set("X-Dht-Expires", first.UTC().Format(time.RFC3339Nano))
	}
}
