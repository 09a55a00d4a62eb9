package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHandler_ServesEachPattern registers Patterns as the gateway does and
// fetches every asset: 200, its content type, the security headers.
func TestHandler_ServesEachPattern(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range Patterns() {
		mux.Handle("GET "+p, Handler())
	}
	tests := []struct{ path, wantType, wantIn string }{
		{"/ui", "text/html; charset=utf-8", "<svg id=\"ring\""},
		{"/ui/", "text/html; charset=utf-8", "<svg id=\"ring\""},
		{"/ui/app.js", "text/javascript; charset=utf-8", "parseMetrics"},
		{"/ui/app.css", "text/css; charset=utf-8", "#ring"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tt.path, rec.Code)
			}
			h := rec.Header()
			for k, want := range map[string]string{
				"Content-Type": tt.wantType, "Content-Security-Policy": CSP,
				"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(rec.Body.String(), tt.wantIn) {
				t.Errorf("body of %s lacks %q", tt.path, tt.wantIn)
			}
		})
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/missing", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /ui/missing = %d, want 404", rec.Code)
	}
}

// TestAssets_NothingInline: the CSP allows no inline script, style or
// event handler, so the page must have none, or the browser would refuse
// it silently. Every asset the page names must be served.
func TestAssets_NothingInline(t *testing.T) {
	page, err := fs.ReadFile(assets, "assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(m, ` src="`) {
			t.Errorf("inline script %s: the CSP refuses it", m)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle="`),
		regexp.MustCompile(`\son[a-z]+="`),
		regexp.MustCompile(`javascript:`),
		regexp.MustCompile(`https?://`),
	} {
		if loc := bad.FindStringIndex(html); loc != nil {
			t.Errorf("index.html has %q: inline code, or an address off the node", html[loc[0]:loc[1]])
		}
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="(/ui/[^"]*)"`).FindAllStringSubmatch(html, -1) {
		if _, ok := files[m[1]]; !ok {
			t.Errorf("index.html names %s, which is not served", m[1])
		}
	}
	for path, a := range files {
		if _, err := fs.ReadFile(assets, "assets/"+a.name); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
