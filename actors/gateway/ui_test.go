package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dhtkv/dht/ui"
)

// TestRoutes_Dashboard: the dashboard is served at /ui and /ui/ alike,
// without a redirect and without the admin token (its assets hold no
// cluster data), while the admin API it reads keeps its guard.
func TestRoutes_Dashboard(t *testing.T) {
	t.Parallel()
	cfg := kvConfig()
	cfg.Cluster = threeNodes()
	cfg.AdminToken = "admin"
	h := newGatewayFor(cfg).Handler()
	tests := []struct {
		target, wantType string
	}{
		{target: "/ui", wantType: "text/html; charset=utf-8"},
		{target: "/ui/", wantType: "text/html; charset=utf-8"},
		{target: "/ui/app.js", wantType: "text/javascript; charset=utf-8"},
		{target: "/ui/app.css", wantType: "text/css; charset=utf-8"},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+tt.target, func(t *testing.T) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(method, tt.target, nil))
				if rec.Code != http.StatusOK {
					t.Fatalf("%s %s = %d %q, want 200", method, tt.target, rec.Code, rec.Body)
				}
				if got := rec.Header().Get("Content-Type"); got != tt.wantType {
					t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
				}
				if got := rec.Header().Get("Content-Security-Policy"); got != ui.CSP {
					t.Errorf("Content-Security-Policy = %q, want %q", got, ui.CSP)
				}
				if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
				}
				if loc := rec.Header().Get("Location"); loc != "" {
					t.Errorf("Location = %q: no redirect", loc)
				}
			})
		}
	}
	// The data the page reads is still behind the token.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/ring", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("GET /admin/ring without the token = %d, want 401", rec.Code)
	}
	// The root's 404 points a browser at the dashboard.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), ui.Path) {
		t.Errorf("GET / = %q, want it to name %s", rec.Body, ui.Path)
	}
}
