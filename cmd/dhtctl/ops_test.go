package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOps(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPath string
		wantBody string
		want     string // stderr
	}{
		{
			name:     "join",
			args:     []string{"join"},
			wantPath: "/admin/join",
			want:     "join accepted: node-a becomes an owner again; partitions move to it in the background\n",
		},
		{
			name:     "decommission",
			args:     []string{"decommission", "node-b"},
			wantPath: "/admin/decommission",
			wantBody: `{"node":"node-b"}`,
			want:     "decommission of node-b accepted: it hands its replicas to their new owners, then leaves the cluster\n",
		},
		{
			name:     "force-remove a down node",
			args:     []string{"force-remove", "node-c", "--yes"},
			wantPath: "/admin/force-remove",
			wantBody: `{"node":"node-c"}`,
			want:     "force-remove of node-c accepted: its partitions are rebuilt on their new owners from the surviving replicas\n",
		},
	}
	srv, env := newClusterFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitOK)
			if r.stderr != tt.want {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing: a confirmation is not a result", r.stdout)
			}
			req := srv.LastRequest()
			if req.Method != http.MethodPost || req.EscapedPath != tt.wantPath || string(req.Body) != tt.wantBody {
				t.Errorf("sent %s %s %q, want POST %s %q", req.Method, req.EscapedPath, req.Body, tt.wantPath, tt.wantBody)
			}
		})
	}
}

func TestOps_Refused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{
			name: "unknown node",
			args: []string{"decommission", "node-x"},
			want: []string{"dhtctl: dht: 404 unknown_node: decommission node-x: unknown node", "'dhtctl members' lists the nodes"},
		},
		{
			name: "force-remove an alive node",
			args: []string{"force-remove", "node-b", "--yes"},
			want: []string{"dhtctl: dht: 409 conflict", "run 'dhtctl decommission node-b' to retire a live node"},
		},
	}
	_, env := newClusterFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitError)
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr = %q, want it to contain %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

// TestOps_NoClusterAdmin checks the answer of a node that is still starting.
func TestOps_NoClusterAdmin(t *testing.T) {
	_, env, _ := newFake(t)
	r := dhtctl(t, env, "", "join")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "dhtctl: dht: 503 unavailable: cluster admin not available") {
		t.Fatalf("stderr = %q, want the 503", r.stderr)
	}
}

func TestOps_UsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"force-remove without --yes", []string{"force-remove", "node-c"},
			"force-remove is destructive: node-c leaves the ring for good and data only it holds is lost; if it is down for good, run again with --yes"},
		{"decommission without a node", []string{"decommission"}, "missing NODE"},
		{"force-remove without a node", []string{"force-remove", "--yes"}, "missing NODE"},
		{"empty node", []string{"decommission", ""}, "NODE must not be empty"},
		{"two nodes", []string{"decommission", "a", "b"}, "too many arguments"},
		{"join with a node", []string{"join", "node-a"}, `unknown command "node-a"`},
	}
	srv, env := newClusterFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitUsage)
			if !strings.HasPrefix(r.stderr, "dhtctl: ") || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr = %q, want dhtctl: ...%s...", r.stderr, tt.want)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("usage errors sent %d requests", n)
	}
}

func TestOps_AdminToken(t *testing.T) {
	srv, env := newClusterFake(t)
	srv.SetAdminToken("admin-s3cret")
	r := dhtctl(t, env, "", "decommission", "node-b")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "401 unauthorized") || !strings.Contains(r.stderr, "--admin-token") {
		t.Fatalf("stderr = %q, want the 401 and how to pass the admin token", r.stderr)
	}
	env[envAdminToken] = "admin-s3cret"
	dhtctl(t, env, "", "decommission", "node-b").want(t, exitOK)
}

// TestOps_OutcomeUnknown checks the advice when the connection is cut after
// the change was sent: it may have been recorded.
func TestOps_OutcomeUnknown(t *testing.T) {
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	r := dhtctl(t, map[string]string{envAddr: hangUp.URL}, "", "decommission", "node-b")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "the decommission may still have been recorded: check with 'dhtctl members'") {
		t.Fatalf("stderr = %q, want the advice for an unknown outcome", r.stderr)
	}
}

func TestRun_HelpListsClusterCommands(t *testing.T) {
	r := dhtctl(t, nil, "", "--help")
	r.want(t, exitOK)
	_, cluster, ok := strings.Cut(r.stdout, "Cluster commands:")
	if !ok {
		t.Fatalf("help lacks the cluster commands group:\n%s", r.stdout)
	}
	cluster, _, _ = strings.Cut(cluster, "\n\n")
	for _, name := range []string{"members", "ring", "status", "events", "join", "decommission", "force-remove"} {
		if !strings.Contains(cluster, "\n  "+name+" ") {
			t.Errorf("cluster commands group lacks %s:\n%s", name, cluster)
		}
	}
}
