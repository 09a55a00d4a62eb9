package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

// fakeCluster is a three-node cluster on a ring of eight partitions.
func fakeCluster() *clienttest.Cluster {
	return &clienttest.Cluster{
		Members: []clienttest.Member{
			{ID: "node-b", Zone: "z2", Status: "down", Owner: true, HTTPAddr: "10.0.0.2:8080", RemoteAddr: "10.0.0.2:7946", Replicas: 8},
			{ID: "node-a", Zone: "z1", Status: "alive", Owner: true, HTTPAddr: "10.0.0.1:8080", RemoteAddr: "10.0.0.1:7946", Replicas: 8, Self: true},
			{ID: "node-c", Status: "left"},
		},
		Ring: clienttest.Ring{Partitions: 8, N: 2, Version: 42, Replicas: [][]string{
			{"node-a", "node-b"}, {"node-b", "node-a"}, {"node-a", "node-b"}, {"node-b", "node-a"},
			{"node-a", "node-b"}, {"node-b", "node-a"}, {"node-a", "node-b"}, {"node-b", "node-a"},
		}},
	}
}

func TestClient_Members(t *testing.T) {
	srv, c := fake(t, "")
	srv.SetCluster(fakeCluster())
	got, err := c.Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Member{
		{ID: "node-a", Zone: "z1", Status: client.MemberAlive, Owner: true, HTTPAddr: "10.0.0.1:8080", RemoteAddr: "10.0.0.1:7946", Replicas: 8, Self: true},
		{ID: "node-b", Zone: "z2", Status: client.MemberDown, Owner: true, HTTPAddr: "10.0.0.2:8080", RemoteAddr: "10.0.0.2:7946", Replicas: 8},
		{ID: "node-c", Status: client.MemberLeft},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Members =\n%+v\nwant\n%+v", got, want)
	}
	if r := srv.LastRequest(); r.Method != http.MethodGet || r.EscapedPath != "/admin/members" {
		t.Errorf("sent %s %s, want GET /admin/members", r.Method, r.EscapedPath)
	}
}

func TestClient_Ring(t *testing.T) {
	srv, c := fake(t, "")
	cluster := fakeCluster()
	srv.SetCluster(cluster)
	got, err := c.Ring(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := &client.Ring{Partitions: 8, N: 2, Version: 42, Replicas: cluster.Ring.Replicas}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Ring = %+v, want %+v", got, want)
	}
}

// TestClient_AdminDecoding feeds answers a fake with real behaviour would not
// send: the node's exact wire format, and malformed or foreign answers.
func TestClient_AdminDecoding(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		call    string // "members" or "ring"
		want    any    // the decoded result, when no error is wanted
		wantErr string // substring of the error
	}{
		{
			name:   "node's members",
			status: 200,
			body:   `{"members":[{"id":"a","zone":"z","status":"alive","owner":true,"http_addr":"h:1","remote_addr":"r:2","replicas":3,"self":true}]}`,
			call:   "members",
			want:   []client.Member{{ID: "a", Zone: "z", Status: "alive", Owner: true, HTTPAddr: "h:1", RemoteAddr: "r:2", Replicas: 3, Self: true}},
		},
		{
			name:   "no members",
			status: 200,
			body:   `{"members":[]}`,
			call:   "members",
			want:   []client.Member{},
		},
		{
			name:   "unknown fields are ignored",
			status: 200,
			body:   `{"members":[{"id":"a","status":"joining","owner":false,"replicas":0,"generation":7}],"extra":1}`,
			call:   "members",
			want:   []client.Member{{ID: "a", Status: "joining"}},
		},
		{
			name:   "node's ring",
			status: 200,
			body:   `{"partitions":2,"n":3,"version":18446744073709551615,"replicas":[["a","b","c"],[]]}`,
			call:   "ring",
			want:   &client.Ring{Partitions: 2, N: 3, Version: 1<<64 - 1, Replicas: [][]string{{"a", "b", "c"}, {}}},
		},
		{
			name:   "no ring yet",
			status: 200,
			body:   `{"partitions":0,"n":0,"version":0,"replicas":[]}`,
			call:   "ring",
			want:   &client.Ring{Replicas: [][]string{}},
		},
		{name: "members list missing", status: 200, body: `{}`, call: "members", wantErr: "client: members: malformed answer: no members list"},
		{name: "members not JSON", status: 200, body: `<html>hello</html>`, call: "members", wantErr: "client: members: malformed answer"},
		{name: "ring not JSON", status: 200, body: `[1,2]`, call: "ring", wantErr: "client: ring: malformed answer"},
		{name: "ring short of partitions", status: 200, body: `{"partitions":4,"n":1,"version":1,"replicas":[["a"]]}`, call: "ring", wantErr: "4 partitions but 1 replica lists"},
		{name: "negative partitions", status: 200, body: `{"partitions":-1,"n":1,"replicas":[]}`, call: "ring", wantErr: "-1 partitions"},
		{name: "node error", status: 503, body: `{"error":"cluster view not available","code":"unavailable"}`, call: "ring", wantErr: "dht: 503 unavailable: cluster view not available"},
		{name: "foreign 404", status: 404, body: "404 page not found\n", call: "members", wantErr: "dht: 404: page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := canned(t, tt.status, map[string]string{"Content-Type": "application/json"}, tt.body)
			var (
				got any
				err error
			)
			if tt.call == "members" {
				got, err = c.Members(t.Context())
			} else {
				got, err = c.Ring(t.Context())
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s = %v, want an error containing %q", tt.call, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%s = %+v, want %+v", tt.call, got, tt.want)
			}
		})
	}
}

func TestClient_AdminErrors(t *testing.T) {
	srv, c := fake(t, "")
	// No cluster set: the fake answers like a node without a cluster view.
	_, err := c.Members(t.Context())
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Code != "unavailable" {
		t.Fatalf("Members without a cluster view = %v, want a 503 unavailable *client.Error", err)
	}
	srv.SetCluster(fakeCluster())
	srv.SetCluster(nil)
	if _, err := c.Ring(t.Context()); !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("Ring after clearing the cluster = %v, want 503", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = newClient(t, closed.URL).Members(t.Context())
	if err == nil || !strings.HasPrefix(err.Error(), "client: members: ") || !strings.Contains(err.Error(), closed.URL+"/admin/members") {
		t.Fatalf("Members on a closed port = %v, want a client: members: error naming the URL", err)
	}
}

// TestClient_AdminToken checks that the two tokens stay apart: the admin
// token goes only to the admin API and the client token only to keys.
func TestClient_AdminToken(t *testing.T) {
	srv := clienttest.NewServer("kv-token")
	t.Cleanup(srv.Close)
	srv.SetAdminToken("admin-token")
	srv.SetCluster(fakeCluster())

	tests := []struct {
		name     string
		opts     []client.Option
		wantAuth string // the Authorization header of the admin request
		wantErr  bool
	}{
		{name: "both tokens", opts: []client.Option{client.WithToken("kv-token"), client.WithAdminToken("admin-token")}, wantAuth: "Bearer admin-token"},
		{name: "admin token before the HTTP client", opts: []client.Option{client.WithAdminToken("admin-token"), client.WithHTTPClient(&http.Client{})}, wantAuth: "Bearer admin-token"},
		{name: "last admin token wins", opts: []client.Option{client.WithAdminToken("old"), client.WithAdminToken("admin-token")}, wantAuth: "Bearer admin-token"},
		{name: "client token is not sent to the admin API", opts: []client.Option{client.WithToken("kv-token")}, wantErr: true},
		{name: "wrong admin token", opts: []client.Option{client.WithAdminToken("kv-token")}, wantAuth: "Bearer kv-token", wantErr: true},
		{name: "empty admin token", opts: []client.Option{client.WithAdminToken("")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv.URL, tt.opts...)
			_, err := c.Members(t.Context())
			if got := srv.LastRequest().Header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("admin request sent Authorization %q, want %q", got, tt.wantAuth)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Members: %v", err)
				}
				return
			}
			var e *client.Error
			if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
				t.Fatalf("Members = %v, want 401", err)
			}
		})
	}

	c := newClient(t, srv.URL, client.WithToken("kv-token"), client.WithAdminToken("admin-token"))
	if _, err := c.Put(t.Context(), "k", []byte("v"), nil); err != nil {
		t.Fatalf("Put with both tokens: %v", err)
	}
	if got := srv.LastRequest().Header.Get("Authorization"); got != "Bearer kv-token" {
		t.Errorf("key request sent Authorization %q, want the client token", got)
	}
}
