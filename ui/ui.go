package ui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"time"
)

//go:embed assets
var assets embed.FS

// Path is where the dashboard's page is served, with and without a
// trailing slash.
const Path = "/ui"

// CSP is the Content-Security-Policy of every asset: scripts, styles and
// connections from the node itself only, no inline script or style, no
// plugin, no frame. The page builds its SVG and sets colours through the
// DOM, which the policy allows.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file with its content type.
type asset struct {
	name        string // file name under assets/
	contentType string
}

// files maps each served path to its asset. The page is served at /ui and
// /ui/ alike, so that neither needs a redirect.
var files = map[string]asset{
	Path:              {"index.html", "text/html; charset=utf-8"},
	Path + "/":        {"index.html", "text/html; charset=utf-8"},
	Path + "/app.js":  {"app.js", "text/javascript; charset=utf-8"},
	Path + "/app.css": {"app.css", "text/css; charset=utf-8"},
}

// Patterns returns the ServeMux path patterns of the dashboard, one per
// asset: /ui, /ui/ exactly ({$}), and each file. Register each with the
// method GET and Handler.
func Patterns() []string {
	return []string{Path, Path + "/{$}", Path + "/app.js", Path + "/app.css"}
}

// modTime is when the assets were built into this binary: the binary's
// start, for If-Modified-Since. The assets change only with the binary.
var modTime = time.Now()

// Handler serves the dashboard's assets. A path that is not one of them is
// answered 404 in plain text; registered with Patterns, the gateway's
// router answers those before Handler sees them.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	a, ok := files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, err := fs.ReadFile(assets, "assets/"+a.name)
	if err != nil {
		// The files are embedded at build time: a missing one is a broken
		// build, not a request error.
		panic("ui: embedded asset missing: " + a.name)
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidate each load, so that an upgraded node serves its own
	// script and not a cached one from before.
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, a.name, modTime, bytes.NewReader(body))
}
