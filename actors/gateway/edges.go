package gateway

import (
	"fmt"
	"net/http"
	"path"
	"reflect"
	"strings"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/ui"
)

// router is the gateway's http.ServeMux, routed by Go 1.22 method patterns
// ("GET /admin/ring"), with the answers that ServeMux gives by itself for a
// request matching none taken away from it. ServeMux answers those in plain
// text or HTML: 404 for an unknown path, 405 for a wrong method, and a
// redirect (307, with an HTML body) to the cleaned path ("/v1/kv/." to
// "/v1/kv/") or to a subtree's slash ("/v1/kv" to "/v1/kv/"). Every answer of the API is a JSON
// api.Error, and a redirect of a key's path would reach another key (or
// none), so the router asks the mux first (Handler) and serves through it
// only a request that matches a pattern registered here; every other request
// is answered by unrouted, in JSON, and never redirected.
//
// Routes are registered before the server starts (routes, metricsRoutes)
// and never after: patterns is read without a lock while serving.
type router struct {
	mux *http.ServeMux
	// patterns holds every registered pattern: Handler's pattern is "" for
	// its 404 and 405, which are not found here.
	patterns map[string]bool
	// guard wraps an unrouted answer for path in the guard of the area
	// the path falls in (Gateway.unroutedGuard).
	guard func(path string, h http.Handler) http.Handler
}

func newRouter(guard func(path string, h http.Handler) http.Handler) *router {
	return &router{mux: http.NewServeMux(), patterns: map[string]bool{}, guard: guard}
}

// Handle registers h for pattern, which must name a method: "GET /path".
// A GET pattern serves HEAD too, as ServeMux does; net/http drops the body.
func (rt *router) Handle(pattern string, h http.Handler) {
	method, _, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || strings.HasPrefix(method, "/") {
		// A pattern without a method would take every method, leaving no
		// 405 to answer; the routes are fixed at build time.
		panic(fmt.Sprintf("gateway: route %q names no method", pattern))
	}
	rt.mux.Handle(pattern, h)
	rt.patterns[pattern] = true
}

// HandleFunc registers f for pattern, as Handle.
func (rt *router) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	rt.Handle(pattern, http.HandlerFunc(f))
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.routed(r) {
		// Served through the mux, not by the handler Handler returned, so
		// that the request carries its Pattern and path values.
		rt.mux.ServeHTTP(w, r)
		return
	}
	rt.unrouted(w, r)
}

// routed reports whether r matches a registered pattern as it is. A path
// that cleaning would change is never routed: ServeMux would redirect it.
func (rt *router) routed(r *http.Request) bool {
	if !isCleanPath(r.URL.EscapedPath()) {
		return false
	}
	h, pattern := rt.mux.Handler(r)
	// For a redirect to the subtree's slash ("PUT /v1/kv" to the pattern
	// "PUT /v1/kv/{key...}") Handler names the pattern redirected to; the
	// handler is then ServeMux's redirect, of the type RedirectHandler
	// returns, which no route uses.
	return rt.patterns[pattern] && reflect.TypeOf(h) != redirectHandlerType
}

var redirectHandlerType = reflect.TypeOf(http.RedirectHandler("/", http.StatusTemporaryRedirect))

// probedMethods are the methods a 405's Allow header may list: those the
// routes use. HEAD is asked for on its own; a GET pattern matches it.
var probedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}

// allowed returns the methods routed at r's path, in probedMethods' order.
func (rt *router) allowed(r *http.Request) []string {
	var methods []string
	for _, m := range probedMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if rt.routed(probe) {
			methods = append(methods, m)
		}
	}
	return methods
}

// unrouted answers a request that matches no route, behind the guard of
// its path's area.
func (rt *router) unrouted(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	clean := isCleanPath(p)
	var allowed []string
	if clean {
		allowed = rt.allowed(r)
	}
	e := unroutedError(r.Method, p, clean, allowed)
	rt.guard(p, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if e.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		writeError(w, e)
	})).ServeHTTP(w, r)
}

// unroutedError is the answer to method on the escaped path p that matches
// no route: clean says whether p is in the form routes match (isCleanPath),
// allowed lists the methods routed at p. A key's path that is not clean
// holds a "." or ".." segment or an empty one: it is refused as a bad key
// rather than cleaned, since the cleaned path names another key. Any other
// path the routes know is a 405, anything else 404 unknown_path.
func unroutedError(method, p string, clean bool, allowed []string) *apiError {
	switch {
	case !clean && strings.HasPrefix(p, kvPrefix):
		return badRequest(codeBadKey, "the key's path has a '.' or '..' segment or an empty one, which would be removed, not sent: "+
			"send the key as one segment, '.' as %%2E, '..' as %%2E%%2E and '/' as %%2F (api.EscapeKey)")
	case len(allowed) > 0:
		return &apiError{status: http.StatusMethodNotAllowed, code: codeMethod,
			msg: fmt.Sprintf("method %s not allowed on %s; use %s", method, quotePath(p), strings.Join(allowed, ", "))}
	case p == "" || p == "/":
		return &apiError{status: http.StatusNotFound, code: codeUnknownPath,
			msg: "no such path: the client API is " + kvPrefix + "{key}, the dashboard " + ui.Path + "; see the README's HTTP API"}
	}
	return &apiError{status: http.StatusNotFound, code: codeUnknownPath,
		msg: fmt.Sprintf("no such path %s (paths are matched as sent, never cleaned or redirected); the client API is %s{key}", quotePath(p), kvPrefix)}
}

// quotePath quotes p for an error message, cut short: a message need not
// echo a path of a megabyte.
func quotePath(p string) string {
	const max = 128
	if len(p) > max {
		return fmt.Sprintf("%q…", p[:max])
	}
	return fmt.Sprintf("%q", p)
}

// isCleanPath reports whether the escaped path p is one that ServeMux routes
// without redirecting: absolute, with no "." or ".." segment and no empty
// one ("//"), as net/http's cleanPath leaves it. Percent-encoded dots
// (%2E) are not dot segments, which is how the keys "." and ".." are sent.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// unroutedGuard wraps the answer to an unrouted request in the guard of the
// area its path falls in, as a routed one would be: a wrong method or path
// under /admin/ or /debug/ is refused 401 without the admin token, so that
// not even the allowed methods are shown; one under /v1/kv needs the client
// token and is counted in the request metrics (op "other" for a wrong
// method), like the client API's other refusals.
func (g *Gateway) unroutedGuard(p string, h http.Handler) http.Handler {
	switch {
	case strings.HasPrefix(p, "/admin/") || strings.HasPrefix(p, "/debug/"):
		return g.requireToken(g.cfg.AdminToken, h)
	case strings.HasPrefix(p, api.ListPath):
		return g.instrument(g.requireToken(g.cfg.ClientToken, h))
	}
	return h
}
