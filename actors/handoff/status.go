package handoff

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dhtkv/dht/cluster/ring"
)

type ringTransfer = ring.Transfer

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
	Active            []Progress
	Completed         uint64
	ETASeconds        float64
}

// Status shares the actor's progress with the admin API. Safe for
// concurrent use.
type Status struct {
	completed atomic.Uint64
	checked   atomic.Bool
	movedKeys atomic.Int64

	mu   sync.Mutex
	view View
	// rate is a moving average of keys moved per second.
	rate      float64
	lastMoved int64
	lastTick  time.Time
	avgKeys   float64
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

func (s *Status) moved(keys int64) { s.movedKeys.Add(keys) }

// update records the actor's state at now and estimates the time left: the
// keys left of the running transfers plus, for each waiting partition, the
// mean size of the ones seen, at the recent rate.
func (s *Status) update(version uint64, settled bool, pending, draining int, active map[uint32]*transfer, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	moved := s.movedKeys.Load()
	if !s.lastTick.IsZero() {
		if dt := now.Sub(s.lastTick).Seconds(); dt > 0 {
			instant := float64(moved-s.lastMoved) / dt
			s.rate = 0.7*s.rate + 0.3*instant
		}
	}
	s.lastMoved, s.lastTick = moved, now

	view := View{RingVersion: version, Settled: settled, Pending: pending, Draining: draining, Active: progressOf(active)}
	var left float64
	running := 0
	for _, t := range active {
		if t.total > 0 {
			s.avgKeys = 0.8*s.avgKeys + 0.2*float64(t.total)
			left += float64(max(t.total-t.keys, 0))
		}
		running++
	}
	waiting := max(pending+draining-running, 0)
	left += float64(waiting) * s.avgKeys
	if s.rate > 0.5 && left > 0 {
		view.ETASeconds = left / s.rate
	}
	s.view = view
	s.checked.Store(true)
}

// refresh updates the running transfers' progress between two ticks.
func (s *Status) refresh(active map[uint32]*transfer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view.Active = progressOf(active)
}

func progressOf(active map[uint32]*transfer) []Progress {
	out := make([]Progress, 0, len(active))
	for _, t := range active {
		out = append(out, Progress{
			Partition: t.p, Kind: t.kind, Peer: t.peerOrTargets(), Keys: t.keys, TotalKeys: t.total, Bytes: t.bytes, StartedAt: t.started,
		})
	}
	slices.SortFunc(out, func(a, b Progress) int { return int(a.Partition) - int(b.Partition) })
	return out
}

// Metrics are the handoff instruments.
type Metrics struct {
	Pending   prometheus.Gauge
	Draining  prometheus.Gauge
	Active    prometheus.Gauge
	ETA       prometheus.Gauge
	Keys      *prometheus.CounterVec
	Bytes     *prometheus.CounterVec
	Transfers *prometheus.CounterVec
}

// NewMetrics registers the handoff metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "handoff_pending_partitions",
			Help: "Partitions this node still has to receive after an ownership change."}),
		Draining: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "handoff_draining_partitions",
			Help: "Partitions this node holds data of but no longer has a part in; it hands them back and drops them."}),
		Active: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "handoff_active_transfers",
			Help: "Transfers running now (at most handoff.transfer_concurrency)."}),
		ETA: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "handoff_eta_seconds",
			Help: "Estimated seconds until this node's handoff work is done at the recent rate; 0 when idle or unknown."}),
		Keys: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "handoff_keys_total",
			Help: "Keys moved by handoff transfers, by kind: receive or drain."}, []string{"kind"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "handoff_bytes_total",
			Help: "Bytes of objects moved by handoff transfers, by kind."}, []string{"kind"}),
		Transfers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "handoff_transfers_total",
			Help: "Handoff transfers ended, by kind and result: done, aborted (resumes later), retry (a drain that saw a new write)."}, []string{"kind", "result"}),
	}
	reg.MustRegister(m.Pending, m.Draining, m.Active, m.ETA, m.Keys, m.Bytes, m.Transfers)
	return m
}
