package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
func adminMux(cfg Config) *http.ServeMux {
	mux := http.NewServeMux()
	newGatewayFor(cfg).adminRoutes(mux)
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

func TestAdminOps_BadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		target   string
		body     string
		wantCode string
		wantMsg  string // substring of the message
	}{
		{name: "no node", target: "/admin/decommission", wantCode: "bad_node", wantMsg: "missing node: decommission needs the id of its target"},
		{name: "body without node", target: "/admin/force-remove", body: `{}`, wantCode: "bad_node", wantMsg: "missing node"},
		{name: "empty node in body", target: "/admin/decommission", body: `{"node":""}`, wantCode: "bad_node", wantMsg: "node id: empty"},
		{name: "empty node in query", target: "/admin/decommission?node=", wantCode: "bad_node", wantMsg: "node id: empty"},
		{name: "oversized node", target: "/admin/force-remove?node=" + strings.Repeat("x", maxNodeIDBytes+1), wantCode: "bad_node", wantMsg: fmt.Sprintf("%d bytes, over the limit of %d", maxNodeIDBytes+1, maxNodeIDBytes)},
		{name: "control character", target: "/admin/decommission?node=a%0Ab", wantCode: "bad_node", wantMsg: "non-printing character"},
		{name: "invalid UTF-8", target: "/admin/decommission?node=%FF", wantCode: "bad_node", wantMsg: "not valid UTF-8"},
		{name: "query and body disagree", target: "/admin/decommission?node=a", body: `{"node":"b"}`, wantCode: "bad_node", wantMsg: `node "a" in the query and "b" in the body disagree`},
		{name: "node twice in query", target: "/admin/decommission?node=a&node=a", wantCode: "bad_parameter", wantMsg: "node given 2 times"},
		{name: "unknown query parameter", target: "/admin/decommission?nod=a", wantCode: "bad_parameter", wantMsg: `unknown query parameter "nod"`},
		{name: "malformed query", target: "/admin/decommission?node=%zz", wantCode: "bad_parameter", wantMsg: "query string"},
		{name: "body not JSON", target: "/admin/decommission", body: `node=a`, wantCode: "bad_parameter", wantMsg: `request body is not {"node":"ID"}`},
		{name: "node not a string", target: "/admin/decommission", body: `{"node":7}`, wantCode: "bad_parameter", wantMsg: `request body is not {"node":"ID"}`},
		{name: "unknown field", target: "/admin/decommission", body: `{"nodes":"a"}`, wantCode: "bad_parameter", wantMsg: `unknown field "nodes"`},
		{name: "two JSON values", target: "/admin/decommission", body: `{"node":"a"}{"node":"b"}`, wantCode: "bad_parameter", wantMsg: "more than one JSON value"},
		{name: "oversized body", target: "/admin/decommission", body: `{"node":"` + strings.Repeat("x", maxAdminBodyBytes) + `"}`, wantCode: "bad_parameter", wantMsg: "request body over 4096 bytes"},
		{name: "join with a node in the body", target: "/admin/join", body: `{"node":"node-b"}`, wantCode: "bad_node", wantMsg: "join takes no node"},
		{name: "join with a node in the query", target: "/admin/join?node=node-b", wantCode: "bad_node", wantMsg: "join takes no node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			admin := &fakeAdmin{}
			rec := post(adminMux(Config{Admin: admin}), tt.target, tt.body, "")
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("POST %s %q = %d %q, want 400", tt.target, tt.body, rec.Code, rec.Body)
			}
			if code := errorCode(t, rec); code != tt.wantCode {
				t.Errorf("code = %q, want %q", code, tt.wantCode)
			}
			if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q does not name the problem %q", msg, tt.wantMsg)
			}
			if calls := admin.calls(); len(calls) != 0 {
				t.Errorf("bad input reached the admin: %q", calls)
			}
		})
	}
}

func TestAdminOps_AdminErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{
			name:       "unknown node",
			err:        fmt.Errorf("decommission node-x: %w", ErrUnknownNode),
			wantStatus: http.StatusNotFound,
			wantBody:   `{"error":"decommission node-x: unknown node","code":"unknown_node"}`,
		},
		{
			name:       "conflict",
			err:        fmt.Errorf("node-x is alive: %w", ErrConflict),
			wantStatus: http.StatusConflict,
			wantBody:   `{"error":"node-x is alive: conflict","code":"conflict"}`,
		},
		{
			name:       "node failure",
			err:        errors.New("ring state: disk full"),
			wantStatus: http.StatusInternalServerError,
			wantBody:   `{"error":"decommission: ring state: disk full","code":"internal"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := post(adminMux(Config{Admin: &fakeAdmin{err: tt.err}}), "/admin/decommission?node=node-x", "", "")
			if rec.Code != tt.wantStatus || strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("= %d %s, want %d %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestAdminOps_Methods(t *testing.T) {
	t.Parallel()
	admin := &fakeAdmin{}
	mux := adminMux(Config{Admin: admin})
	for _, target := range []string{"/admin/join", "/admin/decommission?node=a", "/admin/force-remove?node=a"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete} {
			t.Run(method+" "+target, func(t *testing.T) {
				rec := serve(mux, method, target, "")
				if rec.Code != http.StatusMethodNotAllowed {
					t.Fatalf("%s %s = %d, want 405", method, target, rec.Code)
				}
				if got := rec.Header().Get("Allow"); got != "POST" {
					t.Errorf("Allow = %q, want POST", got)
				}
				if method != http.MethodHead {
					if code := errorCode(t, rec); code != "method_not_allowed" {
						t.Errorf("code = %q, want method_not_allowed", code)
					}
				}
			})
		}
	}
	if calls := admin.calls(); len(calls) != 0 {
		t.Errorf("wrong methods reached the admin: %q", calls)
	}
}

func TestAdminOps_NoAdmin(t *testing.T) {
	t.Parallel()
	mux := adminMux(Config{Cluster: threeNodes()})
	for _, target := range []string{"/admin/join", "/admin/decommission?node=a", "/admin/force-remove?node=a"} {
		rec := post(mux, target, "", "")
		const want = `{"error":"cluster admin not available","code":"unavailable"}`
		if rec.Code != http.StatusServiceUnavailable || strings.TrimSpace(rec.Body.String()) != want {
			t.Errorf("POST %s = %d %q, want 503 %s", target, rec.Code, rec.Body, want)
		}
	}
}

func TestAdminOps_Token(t *testing.T) {
	t.Parallel()
	const token = "admin-s3cret"
	tests := []struct {
		name       string
		auth       string
		wantStatus int
	}{
		{name: "no header", wantStatus: http.StatusUnauthorized},
		{name: "wrong token", auth: "Bearer wrong", wantStatus: http.StatusUnauthorized},
		{name: "right token", auth: "Bearer " + token, wantStatus: http.StatusAccepted},
	}
	for _, tt := range tests {
		for _, target := range []string{"/admin/join", "/admin/decommission?node=a", "/admin/force-remove?node=a"} {
			t.Run(tt.name+" "+target, func(t *testing.T) {
				t.Parallel()
				admin := &fakeAdmin{}
				rec := post(adminMux(Config{AdminToken: token, Admin: admin}), target, "", tt.auth)
				if rec.Code != tt.wantStatus {
					t.Fatalf("POST %s with %q = %d %q, want %d", target, tt.auth, rec.Code, rec.Body, tt.wantStatus)
				}
				if tt.wantStatus != http.StatusUnauthorized {
					return
				}
				if code := errorCode(t, rec); code != "unauthorized" {
					t.Errorf("code = %q, want unauthorized", code)
				}
				if calls := admin.calls(); len(calls) != 0 {
					t.Errorf("an unauthorised request reached the admin: %q", calls)
				}
			})
		}
	}
}

// statusView is a ClusterView showing a given status.
type statusView struct {
	*fakeView
	status StatusInfo
}

func (v statusView) Status() StatusInfo { return v.status }

func TestAdmin_Status(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status StatusInfo
		want   string
	}{
		{
			name: "handoff under way",
			status: StatusInfo{
				Node:         "node-a",
				HintsPending: map[string]int{"node-c": 2},
				HintsBytes:   10,
				MerkleRoots:  map[uint32]uint64{3: 99},
				Handoff: HandoffStatus{
					Pending:  3,
					Draining: 1,
					Active: []TransferInfo{
						{Partition: 4, Kind: TransferReceive, Peer: "node-b", Keys: 50, TotalKeys: 200, Bytes: 4096, StartedAt: started},
						{Partition: 0, Kind: TransferDrain, Peer: "node-c", Keys: 7, Bytes: 70, StartedAt: started},
					},
					Completed:  12,
					ETASeconds: 90.5,
				},
			},
			want: `{"node":"node-a","hints_pending":{"node-c":2},"hints_bytes":10,"merkle_roots":{"3":99},` +
				`"handoff":{"pending":3,"draining":1,"active":[` +
				`{"partition":4,"kind":"receive","peer":"node-b","keys":50,"total_keys":200,"bytes":4096,"started_at":"2026-03-01T12:00:00Z"},` +
				`{"partition":0,"kind":"drain","peer":"node-c","keys":7,"total_keys":0,"bytes":70,"started_at":"2026-03-01T12:00:00Z"}],` +
				`"completed":12,"eta_seconds":90.5,"ring_version":0,"settled":false}}`,
		},
		{
			name:   "idle node",
			status: StatusInfo{Node: "node-a"},
			want: `{"node":"node-a","hints_pending":{},"hints_bytes":0,"merkle_roots":{},` +
				`"handoff":{"pending":0,"draining":0,"active":[],"completed":0,"eta_seconds":0,"ring_version":0,"settled":false}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(adminMux(Config{Cluster: statusView{threeNodes(), tt.status}}), http.MethodGet, "/admin/status", "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /admin/status = %d %q, want 200", rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
