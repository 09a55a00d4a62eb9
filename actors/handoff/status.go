package handoff

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtkv/dht/internal/transfer"
)

// Progress is one running transfer as Status shows it.
type Progress struct {
	Partition uint32
	Kind      string
	// Peer is the source of a receive; for a drain, the targets.
	Peer      string
	Keys      int64
	TotalKeys int64
	Bytes     int64
	StartedAt time.Time
}

// View is a copy of the handoff work at one moment.
type View struct {
	// RingVersion is the version of the ring state the view was computed
	// against (ring.State.Version).
	RingVersion uint64
	// Settled is ring.Plan.Settled of the same ring.
	Settled           bool
	Pending, Draining int
	// Rebuilding counts the partitions of Pending this node receives
	// again because it lost its data.
	Rebuilding int
	Active     []Progress
	Completed  uint64
	ETASeconds float64
}

// Status shares the actor's progress with the admin API (/admin/status,
// dhtctl status) and the node's readiness. Safe for concurrent use: the
// actor writes, any goroutine reads.
type Status struct {
	completed atomic.Uint64
	checked   atomic.Bool

	mu   sync.Mutex
	view View
}

// Checked reports whether the actor has compared the node's data with the
// ring at least once since it started: before that, the view is empty
// rather than idle.
func (s *Status) Checked() bool { return s.checked.Load() }

// Snapshot returns the latest view.
func (s *Status) Snapshot() View {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.view
	v.Active = slices.Clone(v.Active)
	v.Completed = s.completed.Load()
	return v
}

// update records a tick's report.
func (s *Status) update(r *transfer.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view = View{RingVersion: r.Version, Settled: r.Settled, Pending: r.Pending, Draining: r.Draining,
		Rebuilding: r.Rebuilding, Active: progressOf(r.Active), ETASeconds: r.ETASeconds}
	s.checked.Store(true)
}

// refresh updates the running transfers' progress between two ticks.
func (s *Status) refresh(active []transfer.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view.Active = progressOf(active)
}

// progressOf converts the machine's progress, in partition order.
func progressOf(active []transfer.Progress) []Progress {
	out := make([]Progress, 0, len(active))
	for _, t := range active {
		out = append(out, Progress{Partition: t.Partition, Kind: string(t.Kind), Peer: t.Peer,
			Keys: t.Keys, TotalKeys: t.TotalKeys, Bytes: t.Bytes, StartedAt: t.StartedAt})
	}
	return out
}
