package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/listing"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/wire"
)

// listHandler serves key listing, GET /v1/kv?prefix=&limit=&cursor=&values=&r=
// (api.ListPage). It walks the partitions in order from the cursor
// (package listing's coverage plan), asks r serving replicas of each for
// the page's remaining keys after the cursor's key, merges their answers,
// and streams each partition's keys as soon as it has them, so that a
// page never sits in memory whole. The cost is documented in the README: a
// full listing sends Q requests per replica asked and scans every key.
//
// It takes the admin token unless http.listing_for_clients lets the client
// token list too.
func (g *Gateway) listHandler() http.Handler {
	return g.listAuth(http.HandlerFunc(g.serveList))
}

// listAuth lets a request through with the admin token, or with the client
// token when ListingForClients; the client token alone otherwise gets 403,
// which tells a client its token is right but listing is not for it. With
// no admin token configured the admin API is open, and listing with it.
func (g *Gateway) listAuth(h http.Handler) http.Handler {
	admin, client := []byte(g.cfg.AdminToken), []byte(g.cfg.ClientToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			got = ""
		}
		is := func(token []byte) bool {
			return len(token) > 0 && subtle.ConstantTimeCompare([]byte(got), token) == 1
		}
		switch {
		case len(admin) == 0, is(admin):
		case g.cfg.ListingForClients && (len(client) == 0 || is(client)):
		case is(client):
			g.countList(api.CodeForbidden, 0)
			writeError(w, &apiError{status: http.StatusForbidden, code: api.CodeForbidden,
				msg: "listing keys takes the admin token (set http.listing_for_clients to let the client token list)"})
			return
		default:
			g.countList(codeUnauthorized, 0)
			w.Header().Set("WWW-Authenticate", `Bearer realm="dht"`)
			writeError(w, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: "missing or wrong bearer token"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// listQuery is a validated listing request.
type listQuery struct {
	prefix []byte
	limit  int
	cursor listing.Cursor
	values bool
	r      int
	// partitions is the ring's Q when the listing started: its cursor's,
	// and what its requests say (a replica on a resized ring refuses them).
	partitions int
}

// parseList validates every parameter before any replica is asked; an
// unknown one is refused, as on the rest of the client API.
func (g *Gateway) parseList(r *http.Request) (listQuery, *apiError) {
	q := listQuery{r: 1}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, badRequest(codeBadParameter, "query string %q: %v", r.URL.RawQuery, err)
	}
	for name, vs := range query {
		if !slices.Contains([]string{"prefix", "limit", "cursor", "values", "r"}, name) {
			return q, badRequest(codeBadParameter, "unknown parameter %q; a listing takes prefix, limit, cursor, values and r", name)
		}
		if len(vs) > 1 {
			return q, badRequest(codeBadParameter, "parameter %q given %d times", name, len(vs))
		}
	}
	q.prefix = []byte(query.Get("prefix"))
	if len(q.prefix) > g.cfg.Limits.MaxKeyBytes {
		return q, badRequest(codeBadParameter, "prefix is %d bytes, longer than any key (limits.max_key_bytes %d)", len(q.prefix), g.cfg.Limits.MaxKeyBytes)
	}
	if q.limit, err = listing.ParseLimit(query.Get("limit")); err != nil {
		return q, badRequest(codeBadParameter, "limit: %v", err)
	}
	q.partitions = g.partitions()
	if q.cursor, err = listing.DecodeCursor(query.Get("cursor"), q.partitions); err != nil {
		return q, badRequest(api.CodeBadCursor, "cursor: %v; start again without one", err)
	}
	if s := query.Get("values"); s != "" {
		if q.values, err = strconv.ParseBool(s); err != nil {
			return q, badRequest(codeBadParameter, "values=%q, want true or false", s)
		}
	}
	if s := query.Get("r"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > g.cfg.Defaults.N {
			return q, badRequest(codeBadQuorum, "r=%q: a listing asks from 1 to n=%d replicas per partition", s, g.cfg.Defaults.N)
		}
		q.r = n
	}
	return q, nil
}

func (g *Gateway) serveList(w http.ResponseWriter, r *http.Request) {
	q, apiErr := g.parseList(r)
	if apiErr != nil {
		g.countList(apiErr.code, 0)
		writeError(w, apiErr)
		return
	}
	l := listing.New(q.partitions, q.cursor, q.limit)
	started, listed := false, 0
	var stopped error
	sep := ""
	for r.Context().Err() == nil {
		req, ok := l.Next()
		if !ok {
			break
		}
		page, err := g.listPartition(req, q)
		if err != nil {
			if !started {
				// Nothing sent yet: the status can still say it.
				g.countList(codeUnavailable, 0)
				writeError(w, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: err.Error()})
				return
			}
			// Keys are out already: end the page here, its cursor at the
			// failed partition, whose next attempt answers 503 itself.
			stopped = err
			break
		}
		l.Took(page)
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"keys":[`)
		}
		now := g.now()
		for _, e := range page.Entries {
			if q.values {
				// Values are answered at the node's clock, as a read is:
				// one that expired since a replica scanned it is gone.
				if e.Object = e.Object.At(now); e.Object.IsDeleted() {
					continue
				}
			}
			b, err := json.Marshal(listedKey(e, q.values))
			if err != nil {
				panic(fmt.Sprintf("gateway: encoding a listed key: %v", err)) // the API's own types always encode
			}
			_, _ = io.WriteString(w, sep)
			_, _ = w.Write(b)
			sep = ","
		}
		listed += len(page.Entries)
		_ = http.NewResponseController(w).Flush()
	}
	if !started {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, `{"keys":[`)
	}
	tail := struct {
		Cursor string `json:"cursor,omitempty"`
		Error  string `json:"error,omitempty"`
	}{}
	if c, more := l.Cursor(); more {
		tail.Cursor = c.Encode(q.partitions)
	}
	if stopped != nil {
		tail.Error = stopped.Error()
	}
	b, _ := json.Marshal(tail)
	_, _ = io.WriteString(w, "]")
	if len(b) > 2 {
		_, _ = io.WriteString(w, ",")
		_, _ = w.Write(b[1 : len(b)-1])
	}
	_, _ = io.WriteString(w, "}\n")
	g.countList(metrics.ResultOK, listed)
}

// listPartition asks q.r of the partition's serving replicas for one page
// and merges their answers. A replica that fails is replaced by the next
// serving one; fewer than q.r answers fail the partition, named in the
// error, rather than leave its keys silently out.
func (g *Gateway) listPartition(req listing.Request, q listQuery) (listing.Page, error) {
	router := g.cfg.Coordinator.Router
	if router == nil {
		return listing.Page{}, fmt.Errorf("partition %d: no route to its replicas (the node is starting)", req.Partition)
	}
	var candidates []string
	for _, t := range router.Route(req.Partition).Targets {
		// Fallbacks hold hints, not the partition; a rebuilding
		// primary's copy is not whole yet.
		if t.Primary && !t.WriteOnly {
			candidates = append(candidates, t.Node)
		}
	}
	ask, spare := listing.Replicas(candidates, g.cfg.Self, q.r)
	timeout := g.cfg.RequestTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	env := &messages.Envelope{DeadlineUnixMs: time.Now().Add(timeout).UnixMilli(), RingPartitions: uint32(q.partitions), Body: &messages.Envelope_ListRequest{ListRequest: &messages.ListRequest{
		Partition: req.Partition, Prefix: q.prefix, AfterKey: req.After, Limit: uint32(req.Limit), WithValues: q.values,
	}}}
	type pending struct {
		node   string
		future *actor.Future
	}
	send := func(node string) pending {
		return pending{node: node, future: g.root.RequestFuture(router.VnodePID(node, req.Partition), env, timeout)}
	}
	inFlight := make([]pending, 0, len(ask))
	for _, node := range ask {
		inFlight = append(inFlight, send(node))
	}
	var pages []listing.Page
	var failures []string
	for len(inFlight) > 0 {
		p := inFlight[0]
		inFlight = inFlight[1:]
		page, err := listReply(p.future.Result())
		if err == nil {
			pages = append(pages, page)
			continue
		}
		failures = append(failures, fmt.Sprintf("%s: %v", p.node, err))
		if len(spare) > 0 {
			inFlight = append(inFlight, send(spare[0]))
			spare = spare[1:]
		}
	}
	if len(pages) == 0 || len(pages) < q.r {
		why := "no serving replica is reachable"
		if len(failures) > 0 {
			why = strings.Join(failures, "; ")
		}
		return listing.Page{}, fmt.Errorf("partition %d: %d of r=%d replicas answered the listing (%s)", req.Partition, len(pages), q.r, why)
	}
	return listing.Merge(pages, req.Limit), nil
}

// now is the clock answers are read at (the coordinator's, which tests
// inject): TTLs expire by it.
func (g *Gateway) now() time.Time {
	if g.cfg.Coordinator.Now != nil {
		return g.cfg.Coordinator.Now()
	}
	return time.Now()
}

// listReply converts a vnode's answer to a page.
func listReply(res any, err error) (listing.Page, error) {
	if err != nil {
		return listing.Page{}, err
	}
	env, _ := res.(*messages.Envelope)
	if e := env.GetErrorReply(); e != nil {
		return listing.Page{}, fmt.Errorf("%s: %s", e.GetCode(), e.GetMessage())
	}
	reply := env.GetListReply()
	if reply == nil {
		return listing.Page{}, fmt.Errorf("unexpected answer %T", res)
	}
	page := listing.Page{More: reply.GetMore(), Entries: make([]listing.Entry, 0, len(reply.GetEntries()))}
	for _, e := range reply.GetEntries() {
		entry := listing.Entry{Key: e.GetKey()}
		if e.GetObject() != nil {
			if entry.Object, err = wire.ObjectFromProto(e.GetObject()); err != nil {
				return listing.Page{}, fmt.Errorf("key %q: %w", e.GetKey(), err)
			}
		}
		page.Entries = append(page.Entries, entry)
	}
	return page, nil
}

// listedKey renders one entry: its live siblings, oldest first, when values
// were asked.
func listedKey(e listing.Entry, values bool) api.ListedKey {
	k := api.ListedKey{Key: string(e.Key)}
	if !utf8.Valid(e.Key) {
		k.KeyBase64 = e.Key
	}
	if !values {
		return k
	}
	live := e.Object.Live()
	slices.SortStableFunc(live, func(a, b dvv.Sibling) int { return int(a.Timestamp - b.Timestamp) })
	for _, s := range live {
		value := s.Value
		if value == nil {
			value = []byte{}
		}
		k.Siblings = append(k.Siblings, api.Sibling{Value: value, ContentType: s.ContentType, Timestamp: time.UnixMilli(s.Timestamp).UTC()})
	}
	return k
}

// countList counts one listing page by result, and the keys it listed.
func (g *Gateway) countList(result any, keys int) {
	if g.cfg.Metrics == nil || g.cfg.Metrics.ListRequests == nil {
		return
	}
	g.cfg.Metrics.ListRequests.WithLabelValues(fmt.Sprint(result)).Inc()
	g.cfg.Metrics.ListedKeys.Add(float64(keys))
}
