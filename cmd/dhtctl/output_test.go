package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dhtkv/dht/buildinfo"
	"github.com/dhtkv/dht/client"
)

// These tests hold dhtctl to its output rule: stdout carries what a
// command reads, or its --json document; stderr everything else.

func TestVersion(t *testing.T) {
	info := buildinfo.Read()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := dhtctl(t, nil, "", args...)
		r.want(t, exitOK)
		if want := "dhtctl " + info.String() + "\n"; r.stdout != want || r.stderr != "" {
			t.Fatalf("dhtctl %s: stdout %q stderr %q, want %q", args[0], r.stdout, r.stderr, want)
		}
	}
	r := dhtctl(t, nil, "", "version", "--json")
	r.want(t, exitOK)
	var got buildinfo.Info
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got != info {
		t.Fatalf("version --json = %s (%v), want %+v", r.stdout, err, info)
	}
	for _, field := range []string{`"version"`, `"commit"`, `"go_version"`} {
		if !strings.Contains(r.stdout, field) {
			t.Errorf("version --json lacks %s: %s", field, r.stdout)
		}
	}
}

func TestWriteObject_TerminalGetsANewline(t *testing.T) {
	obj := &client.Object{Key: "k", Found: true, Context: "c", Siblings: []client.Sibling{{Value: []byte("v")}}}
	tests := []struct {
		name  string
		value string
		tty   bool
		want  string
	}{
		{"pipe: exact bytes", "v", false, "v"},
		{"terminal: a newline added", "v", true, "v\n"},
		{"terminal: none doubled", "v\n", true, "v\n"},
		{"terminal: an empty value stays empty", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj.Siblings[0].Value = []byte(tt.value)
			var stdout, stderr bytes.Buffer
			if err := writeObject(&stdout, &stderr, obj, tt.tty); err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tt.want || stderr.String() != "context: c\n" {
				t.Fatalf("stdout %q stderr %q, want %q and the context", stdout.String(), stderr.String(), tt.want)
			}
		})
	}
}

func TestWrites_JSON(t *testing.T) {
	_, env, c := newFake(t)
	mustPut(t, c, "k", "a", "")
	mustPut(t, c, "k", "b", "")

	type doc struct {
		Key         string `json:"key"`
		KeyEncoding string `json:"key_encoding"`
		Context     string `json:"context"`
		Siblings    *int   `json:"siblings"`
		Replaced    int    `json:"replaced"`
	}
	decode := func(t *testing.T, r result) doc {
		t.Helper()
		r.want(t, exitOK)
		if r.stderr != "" {
			t.Fatalf("stderr = %q, want nothing with --json", r.stderr)
		}
		var d doc
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Siblings == nil {
			t.Fatalf("stdout %q is not the write document: %v", r.stdout, err)
		}
		return d
	}

	d := decode(t, dhtctl(t, env, "", "put", "k", "c", "--json"))
	if d.Key != "k" || d.Context != "v1:3" || *d.Siblings != 3 || d.Replaced != 0 {
		t.Fatalf("put --json = %+v", d)
	}
	d = decode(t, dhtctl(t, env, "", "resolve", "k", "--value", "merged", "--json"))
	if d.Context != "v1:4" || *d.Siblings != 1 || d.Replaced != 3 {
		t.Fatalf("resolve --json = %+v", d)
	}
	d = decode(t, dhtctl(t, env, "", "delete", "k", "--json"))
	if d.Key != "k" || d.Context != "v1:5" {
		t.Fatalf("delete --json = %+v", d)
	}
	d = decode(t, dhtctl(t, env, "", "put", "\xff", "v", "--json"))
	if d.KeyEncoding != "base64" || d.Key != "/w==" {
		t.Fatalf("put --json of a non-UTF-8 key = %+v", d)
	}
}

func TestOps_JSON(t *testing.T) {
	_, env := newClusterFake(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"join", "--json"}, `{"accepted":true,"node":"node-a","action":"join"}`},
		{[]string{"decommission", "node-b", "--json"}, `{"accepted":true,"node":"node-b","action":"decommission"}`},
		{[]string{"force-remove", "node-c", "--yes", "--json"}, `{"accepted":true,"node":"node-c","action":"force-remove"}`},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitOK)
			var got bytes.Buffer
			if err := json.Compact(&got, []byte(r.stdout)); err != nil || got.String() != tt.want || r.stderr != "" {
				t.Fatalf("stdout %q stderr %q, want %s and nothing", r.stdout, r.stderr, tt.want)
			}
		})
	}
}

// TestErrors_SayEachThingOnce runs a refusal worded as a node words it:
// the sentinel behind the code leads its error chain.
func TestErrors_SayEachThingOnce(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":"conflict: refused: node-b is alive; decommission it","code":"conflict"}`))
	}))
	defer node.Close()
	r := dhtctl(t, map[string]string{envAddr: node.URL}, "", "force-remove", "node-b", "--yes")
	r.want(t, exitError)
	if !strings.HasPrefix(r.stderr, "dhtctl: dht: 409 conflict: refused: node-b is alive; decommission it;") {
		t.Fatalf("stderr = %q", r.stderr)
	}
}
