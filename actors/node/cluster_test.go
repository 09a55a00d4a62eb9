package node

import (
	"testing"

	"github.com/dhtkv/dht/cluster/membership"
)

// TestMemberStatus: a decommissioned node is leaving for as long as it
// runs its drain (which ends with its exit), and removed once it has left
// gossip or when, started again, it holds nothing; a stopped owner is down
// however it stopped.
func TestMemberStatus(t *testing.T) {
	for _, tc := range []struct {
		removed, self, known bool
		gossip               membership.Status
		handingOver          bool
		want                 string
	}{
		{false, true, false, "", false, "alive"},
		{false, false, true, membership.StatusAlive, false, "alive"},
		{false, false, true, membership.StatusFailed, false, "down"},
		{false, false, true, membership.StatusLeft, false, "down"},
		{false, false, true, membership.StatusLeaving, false, "down"},
		{false, false, false, "", false, "down"},
		{true, false, true, membership.StatusAlive, true, "leaving"},
		{true, true, false, "", true, "leaving"},
		{true, false, true, membership.StatusLeaving, false, "removed"},
		{true, false, true, membership.StatusLeft, false, "removed"},
		{true, false, true, membership.StatusFailed, false, "removed"},
		{true, false, false, "", false, "removed"},
		// Decommissioned, handed over, and started again: it holds
		// nothing and announces no drain.
		{true, false, true, membership.StatusAlive, false, "removed"},
		{true, true, false, "", false, "removed"},
	} {
		if got := memberStatus(tc.removed, tc.self, tc.known, tc.gossip, tc.handingOver); got != tc.want {
			t.Errorf("memberStatus(removed %t, self %t, known %t, %q, handing over %t) = %q, want %q", tc.removed, tc.self, tc.known, tc.gossip, tc.handingOver, got, tc.want)
		}
	}
}
