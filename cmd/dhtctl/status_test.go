package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client/clienttest"
)

// statusCluster starts two fake nodes and returns the environment pointing
// at the first, whose members are both of them, a node at an address where
// nothing listens, and a removed node, which status skips.
func statusCluster(t *testing.T, a, b *clienttest.Status) (map[string]string, *strings.Replacer) {
	t.Helper()
	srvA, env, _ := newFake(t)
	srvB, _, _ := newFake(t)
	srvA.SetStatus(a)
	srvB.SetStatus(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	addrA, addrB := strings.TrimPrefix(srvA.URL, "http://"), strings.TrimPrefix(srvB.URL, "http://")
	srvA.SetCluster(&clienttest.Cluster{Members: []clienttest.Member{
		{ID: "node-a", Status: "alive", Owner: true, HTTPAddr: addrA, Self: true},
		{ID: "node-b", Status: "alive", Owner: true, HTTPAddr: addrB},
		{ID: "node-c", Status: "down", Owner: true, HTTPAddr: closed},
		{ID: "node-d", Status: "removed", HTTPAddr: closed},
	}})
	// The addresses change from run to run; the output is compared with
	// names in their place.
	return env, strings.NewReplacer(addrA, "ADDR-A", addrB, "ADDR-B", closed, "ADDR-C")
}

func TestStatus(t *testing.T) {
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a, b *clienttest.Status
		want string // before the unreachable node's error
	}{
		{
			name: "idle",
			a:    &clienttest.Status{Node: "node-a"},
			b:    &clienttest.Status{Node: "node-b", HintsPending: map[string]int{}},
			want: `NODE    STATUS  HINTS  BYTES  FOR  PENDING  REBUILDING  DRAINING  COMPLETED  ETA
node-a  alive   0      0      -    0        0           0         0          -
node-b  alive   0      0      -    0        0           0         0          -
node-c  down    -      -      unreachable: client: status: Get "http://ADDR-C/admin/status": `,
		},
		{
			name: "hints and handoff",
			a: &clienttest.Status{
				Node:         "node-a",
				HintsPending: map[string]int{"node-c": 2, "node-b": 1},
				HintsBytes:   300,
				Handoff: clienttest.Handoff{Pending: 3, Draining: 1, Completed: 12, ETASeconds: 90.4, Active: []clienttest.Transfer{
					{Partition: 9, Kind: "drain", Peer: "node-b", Keys: 7, Bytes: 70, StartedAt: started},
					{Partition: 4, Kind: "receive", Peer: "node-c", Keys: 50, TotalKeys: 200, Bytes: 4096, StartedAt: started},
				}},
			},
			b: &clienttest.Status{
				Node: "node-b",
				Handoff: clienttest.Handoff{Pending: 1, Rebuilding: 1, Completed: 2, ETASeconds: 3600, Active: []clienttest.Transfer{
					{Partition: 1, Kind: "receive", Peer: "node-a", Keys: 1999, TotalKeys: 2000, Bytes: 1 << 20, StartedAt: started.Add(time.Minute)},
				}},
			},
			want: `NODE    STATUS  HINTS  BYTES  FOR                PENDING  REBUILDING  DRAINING  COMPLETED  ETA
node-a  alive   3      300    node-b=1,node-c=2  3        0           1         12         1m30s
node-b  alive   0      0      -                  1        1           0         2          1h0m0s
node-c  down    -      -      unreachable: client: status: Get "http://ADDR-C/admin/status": `,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, names := statusCluster(t, tt.a, tt.b)
			r := dhtctl(t, env, "", "status")
			r.want(t, exitOK)
			got := names.Replace(r.stdout)
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("stdout:\n%s\nwant it to start:\n%s", got, tt.want)
			}
			if strings.Contains(got, "node-d") {
				t.Errorf("stdout lists the removed node:\n%s", got)
			}
		})
	}
}

// TestStatus_Transfers checks the table of running transfers, which
// follows the nodes' table when any node runs one.
func TestStatus_Transfers(t *testing.T) {
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := &clienttest.Status{Node: "node-a", Handoff: clienttest.Handoff{Pending: 1, Draining: 1, Active: []clienttest.Transfer{
		{Partition: 9, Kind: "drain", Peer: "node-b", Keys: 7, Bytes: 70, StartedAt: started},
		{Partition: 4, Kind: "receive", Peer: "node-c", Keys: 50, TotalKeys: 200, Bytes: 4096, StartedAt: started},
	}}}
	b := &clienttest.Status{Node: "node-b", Handoff: clienttest.Handoff{Pending: 1, Active: []clienttest.Transfer{
		{Partition: 1, Kind: "receive", Peer: "node-a", Keys: 2100, TotalKeys: 2000, Bytes: 1 << 20, StartedAt: started.Add(time.Minute)},
	}}}
	env, names := statusCluster(t, a, b)
	r := dhtctl(t, env, "", "status")
	r.want(t, exitOK)
	const want = `

running transfers:
NODE    PARTITION  KIND     PEER    KEYS  TOTAL  PROGRESS  BYTES    STARTED
node-a  4          receive  node-c  50    200    25.0%     4096     2026-03-01T12:00:00Z
node-a  9          drain    node-b  7     -      -         70       2026-03-01T12:00:00Z
node-b  1          receive  node-a  2100  2000   105.0%    1048576  2026-03-01T12:01:00Z
`
	got := names.Replace(r.stdout)
	if !strings.HasSuffix(got, want) {
		t.Fatalf("stdout:\n%s\nwant it to end:\n%s", got, want)
	}
	if !strings.Contains(got, "node-c  down") || strings.Count(got, "running transfers:") != 1 {
		t.Errorf("stdout lacks the nodes' table or repeats the transfers':\n%s", got)
	}
}

func TestStatus_Failures(t *testing.T) {
	_, env, _ := newFake(t)
	r := dhtctl(t, env, "", "status")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "dhtctl: dht: 503 unavailable: cluster view not available") {
		t.Fatalf("stderr = %q, want the 503 of the members request", r.stderr)
	}

	srv, env, _ := newFake(t)
	srv.SetCluster(testCluster())
	srv.SetAdminToken("admin-s3cret")
	r = dhtctl(t, env, "", "status")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "401 unauthorized") || !strings.Contains(r.stderr, "--admin-token") {
		t.Fatalf("stderr = %q, want the 401 and how to pass the admin token", r.stderr)
	}
}

// TestStatus_AsksNodesInParallel puts a node that never answers and one
// where nothing listens before the live ones: each node has a deadline of
// its own, so neither makes the others unreachable.
func TestStatus_AsksNodesInParallel(t *testing.T) {
	srvA, env, _ := newFake(t)
	srvB, _, _ := newFake(t)
	srvA.SetStatus(&clienttest.Status{Node: "node-a"})
	srvB.SetStatus(&clienttest.Status{Node: "node-b"})
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only when the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hung.Close()
	defer close(release)
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	dead := host(closedAddr(t))
	srvA.SetCluster(&clienttest.Cluster{Members: []clienttest.Member{
		{ID: "a-hung", Status: "alive", Owner: true, HTTPAddr: host(hung.URL)},
		{ID: "b-dead", Status: "down", Owner: true, HTTPAddr: dead},
		{ID: "node-a", Status: "alive", Owner: true, HTTPAddr: host(srvA.URL), Self: true},
		{ID: "node-b", Status: "alive", Owner: true, HTTPAddr: host(srvB.URL)},
	}})

	r := dhtctl(t, env, "", "--timeout", "500ms", "status")
	r.want(t, exitOK)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("stdout:\n%s\nwant a header and 4 nodes", r.stdout)
	}
	// The members come sorted by id: the unreachable ones first, where a
	// deadline shared by all would be spent before the live ones are asked.
	for i, want := range []string{"a-hung  alive   -      -      unreachable: ", "b-dead  down    -      -      unreachable: ",
		"node-a  alive   0      0      -", "node-b  alive   0      0      -"} {
		if !strings.HasPrefix(lines[i+1], want) {
			t.Errorf("line %d = %q, want it to start %q", i+1, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[1], "context deadline exceeded") || !strings.Contains(lines[2], "connection refused") {
		t.Errorf("the unreachable nodes' errors:\n%s\n%s", lines[1], lines[2])
	}

	r = dhtctl(t, env, "", "--timeout", "500ms", "status", "--json")
	r.want(t, exitOK)
	var doc struct {
		Nodes []struct {
			ID           string `json:"id"`
			MemberStatus string `json:"member_status"`
			Reachable    bool   `json:"reachable"`
			Error        string `json:"error"`
			Status       *struct {
				Node string `json:"node"`
			} `json:"status"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Nodes) != 4 {
		t.Fatalf("status --json = %s (%v)", r.stdout, err)
	}
	for _, n := range doc.Nodes {
		live := n.ID == "node-a" || n.ID == "node-b"
		if n.Reachable != live || (n.Error == "") != live || (n.Status != nil) != live || (live && n.Status.Node != n.ID) {
			t.Errorf("node %+v: reachable, error and status disagree", n)
		}
	}
	if doc.Nodes[1].ID != "b-dead" || doc.Nodes[1].MemberStatus != "down" {
		t.Errorf("second node %+v, want b-dead, down", doc.Nodes[1])
	}
}
