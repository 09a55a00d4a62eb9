package node

import (
	"testing"

	"github.com/dhtkv/dht/cluster/membership"
)

// TestKeepWriteIDs: writes are handed over only while every member that
// may hold or receive data keeps write ids. A member of an earlier release
// counts alive, failed (it will come back) or leaving, and after it left
// gossip while the ring still gives it replicas (a clean stop); not once it
// left owning nothing (decommissioned), nor in another cluster.
func TestKeepWriteIDs(t *testing.T) {
	owners := map[string]bool{"old-stopped": true}
	owner := func(id string) bool { return owners[id] }
	member := func(id string, status membership.Status, writeIDs bool) membership.Member {
		return membership.Member{ID: id, Cluster: "c", Status: status, WriteIDs: writeIDs}
	}
	tests := []struct {
		name    string
		members []membership.Member
		want    bool
	}{
		{"all keep write ids", []membership.Member{member("a", membership.StatusAlive, true), member("b", membership.StatusFailed, true)}, true},
		{"an old member alive", []membership.Member{member("a", membership.StatusAlive, true), member("old", membership.StatusAlive, false)}, false},
		{"an old member failed", []membership.Member{member("a", membership.StatusAlive, true), member("old", membership.StatusFailed, false)}, false},
		{"an old member leaving", []membership.Member{member("a", membership.StatusAlive, true), member("old", membership.StatusLeaving, false)}, false},
		{"an old member stopped, still an owner", []membership.Member{member("a", membership.StatusAlive, true), member("old-stopped", membership.StatusLeft, false)}, false},
		{"an old member decommissioned", []membership.Member{member("a", membership.StatusAlive, true), member("old-gone", membership.StatusLeft, false)}, true},
		{"an old node of another cluster", []membership.Member{member("a", membership.StatusAlive, true), {ID: "x", Cluster: "other", Status: membership.StatusAlive}}, true},
	}
	for _, tt := range tests {
		if got := keepWriteIDs(tt.members, "c", owner); got != tt.want {
			t.Errorf("%s: keepWriteIDs = %v, want %v", tt.name, got, tt.want)
		}
	}
}
