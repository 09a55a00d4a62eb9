package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client/clienttest"
	"github.com/dhtkv/dht/persistence"
)

// TestBackup_SavesTheNodesStream: dhtctl backup finds the node by id
// through --addr, saves what that node streams, checked, under FILE; a
// damaged stream or an unknown node leaves no file.
func TestBackup_SavesTheNodesStream(t *testing.T) {
	srv, env, _ := newFake(t)
	e, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Put(persistence.DataKey(3, []byte("k")), []byte("v")); err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := persistence.WriteBackup(&good, e, persistence.BackupHeader{Node: "node-a", Partitions: 8, Created: time.Unix(1, 0), ID: "x"}); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.SetCluster(&clienttest.Cluster{Members: []clienttest.Member{
		{ID: "node-a", Status: "alive", Owner: true, HTTPAddr: host, Self: true},
	}})
	dir := t.TempDir()
	out := filepath.Join(dir, "a.dhtbak")

	srv.SetBackup(good.Bytes())
	r := dhtctl(t, env, "", "backup", "node-a", "--out", out)
	r.want(t, 0)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, good.Bytes()) {
		t.Fatalf("saved %d bytes (%v), want the %d the node streamed", len(got), err, good.Len())
	}
	if !strings.Contains(r.stderr, "backup of node-a") || r.stdout != "" {
		t.Errorf("stdout %q, stderr %q: want the summary on stderr only", r.stdout, r.stderr)
	}

	damaged := bytes.Clone(good.Bytes())
	damaged[len(damaged)-1] ^= 1
	srv.SetBackup(damaged)
	bad := filepath.Join(dir, "bad.dhtbak")
	r = dhtctl(t, env, "", "backup", "node-a", "--out", bad)
	if r.code == 0 || !strings.Contains(r.stderr, "checksum") {
		t.Errorf("a damaged stream: exit %d, stderr %q; want a failure naming the checksum", r.code, r.stderr)
	}
	r = dhtctl(t, env, "", "backup", "node-z", "--out", bad)
	if r.code == 0 || !strings.Contains(r.stderr, "not a member") {
		t.Errorf("an unknown node: exit %d, stderr %q; want a failure saying so", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left: %v, want only the good backup", entries)
	}
	r = dhtctl(t, env, "", "backup", "node-a")
	if r.code != 2 || !strings.Contains(r.stderr, "--out") {
		t.Errorf("no --out: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}
