package gateway

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes serves Go's profiler under /debug/pprof/ (http.pprof), behind
// the admin token: a CPU profile of a node under load is how the write path
// is measured (docs/benchmarks.md). The handlers are registered on the
// gateway's own mux, never on http.DefaultServeMux.
func (g *Gateway) pprofRoutes(mux *router) {
	guard := func(h http.HandlerFunc) http.Handler { return g.requireToken(g.cfg.AdminToken, h) }
	// The index serves the named profiles too (/debug/pprof/heap, ...).
	mux.Handle("GET /debug/pprof/{name...}", guard(pprof.Index))
	mux.Handle("GET /debug/pprof/cmdline", guard(pprof.Cmdline))
	mux.Handle("GET /debug/pprof/profile", guard(pprof.Profile))
	// go tool pprof looks symbols up with a POST.
	mux.Handle("GET /debug/pprof/symbol", guard(pprof.Symbol))
	mux.Handle("POST /debug/pprof/symbol", guard(pprof.Symbol))
	mux.Handle("GET /debug/pprof/trace", guard(pprof.Trace))
	// Without a slash the index's relative links would miss; ServeMux
	// would redirect to the slash, and the API never redirects.
	mux.Handle("GET /debug/pprof", guard(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, code: codeUnknownPath, msg: "the profiler's index is /debug/pprof/, with the slash"})
	}))
}
