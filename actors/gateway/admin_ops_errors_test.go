package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

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
