package vnode

import (
	"testing"
	"time"

	"github.com/dhtkv/dht/persistence"
)

func openBadger(t *testing.T, dir string) persistence.Engine {
	t.Helper()
	e, err := persistence.Open(persistence.Options{Engine: "badger", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMinter_RestartKeepsActorAndNeverReusesDots(t *testing.T) {
	dir := t.TempDir()
	now := time.UnixMilli(1_700_000_000_000)
	e := openBadger(t, dir)
	m, fresh, err := OpenMinter(e, now)
	if err != nil || !fresh {
		t.Fatalf("first open: fresh=%v err=%v", fresh, err)
	}
	var last uint64
	for i := 0; i < 10; i++ {
		d, err := m.Next()
		if err != nil {
			t.Fatal(err)
		}
		if d.Counter <= last {
			t.Fatalf("counter went from %d to %d", last, d.Counter)
		}
		last = d.Counter
	}
	actor := m.Actor()
	_ = e.Close()

	// Restart with a clock that went backwards: the lease still protects.
	e = openBadger(t, dir)
	defer e.Close()
	m2, fresh, err := OpenMinter(e, now.Add(-time.Hour))
	if err != nil || fresh {
		t.Fatalf("reopen: fresh=%v err=%v", fresh, err)
	}
	if m2.Actor() != actor {
		t.Fatalf("actor changed across a restart: %x -> %x", actor, m2.Actor())
	}
	d, err := m2.Next()
	if err != nil {
		t.Fatal(err)
	}
	if d.Counter <= last {
		t.Fatalf("after restart minted counter %d, not above %d", d.Counter, last)
	}
}

func TestMinter_WipedStorageTakesNewEpoch(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	e := openBadger(t, t.TempDir())
	m, _, err := OpenMinter(e, now)
	if err != nil {
		t.Fatal(err)
	}
	old := m.Actor()
	_ = e.Close()

	wiped := openBadger(t, t.TempDir()) // the same node on empty storage
	defer wiped.Close()
	m2, fresh, err := OpenMinter(wiped, now)
	if err != nil || !fresh {
		t.Fatalf("open on wiped storage: fresh=%v err=%v", fresh, err)
	}
	if m2.Actor() == old {
		t.Fatalf("wiped storage reused actor %x: its dots would collide with ones already replicated", old)
	}
}

func TestMinter_RolledBackLeaseStartsAboveClockFloor(t *testing.T) {
	e, _ := persistence.Open(persistence.Options{Engine: "memory"})
	defer e.Close()
	t0 := time.UnixMilli(1_700_000_000_000)
	m, _, _ := OpenMinter(e, t0)
	first, _ := m.Next()
	// Simulate storage rolled back to before any lease: only the clock floor
	// is left, and a later start must still mint above everything minted.
	if err := e.Delete(metaLease); err != nil {
		t.Fatal(err)
	}
	m2, _, _ := OpenMinter(e, t0.Add(time.Second))
	d, _ := m2.Next()
	if d.Counter <= first.Counter {
		t.Fatalf("minted %d after rollback, not above %d", d.Counter, first.Counter)
	}
}
