package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestTypes_RoundTrip encodes each type, checks the exact bytes (the JSON
// field names are the wire format, shared with nodes and clients of other
// versions), and decodes them back to an equal value.
func TestTypes_RoundTrip(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"member", &Member{ID: "n1", Zone: "z", Status: MemberDown, Owner: true, HTTPAddr: "h:1", RemoteAddr: "r:2", Replicas: 3, Self: true},
			`{"id":"n1","zone":"z","status":"down","owner":true,"http_addr":"h:1","remote_addr":"r:2","replicas":3,"self":true}`},
		{"member-omitempty", &Member{ID: "n1", Status: MemberAlive},
			`{"id":"n1","status":"alive","owner":false,"replicas":0}`},
		{"members", &Members{Members: []Member{{ID: "a", Status: MemberLeft}}},
			`{"members":[{"id":"a","status":"left","owner":false,"replicas":0}]}`},
		{"ring", &Ring{Partitions: 2, N: 1, Version: 7, Replicas: [][]string{{"a"}, {}}},
			`{"partitions":2,"n":1,"version":7,"replicas":[["a"],[]]}`},
		{"status", &Status{Node: "n1", HintsPending: map[string]int{"n2": 4}, HintsBytes: 9, MerkleRoots: Roots{3: 11, 4: 1<<63 + 1},
			Handoff: Handoff{Pending: 1, Rebuilding: 1, Draining: 2, Active: []Transfer{{Partition: 5, Kind: TransferDrain, Peer: "n3", Keys: 6, TotalKeys: 12, Bytes: 100, StartedAt: started}},
				Completed: 8, ETASeconds: 1.5, RingVersion: 4, Settled: true}},
			`{"node":"n1","hints_pending":{"n2":4},"hints_bytes":9,"merkle_roots":{"3":"11","4":"9223372036854775809"},"handoff":{"pending":1,"rebuilding":1,"draining":2,` +
				`"active":[{"partition":5,"kind":"drain","peer":"n3","keys":6,"total_keys":12,"bytes":100,"started_at":"2026-01-02T03:04:05Z"}],` +
				`"completed":8,"eta_seconds":1.5,"ring_version":4,"settled":true}}`},
		{"accepted", &Accepted{Accepted: true, Node: "n1", Action: ActionForceRemove},
			`{"accepted":true,"node":"n1","action":"force-remove"}`},
		{"accepted-join-unknown-self", &Accepted{Accepted: true, Action: ActionJoin},
			`{"accepted":true,"action":"join"}`},
		{"node-request", &NodeRequest{Node: "n2"}, `{"node":"n2"}`},
		{"error", &Error{Error: "boom", Code: CodeTimeout, Indeterminate: true},
			`{"error":"boom","code":"timeout","indeterminate":true}`},
		{"error-determinate", &Error{Error: "no", Code: CodeBadKey}, `{"error":"no","code":"bad_key"}`},
		{"siblings", &Siblings{Siblings: []Sibling{{Value: []byte("hi"), ContentType: "text/plain", Timestamp: started}, {Value: []byte{}, ContentType: "a/b", Timestamp: started}}},
			`{"siblings":[{"value":"aGk=","content_type":"text/plain","timestamp":"2026-01-02T03:04:05Z"},{"value":"","content_type":"a/b","timestamp":"2026-01-02T03:04:05Z"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.want {
				t.Fatalf("encoded\n %s\nwant\n %s", data, tc.want)
			}
			back := reflect.New(reflect.TypeOf(tc.v).Elem()).Interface()
			if err := json.Unmarshal(data, back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.v) {
				t.Fatalf("round trip changed the value:\n got %+v\nwant %+v", back, tc.v)
			}
		})
	}
}

func TestHandoff_ETA(t *testing.T) {
	for _, tc := range []struct {
		secs float64
		want time.Duration
	}{{0, 0}, {-1, 0}, {1.4, time.Second}, {90.6, 91 * time.Second}, {1e300, time.Duration(1<<63 - 1).Round(time.Second)}} {
		if got := (Handoff{ETASeconds: tc.secs}).ETA(); got != tc.want {
			t.Errorf("ETA(%v) = %v, want %v", tc.secs, got, tc.want)
		}
	}
}

func TestTransfer_Progress(t *testing.T) {
	if _, ok := (Transfer{Keys: 3}).Progress(); ok {
		t.Error("progress known without a total")
	}
	if p, ok := (Transfer{Keys: 3, TotalKeys: 4}).Progress(); !ok || p != 0.75 {
		t.Errorf("progress = %v, %v; want 0.75, true", p, ok)
	}
}

// TestRoots_AcceptsNumbersFromOlderNodes decodes the roots older nodes
// send as JSON numbers, and refuses what is neither.
func TestRoots_AcceptsNumbersFromOlderNodes(t *testing.T) {
	var s Status
	if err := json.Unmarshal([]byte(`{"merkle_roots":{"3":11,"4":"12"}}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.MerkleRoots[3] != 11 || s.MerkleRoots[4] != 12 {
		t.Fatalf("roots = %v, want 3:11 4:12", s.MerkleRoots)
	}
	for _, bad := range []string{`{"merkle_roots":{"3":"x"}}`, `{"merkle_roots":{"3":-1}}`, `{"merkle_roots":{"3":1.5}}`} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s decoded, want an error", bad)
		}
	}
}
