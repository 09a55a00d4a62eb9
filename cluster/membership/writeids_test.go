package membership

import (
	"testing"
)

// TestKeepWriteIDs: writes are handed over only while every member that
// may hold or receive data keeps write ids. A member of an earlier release
// counts alive, failed (it will come back) or leaving, and after it left
// gossip while the ring still gives it replicas (a clean stop); not once it
// left owning nothing (decommissioned), nor in another cluster.
func TestKeepWriteIDs(t *testing.T) {
	owners := map[string]bool{"old-stopped": true}
	owner := func(id string) bool { return owners[id] }
	member := func(id string, status Status, writeIDs bool) Member {
		return Member{ID: id, Cluster: "c", Status: status, WriteIDs: writeIDs}
	}
	tests := []struct {
		name    string
		members []Member
		want    bool
	}{
		{"all keep write ids", []Member{member("a", StatusAlive, true), member("b", StatusFailed, true)}, true},
		{"an old member alive", []Member{member("a", StatusAlive, true), member("old", StatusAlive, false)}, false},
		{"an old member failed", []Member{member("a", StatusAlive, true), member("old", StatusFailed, false)}, false},
		{"an old member leaving", []Member{member("a", StatusAlive, true), member("old", StatusLeaving, false)}, false},
		{"an old member stopped, still an owner", []Member{member("a", StatusAlive, true), member("old-stopped", StatusLeft, false)}, false},
		{"an old member decommissioned", []Member{member("a", StatusAlive, true), member("old-gone", StatusLeft, false)}, true},
		{"an old node of another cluster", []Member{member("a", StatusAlive, true), {ID: "x", Cluster: "other", Status: StatusAlive}}, true},
	}
	for _, tt := range tests {
		if got := KeepWriteIDs(tt.members, "c", owner); got != tt.want {
			t.Errorf("%s: KeepWriteIDs = %v, want %v", tt.name, got, tt.want)
		}
	}
}
