package process_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

// TestBackup_RestoreCatchesUp backs up one node of three, writes and
// deletes more, then loses that node's disk and restores it from the
// backup with dhtd --restore. The restored node starts with a new epoch
// and is rebuilt by handoff (anti-entropy is off, so only the rebuild
// mends it), which compares Merkle trees first and sends only what changed
// since the backup. Nothing acknowledged is lost, no deleted key returns,
// and every key ends on exactly 3 replicas.
func TestBackup_RestoreCatchesUp(t *testing.T) {
	const before, after, deleted = 3000, 600, 200
	nodes := startCluster(t, 3, membershipArgs...)
	restored := nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	acked := map[string]string{}
	put := func(key, value string, w int) {
		if _, err := nodes[0].Client().Put(ctx, key, []byte(value), &client.WriteOptions{W: w}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		acked[key] = value
	}
	for i := range before {
		put(fmt.Sprintf("before-%05d", i), fmt.Sprint(i), 3)
	}

	file := filepath.Join(t.TempDir(), "p2.dhtbak")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	size, err := restored.Client().Backup(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("backup of %s: %v", restored.ID(), err)
	}
	t.Logf("backup of %s: %d bytes", restored.ID(), size)

	// After the backup: new keys, and deletes of keys the backup holds.
	for i := range after {
		put(fmt.Sprintf("after-%05d", i), fmt.Sprint(i), 2)
	}
	var gone []string
	for i := range deleted {
		key := fmt.Sprintf("before-%05d", i)
		if _, err := nodes[0].Client().Delete(ctx, key, &client.WriteOptions{W: 2}); err != nil {
			t.Fatalf("delete %s: %v", key, err)
		}
		delete(acked, key)
		gone = append(gone, key)
	}

	// The disk is lost; the node comes back from the backup.
	restored.Kill()
	if err := os.RemoveAll(restored.DataDir()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	restored.RestartWith("--restore", file)
	log := restored.Log()
	if !strings.Contains(log, "restored from backup") || !strings.Contains(log, fmt.Sprintf("keys=%d", before)) {
		t.Fatalf("the restarted node's log shows no restore of %d keys:\n%s", before, log)
	}
	waitSettled(t, nodes, 3, 3*time.Minute)
	t.Logf("restored %s: ready and rebuilt %v after the restart", restored.ID(), time.Since(start).Round(time.Millisecond))
	var sent, skipped int
	for _, n := range nodes {
		keys, _, _ := gauge(process.HTTPClient(), n, `dht_handoff_keys_total{kind="receive"}`)
		skip, _, _ := gauge(process.HTTPClient(), n, `dht_handoff_skipped_keys_total{kind="receive"}`)
		sent, skipped = sent+keys, skipped+skip
	}
	t.Logf("rebuild after the restore: %d keys sent, %d skipped as already held (the backup's)", sent, skipped)

	for _, key := range gone {
		obj, err := restored.Client().Get(ctx, key, &client.ReadOptions{R: 3})
		if err != nil || obj.Found {
			t.Errorf("deleted %s through %s at r=3: %+v, %v; want not found", key, restored.ID(), obj, err)
		}
	}
	assertReadable(t, restored, acked)
	// A restart with the same --restore keeps what the node has.
	if code, err := restored.Stop(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("stop %s: exit %d, %v", restored.ID(), code, err)
	}
	restored.RestartWith("--restore", file)
	if log := restored.Log(); !strings.Contains(log, "already restored from this backup") {
		t.Errorf("a second start with the same --restore did not keep the data:\n%s", log)
	}
	assertReplicas(t, nodes, acked, 3)
}
