package handoff

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the handoff instruments.
type Metrics struct {
	Pending  prometheus.Gauge
	Draining prometheus.Gauge
	// Rebuilding counts the pending partitions this node receives again
	// after losing its data (a wiped disk).
	Rebuilding prometheus.Gauge
	Active     prometheus.Gauge
	ETA        prometheus.Gauge
	Keys       *prometheus.CounterVec
	Bytes      *prometheus.CounterVec
	Transfers  *prometheus.CounterVec
	// Compares counts the comparisons of Merkle trees that begin a
	// transfer, by how they ended; CompareBytes their cost (hashes and key
	// listings received); SkippedKeys the source's keys a comparison found
	// the receivers already held, and so were not sent. Next to Keys they
	// show what comparing saves.
	Compares     *prometheus.CounterVec
	CompareBytes *prometheus.CounterVec
	SkippedKeys  *prometheus.CounterVec
}

// NewMetrics registers the handoff metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "handoff_pending_partitions",
			Help: "Partitions this node still has to receive after an ownership change."}),
		Rebuilding: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "handoff_rebuilding_partitions",
			Help: "Partitions this node receives again because it lost its data (it started with empty storage while owning replicas); not read from until received."}),
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
	m.Compares = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "handoff_compares_total",
		Help: "Merkle comparisons that begin a transfer, by kind and result: in_sync (nothing sent), difference (only the differing keys sent), full (the partition sent whole: a receiver held nothing, most buckets differed, or the trees could not be compared)."}, []string{"kind", "result"})
	m.CompareBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "handoff_compare_bytes_total",
		Help: "Bytes of Merkle hashes and bucket key listings received by transfers' comparisons, by kind."}, []string{"kind"})
	m.SkippedKeys = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "handoff_skipped_keys_total",
		Help: "Keys of a transfer's source that its comparison found the receivers already held, and did not send, by kind."}, []string{"kind"})
	reg.MustRegister(m.Pending, m.Rebuilding, m.Draining, m.Active, m.ETA, m.Keys, m.Bytes, m.Transfers,
		m.Compares, m.CompareBytes, m.SkippedKeys)
	return m
}
