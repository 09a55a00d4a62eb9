package topo

import (
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

func TestRejoinWait(t *testing.T) {
	const wait = 10 * time.Second
	self := ring.Member{ID: "a"}
	peer := ring.Member{ID: "b"}
	for _, tc := range []struct {
		name    string
		owners  []ring.Member
		waited  time.Duration
		waiting bool
	}{
		{"a ring of its own starts at once", []ring.Member{self}, 0, false},
		{"no ring yet", nil, 0, false},
		{"a ring with peers waits for them", []ring.Member{self, peer}, time.Second, true},
		{"a ring it is no longer in waits too", []ring.Member{peer}, 0, true},
		{"up to the wait, then it serves alone", []ring.Member{self, peer}, wait, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := RejoinWait(self.ID, tc.owners, tc.waited, wait)
			if (err != nil) != tc.waiting {
				t.Fatalf("RejoinWait = %v, want waiting %v", err, tc.waiting)
			}
		})
	}
}
