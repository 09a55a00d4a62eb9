// Package ui owns the web dashboard every node serves at /ui: a page, a
// script and a style sheet, hand-written and embedded in the binary, so the
// dashboard needs no network access, no build step and no CDN.
//
// The package serves the assets and nothing else. The page reads the
// cluster the way any client does, over the node's own HTTP API: it polls
// GET /admin/members, /admin/ring, /admin/status and /metrics, follows
// GET /admin/events as a stream, and posts /admin/decommission and
// /admin/force-remove. Everything it shows comes from those endpoints, which
// keep their own guards; the assets themselves hold no cluster data.
//
// The admin token. A browser sends no bearer header on a page load, so the
// assets are served without the token, and the page asks for the token
// when an admin endpoint answers 401. It keeps the token in the tab's
// sessionStorage (never in a URL, so it appears in no access log, browser
// history or Referer) and sends it as "Authorization: Bearer" on each of its
// fetches. The event stream is read with fetch and a streaming reader rather
// than EventSource, which cannot send headers.
//
// Same origin only. The page talks to the node that served it; other nodes
// would need CORS, which the API does not grant. The members table links to
// each node's own dashboard for its status and metrics.
//
// The gateway registers the routes with
//
//	for _, p := range ui.Patterns() {
//		mux.Handle("GET "+p, ui.Handler())
//	}
//
// so that a path under /ui/ that names no asset falls to the gateway's
// router and gets its JSON 404, and /ui is served as it is, never
// redirected to /ui/.
//
// Concurrency: Handler's handler is safe for concurrent use; it only reads
// the embedded files.
package ui
