package persistence_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dhtkv/dht/persistence"
)

// TestBackup_RestoresIntoAnyEngine: a backup of one engine restores into
// another with every data key and value, and without the node's metadata
// or hints.
func TestBackup_RestoresIntoAnyEngine(t *testing.T) {
	src := openEngine(t, persistence.Options{Engine: persistence.EngineBadger, Dir: t.TempDir()})
	defer src.Close()
	b := persistence.NewBatch()
	for p := range uint32(8) {
		for i := range 300 {
			b.Put(persistence.DataKey(p, fmt.Appendf(nil, "key-%d", i)), fmt.Appendf(nil, "value-%d-%d", p, i))
		}
	}
	b.Put(persistence.MetaKey("replica_actor"), []byte("12345678"))
	b.Put(persistence.HintKey("n2", 1), []byte("hint"))
	if err := src.Write(b); err != nil {
		t.Fatal(err)
	}
	h := persistence.BackupHeader{Node: "n1", Cluster: "c", Partitions: 8, N: 3, Engine: "badger", Created: time.Unix(1, 0).UTC(), ID: "b1"}
	var buf bytes.Buffer
	stats, err := persistence.WriteBackup(&buf, src, h)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Keys != 8*300 {
		t.Fatalf("backup wrote %d keys, want %d", stats.Keys, 8*300)
	}
	if got, err := persistence.ReadBackupHeader(bytes.NewReader(buf.Bytes())); err != nil || got != h {
		t.Fatalf("header = %+v, %v; want %+v", got, err, h)
	}
	for _, engine := range []string{persistence.EnginePebble, persistence.EngineMemory} {
		dst := openEngine(t, persistence.Options{Engine: engine, Dir: dirFor(t, engine)})
		got, rs, err := persistence.RestoreBackup(bytes.NewReader(buf.Bytes()), dst, nil)
		if err != nil || got != h || rs != stats {
			t.Fatalf("%s: restore = %+v %+v %v; want %+v %+v", engine, got, rs, err, h, stats)
		}
		n := 0
		if err := dst.Scan(nil, nil, func(k, v []byte) bool {
			p, key, ok := persistence.SplitDataKey(k)
			if !ok {
				t.Errorf("%s: restored a non-data key %q", engine, k)
				return true
			}
			var i int
			fmt.Sscanf(string(key), "key-%d", &i)
			if want := fmt.Sprintf("value-%d-%d", p, i); string(v) != want {
				t.Errorf("%s: %q = %q, want %q", engine, k, v, want)
			}
			n++
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if n != 8*300 {
			t.Errorf("%s: %d keys restored, want %d", engine, n, 8*300)
		}
		dst.Close()
	}
}

func dirFor(t *testing.T, engine string) string {
	if engine == persistence.EngineMemory {
		return ""
	}
	return t.TempDir()
}

// TestBackup_RefusesDamage: a backup cut short, with a flipped byte, with
// data after its end, or that is not a backup, is refused with
// ErrBadBackup; a check that refuses the header stops the restore before
// a record is written.
func TestBackup_RefusesDamage(t *testing.T) {
	src := openEngine(t, persistence.Options{Engine: persistence.EngineMemory})
	b := persistence.NewBatch()
	for i := range 100 {
		b.Put(persistence.DataKey(1, fmt.Appendf(nil, "k%d", i)), bytes.Repeat([]byte{byte(i)}, 100))
	}
	if err := src.Write(b); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := persistence.WriteBackup(&buf, src, persistence.BackupHeader{Partitions: 4, ID: "x"}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	for name, data := range map[string][]byte{
		"truncated":   good[:len(good)-10],
		"cut at half": good[:len(good)/2],
		"flipped":     flipped,
		"trailing":    append(bytes.Clone(good), 0),
		"not backup":  []byte("PK\x03\x04 a zip file"),
		"empty":       nil,
	} {
		dst := openEngine(t, persistence.Options{Engine: persistence.EngineMemory})
		if _, _, err := persistence.RestoreBackup(bytes.NewReader(data), dst, nil); !errors.Is(err, persistence.ErrBadBackup) {
			t.Errorf("%s: restore error %v, want ErrBadBackup", name, err)
		}
	}
	if _, st, err := persistence.VerifyBackup(bytes.NewReader(good)); err != nil || st.Keys != 100 {
		t.Errorf("VerifyBackup(good) = %+v, %v; want 100 keys", st, err)
	}
	if _, _, err := persistence.VerifyBackup(bytes.NewReader(flipped)); !errors.Is(err, persistence.ErrBadBackup) {
		t.Errorf("VerifyBackup(flipped) = %v, want ErrBadBackup", err)
	}
	dst := openEngine(t, persistence.Options{Engine: persistence.EngineMemory})
	refused := errors.New("another ring")
	if _, _, err := persistence.RestoreBackup(bytes.NewReader(good), dst, func(h persistence.BackupHeader) error {
		if h.Partitions != 8 {
			return refused
		}
		return nil
	}); !errors.Is(err, refused) {
		t.Fatalf("restore error %v, want the check's", err)
	}
	if err := dst.Scan(nil, nil, func(k, _ []byte) bool { t.Errorf("wrote %q before the check", k); return false }); err != nil {
		t.Fatal(err)
	}
}
