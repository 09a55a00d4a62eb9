package topology

import (
	"sync/atomic"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
)

// Snapshot is one consistent picture of the cluster. It is immutable.
type Snapshot struct {
	// Self is this node's id.
	Self string
	// State is the ownership state and Table the claim computed from it.
	State ring.State
	Table ring.Table
	// Members is what gossip knows of each node, by id: liveness and
	// addresses. Owners that gossip has never seen are absent.
	Members map[string]membership.Member
	// Synced is set once this node has merged a peer's ring state since it
	// started: before that, State may be only what this node knew alone.
	Synced bool
}

// Alive reports whether node can be sent requests: this node always, others
// when gossip sees them alive.
func (s *Snapshot) Alive(node string) bool {
	if node == s.Self {
		return true
	}
	m, ok := s.Members[node]
	return ok && m.Status == membership.StatusAlive
}

// View publishes the latest Snapshot. Safe for concurrent use; readers never
// block the topology actor.
type View struct {
	p atomic.Pointer[Snapshot]
}

// Load returns the latest snapshot, or nil before the first is published.
func (v *View) Load() *Snapshot { return v.p.Load() }

func (v *View) store(s *Snapshot) { v.p.Store(s) }
