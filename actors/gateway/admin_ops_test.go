package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dhtkv/dht/metrics"
)

// fakeAdmin is a ClusterAdmin that records its calls and answers each with
// err.
type fakeAdmin struct {
	err error
	mu  struct {
		sync.Mutex
		calls []string // "join", "decommission node-b", ...
	}
}

func (a *fakeAdmin) record(call string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mu.calls = append(a.mu.calls, call)
	return a.err
}

func (a *fakeAdmin) Join() error                 { return a.record("join") }
func (a *fakeAdmin) Decommission(n string) error { return a.record("decommission " + n) }
func (a *fakeAdmin) ForceRemove(n string) error  { return a.record("force-remove " + n) }
func (a *fakeAdmin) Resize(q int) error          { return a.record(fmt.Sprintf("resize %d", q)) }

func (a *fakeAdmin) calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.mu.calls)
}

var _ ClusterAdmin = (*fakeAdmin)(nil)

// errorMessage decodes the message of a JSON error answer.
func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
	}
	return e.Error
}

// newGatewayFor returns a gateway built from cfg with the required fields
// the admin API does not use filled in.
func newGatewayFor(cfg Config) *Gateway {
	cfg.Metrics = metrics.New()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(cfg)
}

// adminMux returns the admin routes of a gateway built from cfg.
func adminMux(cfg Config) *router {
	g := newGatewayFor(cfg)
	mux := newRouter(g.unroutedGuard)
	g.adminRoutes(mux)
	return mux
}

// post sends one POST with body (none when empty) and the admin token auth.
func post(h http.Handler, target, body, auth string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(http.MethodPost, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAdminOps_Accepted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		view     ClusterView
		target   string
		body     string
		wantCall string
		wantBody string
	}{
		{
			name:     "join names the node that rejoins",
			view:     threeNodes(),
			target:   "/admin/join",
			wantCall: "join",
			wantBody: `{"accepted":true,"node":"node-a","action":"join"}`,
		},
		{
			name:     "join before the view is up",
			target:   "/admin/join",
			wantCall: "join",
			wantBody: `{"accepted":true,"action":"join"}`,
		},
		{
			name:     "join with an empty JSON object",
			target:   "/admin/join",
			body:     `{}`,
			wantCall: "join",
			wantBody: `{"accepted":true,"action":"join"}`,
		},
		{
			name:     "decommission by body",
			target:   "/admin/decommission",
			body:     `{"node":"node-b"}`,
			wantCall: "decommission node-b",
			wantBody: `{"accepted":true,"node":"node-b","action":"decommission"}`,
		},
		{
			name:     "decommission by query",
			target:   "/admin/decommission?node=node-b",
			wantCall: "decommission node-b",
			wantBody: `{"accepted":true,"node":"node-b","action":"decommission"}`,
		},
		{
			name:     "query and body agree",
			target:   "/admin/decommission?node=node-b",
			body:     `{"node":"node-b"}`,
			wantCall: "decommission node-b",
			wantBody: `{"accepted":true,"node":"node-b","action":"decommission"}`,
		},
		{
			name:     "force-remove by body, id with escapes",
			target:   "/admin/force-remove",
			body:     " {\"node\":\"n\\u00f6de-c\"}\n",
			wantCall: "force-remove nöde-c",
			wantBody: `{"accepted":true,"node":"nöde-c","action":"force-remove"}`,
		},
		{
			name:     "force-remove by escaped query",
			target:   "/admin/force-remove?node=node%2Fc",
			wantCall: "force-remove node/c",
			wantBody: `{"accepted":true,"node":"node/c","action":"force-remove"}`,
		},
		{
			name:     "longest id",
			target:   "/admin/decommission?node=" + strings.Repeat("x", maxNodeIDBytes),
			wantCall: "decommission " + strings.Repeat("x", maxNodeIDBytes),
			wantBody: `{"accepted":true,"node":"` + strings.Repeat("x", maxNodeIDBytes) + `","action":"decommission"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			admin := &fakeAdmin{}
			rec := post(adminMux(Config{Cluster: tt.view, Admin: admin}), tt.target, tt.body, "")
			if rec.Code != http.StatusAccepted {
				t.Fatalf("POST %s = %d %q, want 202", tt.target, rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", got, tt.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if got := admin.calls(); !slices.Equal(got, []string{tt.wantCall}) {
				t.Errorf("admin calls = %q, want exactly %q", got, tt.wantCall)
			}
		})
	}
}

// TestAdmin_Resize: POST /admin/resize takes the count from the body or
// the query (agreeing when both), answers 202 naming it, and refuses a
// missing, malformed, non-positive or conflicting count, or an unknown
// parameter, 400 without calling the admin; the admin's refusals map to
// 400 (ErrInvalid) and 409 (ErrConflict).
func TestAdmin_Resize(t *testing.T) {
	for _, tt := range []struct{ target, body string }{
		{"/admin/resize", `{"partitions":512}`},
		{"/admin/resize?partitions=512", ""},
		{"/admin/resize?partitions=512", `{"partitions":512}`},
	} {
		admin := &fakeAdmin{}
		rec := post(adminMux(Config{Admin: admin}), tt.target, tt.body, "")
		if rec.Code != http.StatusAccepted || strings.TrimSpace(rec.Body.String()) != `{"accepted":true,"action":"resize","partitions":512}` {
			t.Errorf("POST %s %s = %d %s", tt.target, tt.body, rec.Code, rec.Body)
		}
		if got := admin.calls(); !slices.Equal(got, []string{"resize 512"}) {
			t.Errorf("POST %s %s: admin calls %q", tt.target, tt.body, got)
		}
	}
	for _, tt := range []struct{ target, body string }{
		{"/admin/resize", ""},
		{"/admin/resize", `{"partitions":"512"}`},
		{"/admin/resize", `{"partitions":0}`},
		{"/admin/resize", `{"partitions":512,"node":"a"}`},
		{"/admin/resize?partitions=-4", ""},
		{"/admin/resize?partitions=lots", ""},
		{"/admin/resize?partitions=512&partitions=1024", ""},
		{"/admin/resize?partitions=512", `{"partitions":1024}`},
		{"/admin/resize?node=a", ""},
	} {
		admin := &fakeAdmin{}
		rec := post(adminMux(Config{Admin: admin}), tt.target, tt.body, "")
		if rec.Code != http.StatusBadRequest || len(admin.calls()) != 0 {
			t.Errorf("POST %s %s = %d %s, calls %q; want 400 and no call", tt.target, tt.body, rec.Code, rec.Body, admin.calls())
		}
	}
	for err, want := range map[error]int{ErrInvalid: http.StatusBadRequest, ErrConflict: http.StatusConflict} {
		admin := &fakeAdmin{err: fmt.Errorf("refused: %w", err)}
		if rec := post(adminMux(Config{Admin: admin}), "/admin/resize?partitions=48", "", ""); rec.Code != want || !strings.Contains(rec.Body.String(), "refused") {
			t.Errorf("admin refusing with %v: %d %s, want %d with its message", err, rec.Code, rec.Body, want)
		}
	}
}
