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
	reg.MustRegister(m.Exchanges, m.KeysRepaired, m.Bytes, m.TombstonesReaped)
	return m
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
