package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dhtkv/dht/metrics"
)

// fakeView is a ClusterView with fixed contents. It hands out its own slices
// on every call, as a view sharing state with its readers may, so a handler
// that sorted or edited them in place would race under -race.
type fakeView struct {
	members []MemberInfo
	ring    RingInfo
}

func (v *fakeView) Members() []MemberInfo { return v.members }
func (v *fakeView) Ring() RingInfo        { return v.ring }
func (v *fakeView) Status() StatusInfo {
	return StatusInfo{Node: "a", HintsPending: map[string]int{"b": 2}, HintsBytes: 10}
}

// threeNodes is a small cluster, its members deliberately out of id order.
func threeNodes() *fakeView {
	return &fakeView{
		members: []MemberInfo{
			{ID: "node-c", Zone: "z2", Status: MemberDown, Owner: true, HTTPAddr: "10.0.0.3:8080", RemoteAddr: "10.0.0.3:7946", Replicas: 8},
			{ID: "node-a", Zone: "z1", Status: MemberAlive, Owner: true, HTTPAddr: "10.0.0.1:8080", RemoteAddr: "10.0.0.1:7946", Replicas: 8, Self: true},
			{ID: "node-b", Status: MemberLeft},
		},
		ring: RingInfo{Partitions: 2, N: 2, Version: 7, Replicas: [][]string{{"node-a", "node-c"}, {"node-c", "node-a"}}},
	}
}

// newAdminMux returns the admin routes of a gateway built with token and
// view, mounted on a mux of their own so that they are tested whether or
// not routes includes them.
func newAdminMux(t *testing.T, token string, view ClusterView) *router {
	t.Helper()
	g := New(Config{
		AdminToken: token,
		Cluster:    view,
		Metrics:    metrics.New(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	mux := newRouter(g.unroutedGuard)
	g.adminRoutes(mux)
	return mux
}

// serve sends one request to h and returns the recorded answer.
func serve(h http.Handler, method, target, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorCode decodes the code of a JSON error answer.
func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Error, Code string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("error body %q is not a JSON error: %v", rec.Body, err)
	}
	return e.Code
}

func TestAdmin_Bodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		view   *fakeView
		target string
		want   string
	}{
		{
			name:   "members sorted by id",
			view:   threeNodes(),
			target: "/admin/members",
			want: `{"members":[` +
				`{"id":"node-a","zone":"z1","status":"alive","owner":true,"http_addr":"10.0.0.1:8080","remote_addr":"10.0.0.1:7946","replicas":8,"self":true},` +
				`{"id":"node-b","status":"left","owner":false,"replicas":0},` +
				`{"id":"node-c","zone":"z2","status":"down","owner":true,"http_addr":"10.0.0.3:8080","remote_addr":"10.0.0.3:7946","replicas":8}]}`,
		},
		{
			name:   "no members",
			view:   &fakeView{},
			target: "/admin/members",
			want:   `{"members":[]}`,
		},
		{
			name:   "ring",
			view:   threeNodes(),
			target: "/admin/ring",
			want:   `{"partitions":2,"n":2,"version":7,"replicas":[["node-a","node-c"],["node-c","node-a"]]}`,
		},
		{
			name:   "ring with unassigned partitions",
			view:   &fakeView{ring: RingInfo{Partitions: 2, N: 3, Replicas: [][]string{nil, {"node-a"}}}},
			target: "/admin/ring",
			want:   `{"partitions":2,"n":3,"version":0,"replicas":[[],["node-a"]]}`,
		},
		{
			name:   "empty ring",
			view:   &fakeView{},
			target: "/admin/ring",
			want:   `{"partitions":0,"n":0,"version":0,"replicas":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(newAdminMux(t, "", tt.view), http.MethodGet, tt.target, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %q, want 200", tt.target, rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Errorf("GET %s body\n got %s\nwant %s", tt.target, got, tt.want)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
}

// TestAdmin_LeavesViewUntouched checks that rendering sorts a copy: the
// view's own slice keeps its order, and concurrent requests do not race on
// it (run with -race).
func TestAdmin_LeavesViewUntouched(t *testing.T) {
	t.Parallel()
	view := threeNodes()
	srv := httptest.NewServer(newAdminMux(t, "", view))
	defer srv.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, path := range []string{"/admin/members", "/admin/ring"} {
				resp, err := srv.Client().Get(srv.URL + path)
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if got := view.members[0].ID; got != "node-c" {
		t.Errorf("view's first member = %s after serving, want node-c: the handler reordered the view's slice", got)
	}
}

func TestAdmin_Methods(t *testing.T) {
	t.Parallel()
	mux := newAdminMux(t, "", threeNodes())
	for _, target := range []string{"/admin/members", "/admin/ring"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			t.Run(method+" "+target, func(t *testing.T) {
				rec := serve(mux, method, target, "")
				if rec.Code != http.StatusMethodNotAllowed {
					t.Fatalf("%s %s = %d %q, want 405", method, target, rec.Code, rec.Body)
				}
				if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow = %q, want GET, HEAD", got)
				}
				if code := errorCode(t, rec); code != "method_not_allowed" {
					t.Errorf("code = %q, want method_not_allowed", code)
				}
			})
		}
		t.Run("HEAD "+target, func(t *testing.T) {
			rec := serve(mux, http.MethodHead, target, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("HEAD %s = %d, want 200", target, rec.Code)
			}
		})
	}
}

func TestAdmin_NoClusterView(t *testing.T) {
	t.Parallel()
	mux := newAdminMux(t, "", nil)
	for _, target := range []string{"/admin/members", "/admin/ring"} {
		rec := serve(mux, http.MethodGet, target, "")
		const want = `{"error":"cluster view not available","code":"unavailable"}`
		if rec.Code != http.StatusServiceUnavailable || strings.TrimSpace(rec.Body.String()) != want {
			t.Errorf("GET %s = %d %q, want 503 %s", target, rec.Code, rec.Body, want)
		}
	}
}

func TestAdmin_Token(t *testing.T) {
	t.Parallel()
	const token = "admin-s3cret"
	mux := newAdminMux(t, token, threeNodes())
	tests := []struct {
		name       string
		method     string
		auth       string
		wantStatus int
	}{
		{name: "no header", method: http.MethodGet, wantStatus: http.StatusUnauthorized},
		{name: "wrong token", method: http.MethodGet, auth: "Bearer wrong", wantStatus: http.StatusUnauthorized},
		{name: "token prefix", method: http.MethodGet, auth: "Bearer " + token[:5], wantStatus: http.StatusUnauthorized},
		{name: "bare token", method: http.MethodGet, auth: token, wantStatus: http.StatusUnauthorized},
		// The token is checked first: without it, not even the allowed
		// methods are revealed.
		{name: "wrong method without token", method: http.MethodPost, wantStatus: http.StatusUnauthorized},
		{name: "right token", method: http.MethodGet, auth: "Bearer " + token, wantStatus: http.StatusOK},
		{name: "scheme in lower case", method: http.MethodGet, auth: "bearer " + token, wantStatus: http.StatusOK},
		{name: "wrong method with token", method: http.MethodPost, auth: "Bearer " + token, wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		for _, target := range []string{"/admin/members", "/admin/ring"} {
			t.Run(tt.name+" "+target, func(t *testing.T) {
				rec := serve(mux, tt.method, target, tt.auth)
				if rec.Code != tt.wantStatus {
					t.Fatalf("%s %s with %q = %d %q, want %d", tt.method, target, tt.auth, rec.Code, rec.Body, tt.wantStatus)
				}
				if tt.wantStatus != http.StatusUnauthorized {
					return
				}
				if code := errorCode(t, rec); code != "unauthorized" {
					t.Errorf("code = %q, want unauthorized", code)
				}
				if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", rec.Header().Get("WWW-Authenticate"))
				}
			})
		}
	}
}
