package main

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/dhtkv/dht/client/clienttest"
	"github.com/dhtkv/dht/cluster/ring"
)

// testCluster is three nodes on a ring of eight partitions with n=3, one of
// the partitions short of a replica. Its members are out of id order, as a
// node's view may hold them.
func testCluster() *clienttest.Cluster {
	return &clienttest.Cluster{
		Members: []clienttest.Member{
			{ID: "node-c", Zone: "z3", Status: "down", Owner: true, HTTPAddr: "10.0.0.3:8080", RemoteAddr: "10.0.0.3:8090", Replicas: 7},
			{ID: "node-a", Zone: "z1", Status: "alive", Owner: true, HTTPAddr: "10.0.0.1:8080", RemoteAddr: "10.0.0.1:8090", Replicas: 8, Self: true},
			{ID: "node-b", Zone: "z2", Status: "alive", Owner: true, HTTPAddr: "10.0.0.2:8080", RemoteAddr: "10.0.0.2:8090", Replicas: 8},
			{ID: "node-d", Status: "removed"},
		},
		Ring: clienttest.Ring{Partitions: 8, N: 3, Version: 12, Replicas: [][]string{
			{"node-a", "node-b", "node-c"},
			{"node-b", "node-c", "node-a"},
			{"node-c", "node-a", "node-b"},
			{"node-a", "node-b", "node-c"},
			{"node-b", "node-c", "node-a"},
			{"node-c", "node-a", "node-b"},
			{"node-a", "node-b", "node-c"},
			{"node-b", "node-a"},
		}},
	}
}

// newClusterFake starts a fake node showing testCluster and returns it with
// the environment that points dhtctl at it.
func newClusterFake(t *testing.T) (*clienttest.Server, map[string]string) {
	t.Helper()
	srv, env, _ := newFake(t)
	srv.SetCluster(testCluster())
	return srv, env
}

func TestMembers_Table(t *testing.T) {
	_, env := newClusterFake(t)
	r := dhtctl(t, env, "", "members")
	r.want(t, exitOK)
	const want = `ID       ZONE  STATUS   OWNER  REPLICAS  HTTP
node-a*  z1    alive    yes    8         10.0.0.1:8080
node-b   z2    alive    yes    8         10.0.0.2:8080
node-c   z3    down     yes    7         10.0.0.3:8080
node-d   -     removed  no     0         -
`
	if r.stdout != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
}

func TestMembers_JSON(t *testing.T) {
	_, env := newClusterFake(t)
	r := dhtctl(t, env, "", "members", "--json")
	r.want(t, exitOK)
	// Compared as data, in the wire format the fake writes independently of
	// package client, so a field the client dropped or renamed shows.
	var got, want any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	wantJSON := `{"members":[
		{"id":"node-a","zone":"z1","status":"alive","owner":true,"http_addr":"10.0.0.1:8080","remote_addr":"10.0.0.1:8090","replicas":8,"self":true},
		{"id":"node-b","zone":"z2","status":"alive","owner":true,"http_addr":"10.0.0.2:8080","remote_addr":"10.0.0.2:8090","replicas":8},
		{"id":"node-c","zone":"z3","status":"down","owner":true,"http_addr":"10.0.0.3:8080","remote_addr":"10.0.0.3:8090","replicas":7},
		{"id":"node-d","status":"removed","owner":false,"replicas":0}]}`
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stdout:\n%s\nwant the same data as:\n%s", r.stdout, wantJSON)
	}
}

// ringSummary is the summary printed for testCluster: 23 replicas, one
// partition with two of three.
const ringSummaryText = `partitions: 8  n: 3  version: 12  replicas: 23  partitions below n: 1
NODE    REPLICAS  SHARE  PRIMARIES
node-a  8         34.8%  3
node-b  8         34.8%  3
node-c  7         30.4%  2
`

func TestRing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "all partitions",
			args: []string{"ring"},
			want: ringSummaryText + `
P  START                             REPLICAS
0  00000000000000000000000000000000  node-a,node-b,node-c
1  20000000000000000000000000000000  node-b,node-c,node-a
2  40000000000000000000000000000000  node-c,node-a,node-b
3  60000000000000000000000000000000  node-a,node-b,node-c
4  80000000000000000000000000000000  node-b,node-c,node-a
5  a0000000000000000000000000000000  node-c,node-a,node-b
6  c0000000000000000000000000000000  node-a,node-b,node-c
7  e0000000000000000000000000000000  node-b,node-a
`,
		},
		{
			name: "summary",
			args: []string{"ring", "--summary"},
			want: ringSummaryText,
		},
		{
			name: "one node",
			args: []string{"ring", "--node", "node-c"},
			want: ringSummaryText + `
P  START                             REPLICAS
0  00000000000000000000000000000000  node-a,node-b,node-c
1  20000000000000000000000000000000  node-b,node-c,node-a
2  40000000000000000000000000000000  node-c,node-a,node-b
3  60000000000000000000000000000000  node-a,node-b,node-c
4  80000000000000000000000000000000  node-b,node-c,node-a
5  a0000000000000000000000000000000  node-c,node-a,node-b
6  c0000000000000000000000000000000  node-a,node-b,node-c
`,
		},
	}
	_, env := newClusterFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitOK)
			if r.stdout != tt.want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", r.stdout, tt.want)
			}
		})
	}
}

func TestRing_JSON(t *testing.T) {
	_, env := newClusterFake(t)
	r := dhtctl(t, env, "", "ring", "--json")
	r.want(t, exitOK)
	var got struct {
		Partitions int        `json:"partitions"`
		N          int        `json:"n"`
		Version    uint64     `json:"version"`
		Replicas   [][]string `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	want := testCluster().Ring
	if got.Partitions != want.Partitions || got.N != want.N || got.Version != want.Version || !reflect.DeepEqual(got.Replicas, want.Replicas) {
		t.Fatalf("ring --json = %+v, want %+v", got, want)
	}
}

func TestRing_Failures(t *testing.T) {
	tests := []struct {
		name    string
		cluster *clienttest.Cluster
		args    []string
		want    string // in stderr
	}{
		{
			name:    "node holds nothing",
			cluster: testCluster(),
			args:    []string{"ring", "--node", "node-d"},
			want:    `dhtctl: node "node-d" holds no partition of this ring; nodes that do: node-a, node-b, node-c`,
		},
		{
			name:    "no ring yet",
			cluster: &clienttest.Cluster{},
			args:    []string{"ring"},
			want:    "dhtctl: the node knows no ring yet",
		},
		{
			name: "no cluster view",
			args: []string{"ring"},
			want: "dhtctl: dht: 503 unavailable: cluster view not available",
		},
		{
			name: "no cluster view for members",
			args: []string{"members"},
			want: "dhtctl: dht: 503 unavailable: cluster view not available",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, env, _ := newFake(t)
			srv.SetCluster(tt.cluster)
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitError)
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr = %q, want %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestCluster_UsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"json and summary", []string{"ring", "--json", "--summary"}, "none of the others can be"},
		{"json and node", []string{"ring", "--json", "--node", "a"}, "none of the others can be"},
		{"summary and node", []string{"ring", "--summary", "--node", "a"}, "none of the others can be"},
		{"empty node", []string{"ring", "--node", ""}, "--node must not be empty"},
		{"ring argument", []string{"ring", "node-a"}, `unknown command "node-a"`},
		{"members argument", []string{"members", "node-a"}, `unknown command "node-a"`},
		{"bad addr", []string{"--addr", "node:8080", "members"}, "--addr"},
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

func TestCluster_AdminToken(t *testing.T) {
	srv, env := newClusterFake(t)
	srv.SetAdminToken("admin-s3cret")
	with := func(kv ...string) map[string]string {
		e := map[string]string{envAddr: env[envAddr]}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"env token", with(envAdminToken, "admin-s3cret"), nil, exitOK},
		{"flag token", with(), []string{"--admin-token", "admin-s3cret"}, exitOK},
		{"flag overrides env", with(envAdminToken, "wrong"), []string{"--admin-token", "admin-s3cret"}, exitOK},
		{"empty flag overrides env", with(envAdminToken, "admin-s3cret"), []string{"--admin-token", ""}, exitError},
		{"no token", with(), nil, exitError},
		{"client token is not the admin token", with(envToken, "admin-s3cret"), nil, exitError},
	}
	for _, tt := range tests {
		for _, command := range []string{"members", "ring"} {
			t.Run(tt.name+" "+command, func(t *testing.T) {
				r := dhtctl(t, tt.env, "", append([]string{command}, tt.args...)...)
				r.want(t, tt.code)
				if tt.code == exitOK {
					return
				}
				if !strings.Contains(r.stderr, "401 unauthorized") || !strings.Contains(r.stderr, "--admin-token or $"+envAdminToken) {
					t.Fatalf("stderr = %q, want the 401 and how to pass the admin token", r.stderr)
				}
			})
		}
	}

	r := dhtctl(t, with(envAdminToken, "admin-s3cret"), "", "ring", "--help")
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, "--admin-token") || strings.Contains(r.stdout, "admin-s3cret") {
		t.Errorf("help should list --admin-token without showing its value:\n%s", r.stdout)
	}
}

func TestCluster_WrongAddress(t *testing.T) {
	notNode := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notNode.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name string
		addr string
		want string
	}{
		{"not a node", notNode.URL, "404: page not found; is " + notNode.URL + " a dht node serving the admin API?"},
		{"nothing listening", closed.URL, "dhtctl: client: ring: Get \"" + closed.URL + "/admin/ring\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, map[string]string{envAddr: tt.addr}, "", "ring")
			r.want(t, exitError)
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr = %q, want %q", r.stderr, tt.want)
			}
		})
	}
}

func TestPartitionStart(t *testing.T) {
	tests := []struct {
		p, q int
		want string
	}{
		{0, 8, "00000000000000000000000000000000"},
		{1, 8, "20000000000000000000000000000000"},
		{7, 8, "e0000000000000000000000000000000"},
		{1, 1 << 16, "00010000000000000000000000000000"},
		{1<<16 - 1, 1 << 16, "ffff0000000000000000000000000000"},
		{5, 1 << 10, "01400000000000000000000000000000"},
	}
	for _, tt := range tests {
		if got := partitionStart(tt.p, tt.q); got != tt.want {
			t.Errorf("partitionStart(%d, %d) = %s, want %s", tt.p, tt.q, got, tt.want)
		}
	}
}

// TestPartitionStart_MatchesPlacement checks the printed starts against
// where keys actually go: a key's hash lies in its partition's range
// [start(p), start(p+1)).
func TestPartitionStart_MatchesPlacement(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	start := func(p, q int) *big.Int {
		n, ok := new(big.Int).SetString(partitionStart(p, q), 16)
		if !ok {
			t.Fatalf("partitionStart(%d, %d) is not hex", p, q)
		}
		return n
	}
	for _, q := range []int{ring.MinPartitions, 64, 1024, ring.MaxPartitions} {
		for i := range 200 {
			key := fmt.Appendf(nil, "key-%d-%d", i, rng.Uint64())
			h := ring.Hash(key)
			pos := new(big.Int).SetBytes(h[:])
			p := int(ring.PartitionOf(key, q))
			lo := start(p, q)
			hi := new(big.Int).Lsh(big.NewInt(1), 128)
			if p+1 < q {
				hi = start(p+1, q)
			}
			if pos.Cmp(lo) < 0 || pos.Cmp(hi) >= 0 {
				t.Fatalf("seed %d: key %q hashes to %032x in partition %d of %d, outside [%032x, %032x)", seed, key, pos, p, q, lo, hi)
			}
		}
	}
}
