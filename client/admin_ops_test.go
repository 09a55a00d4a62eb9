package client_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

func TestClient_Status(t *testing.T) {
	srv, c := fake(t, "")
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv.SetStatus(&clienttest.Status{
		Node:         "node-a",
		HintsPending: map[string]int{"node-c": 2},
		HintsBytes:   10,
		MerkleRoots:  map[uint32]uint64{3: 99},
		Handoff: clienttest.Handoff{
			Pending: 3, Draining: 1, Completed: 12, ETASeconds: 90.4,
			Active: []clienttest.Transfer{
				{Partition: 4, Kind: "receive", Peer: "node-b", Keys: 50, TotalKeys: 200, Bytes: 4096, StartedAt: started},
			},
		},
	})
	got, err := c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := &client.Status{
		Node:         "node-a",
		HintsPending: map[string]int{"node-c": 2},
		HintsBytes:   10,
		MerkleRoots:  map[uint32]uint64{3: 99},
		Handoff: client.Handoff{
			Pending: 3, Draining: 1, Completed: 12, ETASeconds: 90.4,
			Active: []client.Transfer{
				{Partition: 4, Kind: client.TransferReceive, Peer: "node-b", Keys: 50, TotalKeys: 200, Bytes: 4096, StartedAt: started},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Status =\n%+v\nwant\n%+v", got, want)
	}
	if eta := got.Handoff.ETA(); eta != 90*time.Second {
		t.Errorf("ETA = %v, want 1m30s", eta)
	}
}

func TestHandoff_ETA(t *testing.T) {
	tests := []struct {
		seconds float64
		want    time.Duration
	}{
		{0, 0},
		{-5, 0},
		{math.NaN(), 0},
		{0.4, 0},
		{0.6, time.Second},
		{3599.5, time.Hour},
		{math.Inf(1), time.Duration(math.MaxInt64).Round(time.Second)},
		{1e300, time.Duration(math.MaxInt64).Round(time.Second)},
	}
	for _, tt := range tests {
		if got := (client.Handoff{ETASeconds: tt.seconds}).ETA(); got != tt.want {
			t.Errorf("ETA of %v s = %v, want %v", tt.seconds, got, tt.want)
		}
	}
}

func TestTransfer_Progress(t *testing.T) {
	tests := []struct {
		keys, total int64
		want        float64
		wantOK      bool
	}{
		{keys: 50, total: 200, want: 0.25, wantOK: true},
		{keys: 0, total: 10, want: 0, wantOK: true},
		{keys: 12, total: 10, want: 1.2, wantOK: true}, // writes during the transfer
		{keys: 5, total: 0},
		{keys: 5, total: -1},
	}
	for _, tt := range tests {
		got, ok := client.Transfer{Keys: tt.keys, TotalKeys: tt.total}.Progress()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Progress of %d/%d = %v, %v; want %v, %v", tt.keys, tt.total, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestClient_AdminOps(t *testing.T) {
	tests := []struct {
		name       string
		call       func(*client.Client) (*client.Accepted, error)
		want       *client.Accepted
		wantPath   string
		wantBody   string
		wantStatus int // of the *client.Error, when one is wanted
		wantCode   string
	}{
		{
			name:     "join",
			call:     func(c *client.Client) (*client.Accepted, error) { return c.Join(t.Context()) },
			want:     &client.Accepted{Node: "node-a", Action: "join"},
			wantPath: "/admin/join",
		},
		{
			name:     "decommission",
			call:     func(c *client.Client) (*client.Accepted, error) { return c.Decommission(t.Context(), "node-b") },
			want:     &client.Accepted{Node: "node-b", Action: "decommission"},
			wantPath: "/admin/decommission",
			wantBody: `{"node":"node-b"}`,
		},
		{
			name:     "force-remove a down node",
			call:     func(c *client.Client) (*client.Accepted, error) { return c.ForceRemove(t.Context(), "node-b") },
			want:     &client.Accepted{Node: "node-b", Action: "force-remove"},
			wantPath: "/admin/force-remove",
			wantBody: `{"node":"node-b"}`,
		},
		{
			name:       "decommission an unknown node",
			call:       func(c *client.Client) (*client.Accepted, error) { return c.Decommission(t.Context(), "node-x") },
			wantPath:   "/admin/decommission",
			wantBody:   `{"node":"node-x"}`,
			wantStatus: http.StatusNotFound,
			wantCode:   "unknown_node",
		},
		{
			name:       "force-remove an alive node",
			call:       func(c *client.Client) (*client.Accepted, error) { return c.ForceRemove(t.Context(), "node-a") },
			wantPath:   "/admin/force-remove",
			wantBody:   `{"node":"node-a"}`,
			wantStatus: http.StatusConflict,
			wantCode:   "conflict",
		},
		{
			name:     "id that needs JSON escaping",
			call:     func(c *client.Client) (*client.Accepted, error) { return c.Decommission(t.Context(), `node-"q"`) },
			want:     &client.Accepted{Node: `node-"q"`, Action: "decommission"},
			wantPath: "/admin/decommission",
			wantBody: `{"node":"node-\"q\""}`,
		},
	}
	srv, c := fake(t, "")
	cluster := fakeCluster()
	cluster.Members = append(cluster.Members, clienttest.Member{ID: `node-"q"`, Status: "alive"})
	srv.SetCluster(cluster)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call(c)
			r := srv.LastRequest()
			if r.Method != http.MethodPost || r.EscapedPath != tt.wantPath || string(r.Body) != tt.wantBody {
				t.Errorf("sent %s %s %q, want POST %s %q", r.Method, r.EscapedPath, r.Body, tt.wantPath, tt.wantBody)
			}
			if tt.wantBody != "" && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", r.Header.Get("Content-Type"))
			}
			if tt.wantStatus != 0 {
				var e *client.Error
				if !errors.As(err, &e) || e.Status != tt.wantStatus || e.Code != tt.wantCode {
					t.Fatalf("= %v, %v; want a %d %s *client.Error", got, err, tt.wantStatus, tt.wantCode)
				}
				if client.IsIndeterminate(err) {
					t.Errorf("a refused change is reported as of unknown outcome: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("= %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClient_AdminOpsRefusedLocally(t *testing.T) {
	srv, c := fake(t, "")
	srv.SetCluster(fakeCluster())
	if _, err := c.Decommission(t.Context(), ""); !errors.Is(err, client.ErrEmptyNode) {
		t.Errorf("Decommission(\"\") = %v, want ErrEmptyNode", err)
	}
	if _, err := c.ForceRemove(t.Context(), ""); !errors.Is(err, client.ErrEmptyNode) {
		t.Errorf("ForceRemove(\"\") = %v, want ErrEmptyNode", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Join(ctx); err == nil || client.IsIndeterminate(err) {
		t.Errorf("Join with a done context = %v, want an error of known outcome", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}

func TestClient_AdminOpsDecoding(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    *client.Accepted
		wantErr string
	}{
		{name: "node's answer", status: 202, body: `{"accepted":true,"node":"n","action":"decommission"}`, want: &client.Accepted{Node: "n", Action: "decommission"}},
		{name: "join without a node id", status: 202, body: `{"accepted":true,"action":"join"}`, want: &client.Accepted{Action: "join"}},
		{name: "not accepted", status: 202, body: `{"node":"n"}`, wantErr: `client: decommission: malformed answer: 202 without "accepted":true`},
		{name: "not JSON", status: 202, body: `ok`, wantErr: "client: decommission: malformed answer"},
		{name: "no cluster admin", status: 503, body: `{"error":"cluster admin not available","code":"unavailable"}`, wantErr: "dht: 503 unavailable: cluster admin not available"},
		{name: "bad node", status: 400, body: `{"error":"node id: empty","code":"bad_node"}`, wantErr: "dht: 400 bad_node: node id: empty"},
		{name: "old node without the endpoint", status: 404, body: "404 page not found\n", wantErr: "dht: 404: page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := canned(t, tt.status, map[string]string{"Content-Type": "application/json"}, tt.body)
			got, err := c.Decommission(t.Context(), "n")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("= %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestClient_AdminOpsOutcome checks which transport failures leave an
// ownership change's outcome unknown: a connection cut after the request
// was sent does, a refused connection does not.
func TestClient_AdminOpsOutcome(t *testing.T) {
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	_, err := newClient(t, hangUp.URL).ForceRemove(t.Context(), "node-c")
	if err == nil || !client.IsIndeterminate(err) {
		t.Errorf("ForceRemove cut off after sending = %v, want an error of unknown outcome", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, err = newClient(t, "http://"+addr).ForceRemove(t.Context(), "node-c")
	if err == nil || client.IsIndeterminate(err) || !strings.HasPrefix(err.Error(), "client: force-remove: ") {
		t.Errorf("ForceRemove on a closed port = %v, want a client: force-remove: error of known outcome", err)
	}
}

func TestClient_AdminOpsToken(t *testing.T) {
	srv := clienttest.NewServer("kv-token")
	t.Cleanup(srv.Close)
	srv.SetAdminToken("admin-token")
	srv.SetCluster(fakeCluster())
	if _, err := newClient(t, srv.URL, client.WithToken("kv-token")).Join(t.Context()); err == nil {
		t.Fatal("Join with only the client token succeeded, want 401")
	}
	if _, err := newClient(t, srv.URL, client.WithAdminToken("admin-token")).Join(t.Context()); err != nil {
		t.Fatalf("Join with the admin token: %v", err)
	}
	if got := srv.LastRequest().Header.Get("Authorization"); got != "Bearer admin-token" {
		t.Errorf("Join sent Authorization %q, want the admin token", got)
	}
}
