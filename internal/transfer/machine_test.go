package transfer

import (
	"slices"
	"testing"
	"time"
)

func testConfig() Config {
	return Config{Self: "a", Concurrency: 2, BatchKeys: 10, BatchBytes: 1000, DropDelay: 0, Timeout: 30 * time.Second}
}

func TestMachine_Tick(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Snapshot
		// check looks at the effects of a second tick, one second after
		// the first (a drain needs two: the first starts its delay).
		check func(t *testing.T, e Effects)
	}{
		{
			name: "no ring known: nothing, not even a report",
			s:    Snapshot{Wanted: []Want{{Partition: 1, Sources: []string{"b"}}}, Alive: []string{"b"}},
			check: func(t *testing.T, e Effects) {
				if len(e.Pulls) != 0 || e.Report != nil {
					t.Errorf("effects %+v, want none", e)
				}
			},
		},
		{
			name: "a receive never pulls from this node itself",
			s:    Snapshot{Partitions: 4, Wanted: []Want{{Partition: 1, Sources: []string{"a", "c", "b"}}}, Alive: []string{"b"}},
			check: func(t *testing.T, e Effects) {
				if len(e.Pulls) != 1 || e.Pulls[0].Node != "b" {
					t.Errorf("pulls %+v, want one from b (a is self, c is down)", e.Pulls)
				}
			},
		},
		{
			name: "a drain pushes to each live replica once, never to itself",
			s: Snapshot{Partitions: 4, Synced: true, Alive: []string{"b", "c"},
				Held: []Held{{Partition: 2, Replicas: []string{"b", "a", "d", "b", "c"}}}},
			check: func(t *testing.T, e Effects) {
				if len(e.Pulls) != 1 || e.Pulls[0].Node != "a" {
					t.Fatalf("pulls %+v, want one from a's own vnode", e.Pulls)
				}
				if got := e.Report.Active[0].Peer; got != "[b c]" {
					t.Errorf("drain targets %s, want [b c]", got)
				}
			},
		},
		{
			name: "held partitions are drained in partition order",
			s: Snapshot{Partitions: 8, Synced: true, Alive: []string{"b"},
				Held: []Held{{Partition: 7, Replicas: []string{"b"}}, {Partition: 5, Replicas: []string{"b"}}, {Partition: 6, Replicas: []string{"b"}}}},
			check: func(t *testing.T, e Effects) {
				var got []uint32
				for _, p := range e.Pulls {
					got = append(got, p.Partition)
				}
				if !slices.Equal(got, []uint32{5, 6}) {
					t.Errorf("drains started %v, want [5 6] (concurrency 2)", got)
				}
			},
		},
		{
			name: "pulls carry the batch bounds and the deadline",
			s:    Snapshot{Partitions: 4, Wanted: []Want{{Partition: 1, Sources: []string{"b"}}}, Alive: []string{"b"}},
			check: func(t *testing.T, e Effects) {
				p := e.Pulls[0]
				if p.MaxKeys != 10 || p.MaxBytes != 1000 || !p.Deadline.Equal(epoch.Add(31*time.Second)) {
					t.Errorf("pull %+v, want max 10 keys, 1000 bytes, deadline 31s", p)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(testConfig())
			s := tc.s
			if len(s.Held) > 0 {
				m.Tick(epoch, s) // the drop delay starts
			}
			tc.check(t, m.Tick(epoch.Add(time.Second), s))
		})
	}
}

func TestMachine_Replies(t *testing.T) {
	start := func() (*Machine, Effects) {
		m := New(testConfig())
		return m, m.Tick(epoch, Snapshot{Partitions: 4, Wanted: []Want{{Partition: 1, Since: 3, Sources: []string{"b"}}}, Alive: []string{"b"}})
	}
	t.Run("a reply with an unknown id is ignored", func(t *testing.T) {
		m, _ := start()
		for _, e := range []Effects{m.Pulled(epoch, 99, Batch{Keys: 1, Done: true}), m.Merged(epoch, 99), m.Failed(epoch, 99, "x")} {
			if len(e.Merges)+len(e.Pulls)+len(e.Ended)+len(e.Done) != 0 {
				t.Errorf("effects %+v, want none", e)
			}
		}
		if len(m.active) != 1 {
			t.Errorf("%d transfers running, want the one started", len(m.active))
		}
	})
	t.Run("a reply counts once", func(t *testing.T) {
		m, e := start()
		id := e.Pulls[0].ID
		if got := m.Pulled(epoch, id, Batch{Keys: 1, Bytes: 5, Last: []byte("k")}); len(got.Merges) != 1 {
			t.Fatalf("first answer: merges %+v, want one", got.Merges)
		}
		if got := m.Pulled(epoch, id, Batch{Keys: 1, Bytes: 5, Last: []byte("k")}); len(got.Merges) != 0 {
			t.Errorf("the same answer again: merges %+v, want none", got.Merges)
		}
	})
	t.Run("the total is the first batch's", func(t *testing.T) {
		m, e := start()
		got := m.Pulled(epoch, e.Pulls[0].ID, Batch{Keys: 1, Bytes: 5, Last: []byte("k"), Total: 10})
		got = m.Merged(epoch, got.Merges[0].ID)
		m.Pulled(epoch, got.Pulls[0].ID, Batch{Keys: 1, Bytes: 5, Last: []byte("l"), Total: 12})
		if p := m.progress()[0]; p.TotalKeys != 10 {
			t.Errorf("total %d, want 10 (the first batch's)", p.TotalKeys)
		}
	})
	t.Run("a Dropped for a receive is ignored", func(t *testing.T) {
		m, _ := start()
		if got := m.Dropped(epoch, 1, DropResult{Done: true}); len(got.Ended) != 0 || len(m.active) != 1 {
			t.Errorf("effects %+v with %d running, want none and the receive going on", got, len(m.active))
		}
	})
	t.Run("a receive done while the ring changed is still reported", func(t *testing.T) {
		m, e := start()
		got := m.Pulled(epoch, e.Pulls[0].ID, Batch{Done: true})
		if len(got.Done) != 1 || got.Done[0] != (Placement{Partition: 1, Since: 3}) {
			t.Errorf("done %+v, want partition 1 since 3", got.Done)
		}
	})
}

func TestMachine_RetiresOnce(t *testing.T) {
	m := New(testConfig())
	m.Tick(epoch, Snapshot{Partitions: 4, Owner: true, Involved: true})
	removed := Snapshot{Partitions: 4, Synced: true, Removed: true}
	retired := 0
	for i := range 3 {
		if m.Tick(epoch.Add(time.Duration(i)*time.Second), removed).Retire {
			retired++
		}
	}
	if retired != 1 {
		t.Errorf("retired %d times, want once", retired)
	}
}

// TestMachine_LeavingWhileHandingOver: a decommissioned node that took part
// in this run reports Leaving from its removal through its retirement; a
// node started again after its decommission, holding nothing, does not.
func TestMachine_LeavingWhileHandingOver(t *testing.T) {
	m := New(testConfig())
	if m.Tick(epoch, Snapshot{Partitions: 4, Owner: true, Involved: true}).Report.Leaving {
		t.Error("an owner reports leaving")
	}
	removed := Snapshot{Partitions: 4, Synced: true, Removed: true}
	if e := m.Tick(epoch.Add(time.Second), removed); !e.Report.Leaving || !e.Retire {
		t.Errorf("removed and handed over: leaving %t, retire %t; want both", e.Report.Leaving, e.Retire)
	}
	restarted := New(testConfig())
	if restarted.Tick(epoch, removed).Report.Leaving {
		t.Error("a node started again after its decommission reports leaving")
	}
}
