package transfer

import (
	"testing"
	"time"
)

func TestTimedOut_OnlyPastTheDeadline(t *testing.T) {
	r := &run{deadline: epoch.Add(30 * time.Second)}
	for _, tc := range []struct {
		now  time.Duration
		want bool
	}{{29 * time.Second, false}, {30 * time.Second, false}, {30*time.Second + time.Nanosecond, true}} {
		if got := timedOut(r, epoch.Add(tc.now)); got != tc.want {
			t.Errorf("deadline 30s, now %s: timedOut %t, want %t", tc.now, got, tc.want)
		}
	}
}

func TestPeerDown_SourceOrAnyTarget(t *testing.T) {
	alive := map[string]bool{"a": true, "b": true}
	for _, tc := range []struct {
		name string
		r    *run
		want bool
	}{
		{"receive from a live source", &run{kind: Receive, peer: "b"}, false},
		{"receive from a dead source", &run{kind: Receive, peer: "c"}, true},
		{"drain to live targets", &run{kind: Drain, targets: []string{"a", "b"}}, false},
		{"drain with one dead target", &run{kind: Drain, targets: []string{"b", "c"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := peerDown(tc.r, alive); got != tc.want {
				t.Errorf("peerDown = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestMachine_FullAtConcurrency(t *testing.T) {
	m := New(Config{Concurrency: 2})
	for i, want := range []bool{false, false, true} {
		if got := m.full(); got != want {
			t.Errorf("%d running of 2: full %t, want %t", i, got, want)
		}
		m.active[uint32(i)] = &run{p: uint32(i)}
	}
}

func TestMachine_JustReceivedMatchesThePlacement(t *testing.T) {
	m := New(Config{})
	m.received[3] = 7
	for _, tc := range []struct {
		w    Want
		want bool
	}{{Want{Partition: 3, Since: 7}, true}, {Want{Partition: 3, Since: 8}, false}, {Want{Partition: 4, Since: 7}, false}} {
		if got := m.justReceived(tc.w); got != tc.want {
			t.Errorf("received {3:7}, want %+v: justReceived %t, want %t", tc.w, got, tc.want)
		}
	}
}

func TestDrainable_UnneededInASyncedRing(t *testing.T) {
	for _, tc := range []struct {
		needed, synced, want bool
	}{{false, true, true}, {true, true, false}, {false, false, false}, {true, false, false}} {
		if got := drainable(Held{Needed: tc.needed}, Snapshot{Synced: tc.synced}); got != tc.want {
			t.Errorf("needed %t synced %t: drainable %t, want %t", tc.needed, tc.synced, got, tc.want)
		}
	}
}

func TestDelayPassed_AtTheDelay(t *testing.T) {
	since := epoch
	for _, tc := range []struct {
		now  time.Duration
		want bool
	}{{9 * time.Second, false}, {10 * time.Second, true}, {11 * time.Second, true}} {
		if got := delayPassed(since, epoch.Add(tc.now), 10*time.Second); got != tc.want {
			t.Errorf("delay 10s, %s later: delayPassed %t, want %t", tc.now, got, tc.want)
		}
	}
}

func TestTookPart_OwnerDrainingOrInvolved(t *testing.T) {
	for _, tc := range []struct {
		name     string
		s        Snapshot
		draining int
		want     bool
	}{
		{"owner", Snapshot{Owner: true}, 0, true},
		{"draining", Snapshot{}, 1, true},
		{"involved", Snapshot{Involved: true}, 0, true},
		{"none of them: a removed node on an empty store", Snapshot{Removed: true}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tookPart(tc.s, tc.draining); got != tc.want {
				t.Errorf("tookPart = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestDecommissioned_RemovedInASyncedRing(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Snapshot
		want bool
	}{
		{"removed, synced", Snapshot{Removed: true, Synced: true}, true},
		{"removed, not synced: may be stale", Snapshot{Removed: true}, false},
		{"an owner", Snapshot{Owner: true, Synced: true}, false},
		{"joined again: owner and not removed", Snapshot{Owner: true, Removed: false, Synced: true}, false},
		{"never a member", Snapshot{Synced: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decommissioned(tc.s); got != tc.want {
				t.Errorf("decommissioned = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestNothingLeft_EachTermBlocks(t *testing.T) {
	for _, tc := range []struct {
		name             string
		s                Snapshot
		draining, active int
		want             bool
	}{
		{"nothing at all", Snapshot{}, 0, 0, true},
		{"a placement to receive", Snapshot{Wanted: []Want{{Partition: 1}}}, 0, 0, false},
		{"a partition to drain", Snapshot{}, 1, 0, false},
		{"a transfer running", Snapshot{}, 0, 1, false},
		{"a part in a partition", Snapshot{Involved: true}, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nothingLeft(tc.s, tc.draining, tc.active); got != tc.want {
				t.Errorf("nothingLeft = %t, want %t", got, tc.want)
			}
		})
	}
}
