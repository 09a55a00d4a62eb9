package entropy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dhtkv/dht/internal/antientropy"
)

// Metrics are the scheduler's instruments.
type Metrics struct {
	Exchanges    *prometheus.CounterVec
	KeysRepaired prometheus.Counter
	Bytes        prometheus.Counter
	// TombstonesReaped counts replica copies of tombstones deleted.
	TombstonesReaped prometheus.Counter
	// MaxSinceExchange is the age of the pair exchanged longest ago: it
	// stays under entropy.sweep_interval while the bound holds.
	MaxSinceExchange prometheus.Gauge
	// Sweep is how long the last completed sweep over every pair took.
	Sweep prometheus.Gauge
	// Sweeps counts completed sweeps.
	Sweeps prometheus.Counter
	// Pairs counts the (partition, live peer) pairs this node exchanges.
	Pairs prometheus.Gauge
}

// NewMetrics registers the anti-entropy metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "ae_exchanges_total",
			Help: "Anti-entropy exchanges by result: in_sync, repaired, aborted.",
		}, []string{"result"}),
		KeysRepaired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "ae_keys_repaired_total",
			Help: "Replica copies anti-entropy brought up to date.",
		}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "ae_bytes_total",
			Help: "Bytes of hashes, key listings and objects anti-entropy exchanged.",
		}),
		TombstonesReaped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "tombstones_reaped_total",
			Help: "Replica copies of tombstones deleted after the grace period.",
		}),
	}
	m.MaxSinceExchange = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "dht", Name: "ae_max_seconds_since_exchange",
		Help: "Seconds since the (partition, peer) pair exchanged longest ago was last exchanged (never exchanged: since first seen); stays under entropy.sweep_interval while the bound holds.",
	})
	m.Sweep = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "dht", Name: "ae_sweep_seconds",
		Help: "Duration of the last completed anti-entropy sweep: from its start until every (partition, peer) pair present then was exchanged.",
	})
	m.Sweeps = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "dht", Name: "ae_sweeps_total",
		Help: "Anti-entropy sweeps completed: every (partition, peer) pair exchanged.",
	})
	m.Pairs = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "dht", Name: "ae_pairs",
		Help: "(partition, live peer) pairs this node exchanges.",
	})
	reg.MustRegister(m.Exchanges, m.KeysRepaired, m.Bytes, m.TombstonesReaped, m.MaxSinceExchange, m.Sweep, m.Sweeps, m.Pairs)
	return m
}

// schedule shows the schedule's state, with the sweeps it completed since
// the last call.
func (m *Metrics) schedule(st antientropy.Stats, sweeps int) {
	if m == nil {
		return
	}
	m.MaxSinceExchange.Set(st.MaxAge.Seconds())
	if st.Sweeps > 0 {
		m.Sweep.Set(st.LastSweep.Seconds())
	}
	m.Sweeps.Add(float64(sweeps))
	m.Pairs.Set(float64(st.Pairs))
}

// record counts one finished round.
func (m *Metrics) record(r *antientropy.Result) {
	if m == nil {
		return
	}
	m.Exchanges.WithLabelValues(string(r.Outcome)).Inc()
	m.KeysRepaired.Add(float64(r.Repaired))
	m.TombstonesReaped.Add(float64(r.Reaped))
	m.Bytes.Add(float64(r.Bytes))
}
