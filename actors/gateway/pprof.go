package gateway

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes serves Go's profiler under /debug/pprof/ (http.pprof), behind
// the admin token: a CPU profile of a node under load is how the write path
// is measured (docs/benchmarks.md). The handlers are registered on the
// gateway's own mux, never on http.DefaultServeMux.
func (g *Gateway) pprofRoutes(mux *http.ServeMux) {
	guard := func(h http.HandlerFunc) http.Handler { return g.requireToken(g.cfg.AdminToken, h) }
	mux.Handle("/debug/pprof/", guard(pprof.Index))
	mux.Handle("/debug/pprof/cmdline", guard(pprof.Cmdline))
	mux.Handle("/debug/pprof/profile", guard(pprof.Profile))
	mux.Handle("/debug/pprof/symbol", guard(pprof.Symbol))
	mux.Handle("/debug/pprof/trace", guard(pprof.Trace))
}
