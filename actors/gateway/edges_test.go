package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// edgesGateway is a gateway with every route registered: the client API
// (kvConfig), the admin API with a view and an event bus, and the profiler.
func edgesGateway() *Gateway {
	cfg := kvConfig()
	cfg.Cluster = threeNodes()
	cfg.Pprof = true
	return newGatewayFor(cfg)
}

// TestRouter_MethodNotAllowed sends each route a method it does not serve:
// a JSON 405 whose Allow lists the route's methods, HEAD wherever GET is.
func TestRouter_MethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := edgesGateway().Handler()
	tests := []struct {
		target    string
		methods   []string
		wantAllow string
	}{
		{target: "/v1/kv/a", methods: []string{"POST", "PATCH", "OPTIONS", "CONNECT"}, wantAllow: "GET, HEAD, PUT, DELETE"},
		{target: "/v1/kv/%2E", methods: []string{"POST"}, wantAllow: "GET, HEAD, PUT, DELETE"},
		{target: "/v1/kv", methods: []string{"POST", "PUT", "DELETE"}, wantAllow: "GET, HEAD"},
		{target: "/admin/members", methods: []string{"POST", "PUT", "DELETE", "PATCH"}, wantAllow: "GET, HEAD"},
		{target: "/admin/ring", methods: []string{"POST"}, wantAllow: "GET, HEAD"},
		{target: "/admin/status", methods: []string{"DELETE"}, wantAllow: "GET, HEAD"},
		{target: "/admin/events", methods: []string{"POST"}, wantAllow: "GET, HEAD"},
		{target: "/admin/join", methods: []string{"GET", "HEAD", "PUT"}, wantAllow: "POST"},
		{target: "/admin/decommission", methods: []string{"GET", "DELETE"}, wantAllow: "POST"},
		{target: "/admin/force-remove", methods: []string{"GET"}, wantAllow: "POST"},
		{target: "/metrics", methods: []string{"POST"}, wantAllow: "GET, HEAD"},
		{target: "/healthz", methods: []string{"POST", "DELETE"}, wantAllow: "GET, HEAD"},
		{target: "/readyz", methods: []string{"PUT"}, wantAllow: "GET, HEAD"},
		{target: "/debug/pprof/", methods: []string{"POST"}, wantAllow: "GET, HEAD"},
		{target: "/debug/pprof/heap", methods: []string{"DELETE"}, wantAllow: "GET, HEAD"},
		{target: "/debug/pprof/symbol", methods: []string{"PUT"}, wantAllow: "GET, HEAD, POST"},
		{target: "/ui", methods: []string{"POST"}, wantAllow: "GET, HEAD"},
		{target: "/ui/", methods: []string{"PUT"}, wantAllow: "GET, HEAD"},
		{target: "/ui/app.js", methods: []string{"DELETE"}, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		for _, method := range tt.methods {
			t.Run(method+" "+tt.target, func(t *testing.T) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(method, tt.target, nil))
				if rec.Code != http.StatusMethodNotAllowed {
					t.Fatalf("%s %s = %d %q, want 405", method, tt.target, rec.Code, rec.Body)
				}
				if got := rec.Header().Get("Allow"); got != tt.wantAllow {
					t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
				}
				wantJSONError(t, rec.Header(), rec.Body.Bytes(), string(codeMethod), method)
			})
		}
	}
}

// TestRouter_UnknownPath: paths no route serves, and paths ServeMux would
// redirect to a cleaned or slashed one, get a JSON answer, never a 3xx.
func TestRouter_UnknownPath(t *testing.T) {
	t.Parallel()
	h := edgesGateway().Handler()
	tests := []struct {
		method, target string
		wantStatus     int
		wantCode       string
		wantInMsg      string
	}{
		{method: "GET", target: "/", wantStatus: 404, wantCode: "unknown_path", wantInMsg: "/v1/kv/{key}"},
		{method: "POST", target: "/", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/nope", wantStatus: 404, wantCode: "unknown_path", wantInMsg: `"/nope"`},
		{method: "GET", target: "/v1", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/v1/kvx", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/v2/kv/a", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/v1/%6Bv/a", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/admin/", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/admin/ring/", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/healthz/", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/debug/pprof", wantStatus: 404, wantCode: "unknown_path", wantInMsg: "/debug/pprof/"},
		{method: "GET", target: "/ui/nope.js", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/ui/app.js/", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/ui//", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/ui/./app.js", wantStatus: 404, wantCode: "unknown_path"},
		// ServeMux would redirect these to the cleaned path.
		{method: "GET", target: "//metrics", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/admin/../metrics", wantStatus: 404, wantCode: "unknown_path"},
		{method: "GET", target: "/healthz/.", wantStatus: 404, wantCode: "unknown_path"},
		// A key's path with dot or empty segments: the cleaned path
		// would name another key.
		{method: "GET", target: "/v1/kv/.", wantStatus: 400, wantCode: "bad_key", wantInMsg: "%2E"},
		{method: "PUT", target: "/v1/kv/..", wantStatus: 400, wantCode: "bad_key", wantInMsg: "%2E%2E"},
		{method: "DELETE", target: "/v1/kv/a/../b", wantStatus: 400, wantCode: "bad_key"},
		{method: "GET", target: "/v1/kv/a/./b", wantStatus: 400, wantCode: "bad_key"},
		{method: "GET", target: "/v1/kv//a", wantStatus: 400, wantCode: "bad_key", wantInMsg: "%2F"},
		{method: "POST", target: "/v1/kv/..", wantStatus: 400, wantCode: "bad_key"},
		// ServeMux would redirect this to the subtree's slash. (GET
		// /v1/kv is key listing: list_test.go.)
		{method: "PUT", target: "/v1/kv", wantStatus: 405, wantCode: "method_not_allowed"},
		// The empty key keeps its answer.
		{method: "GET", target: "/v1/kv/", wantStatus: 400, wantCode: "bad_key", wantInMsg: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s = %d %q (Location %q), want %d", tt.method, tt.target, rec.Code, rec.Body, rec.Header().Get("Location"), tt.wantStatus)
			}
			if loc := rec.Header().Get("Location"); loc != "" {
				t.Errorf("Location = %q: the API never redirects", loc)
			}
			var want []string
			if tt.wantInMsg != "" {
				want = append(want, tt.wantInMsg)
			}
			wantJSONError(t, rec.Header(), rec.Body.Bytes(), tt.wantCode, want...)
		})
	}
}

// TestRouter_Tokens: an unrouted request in a guarded area needs its token
// before it is told anything, as a routed one does; elsewhere it does not.
func TestRouter_Tokens(t *testing.T) {
	t.Parallel()
	cfg := kvConfig()
	cfg.AdminToken, cfg.ClientToken = "admin", "client"
	h := newGatewayFor(cfg).Handler()
	tests := []struct {
		method, target, auth string
		wantStatus           int
	}{
		{method: "POST", target: "/admin/ring", wantStatus: 401},
		{method: "POST", target: "/admin/ring", auth: "Bearer admin", wantStatus: 405},
		{method: "GET", target: "/admin/nope", wantStatus: 401},
		{method: "GET", target: "/admin/nope", auth: "Bearer admin", wantStatus: 404},
		{method: "POST", target: "/v1/kv/a", wantStatus: 401},
		{method: "POST", target: "/v1/kv/a", auth: "Bearer client", wantStatus: 405},
		{method: "GET", target: "/v1/kv/..", auth: "Bearer client", wantStatus: 400},
		{method: "GET", target: "/nope", wantStatus: 404},
		{method: "POST", target: "/healthz", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target+" "+tt.auth, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s = %d %q, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.wantStatus)
			}
			if tt.wantStatus == 401 && rec.Header().Get("Allow") != "" {
				t.Errorf("a 401 showed Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
}

// TestRouter_Head: HEAD answers as GET does, without a body, on every GET
// route (the client API's HEAD is tested against a node, kv_conditional_test).
func TestRouter_Head(t *testing.T) {
	t.Parallel()
	cfg := kvConfig() // with an event bus
	cfg.Cluster = threeNodes()
	cfg.Pprof = true
	srv := httptest.NewServer(newGatewayFor(cfg).Handler())
	t.Cleanup(srv.Close)
	for _, target := range []string{"/admin/members", "/admin/ring", "/admin/status", "/admin/events", "/metrics", "/healthz", "/readyz", "/debug/pprof/", "/nope", "/v1/kv"} {
		t.Run(target, func(t *testing.T) {
			get, err := http.Get(srv.URL + target)
			if err != nil {
				t.Fatal(err)
			}
			_ = get.Body.Close() // the event stream would not end
			head, err := http.Head(srv.URL + target)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(head.Body)
			_ = head.Body.Close()
			if head.StatusCode != get.StatusCode {
				t.Errorf("HEAD = %d, GET = %d", head.StatusCode, get.StatusCode)
			}
			if got, want := head.Header.Get("Content-Type"), get.Header.Get("Content-Type"); got != want {
				t.Errorf("HEAD Content-Type = %q, GET's %q", got, want)
			}
			if len(body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
		})
	}
}

func TestIsCleanPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true}, {"/a", true}, {"/a/", true}, {"/v1/kv/%2E", true}, {"/v1/kv/%2E%2E", true}, {"/a/...", true},
		{"", false}, {"a", false}, {"*", false}, {"//", false}, {"/a//b", false}, {"/a/.", false}, {"/a/..", false},
		{"/./a", false}, {"/a/../b", false}, {"/a/./", false},
	}
	for _, tt := range tests {
		if got := isCleanPath(tt.path); got != tt.want {
			t.Errorf("isCleanPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestRouter_RefusesPatternWithoutMethod(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering /x without a method did not panic")
		}
	}()
	newRouter(func(_ string, h http.Handler) http.Handler { return h }).Handle("/x", http.NotFoundHandler())
}

// TestRouter_NoRedirectAnyMethod sweeps paths ServeMux treats specially
// with every method: no answer is a 3xx or anything but JSON.
func TestRouter_NoRedirectAnyMethod(t *testing.T) {
	t.Parallel()
	h := edgesGateway().Handler()
	paths := []string{"", "/", "//", "/v1/kv", "/v1/kv/", "/v1/kv/.", "/v1/kv/..", "/v1/kv/a/", "/v1/kv/a//", "/debug/pprof", "/debug/pprof/",
		"/debug", "/admin", "/admin/events/", "/metrics/.", "/v1/kv/%2E", "/v1/kv/%2e%2e"}
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT"} {
			req := httptest.NewRequest(m, "/", nil)
			req.URL.Path, req.URL.RawPath = p, ""
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 300 && rec.Code < 400 || rec.Header().Get("Location") != "" {
				t.Errorf("%s %q = %d Location %q: a redirect", m, p, rec.Code, rec.Header().Get("Location"))
			}
			if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("%s %q = %d %q: not JSON", m, p, rec.Code, rec.Header().Get("Content-Type"))
			}
		}
	}
}
