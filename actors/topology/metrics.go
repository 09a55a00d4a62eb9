package topology

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the ring gossip a node sends, by kind: "digest" (the
// periodic gossip, a digest of the state) and "state" (the full state, sent
// only to a peer whose digest differs). With converged rings the state
// count stays flat; a state count that keeps rising means the nodes keep
// disagreeing.
type Metrics struct {
	Messages *prometheus.CounterVec
	Bytes    *prometheus.CounterVec
	// StateBytes, HandoffRecords and Entries describe the ring state as
	// last stored: its encoded size (what a full-state gossip carries),
	// how many handoff records it holds, and how many member entries (the
	// owners, and the removed members a base has not dropped yet). They
	// grow with joins, transfers and removals, and fall when the records
	// settle and when the history is compacted.
	StateBytes     prometheus.Gauge
	HandoffRecords prometheus.Gauge
	Entries        prometheus.Gauge
}

// NewMetrics registers the gossip metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "ring_gossip_messages_total",
			Help: "Ring gossip messages this node sent, by kind: digest (periodic) or state (full ring state, sent when a peer's digest differs)."}, []string{"kind"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "ring_gossip_bytes_total",
			Help: "Encoded bytes of the ring gossip this node sent, by kind."}, []string{"kind"}),
		StateBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "ring_state_bytes",
			Help: "Encoded size of this node's ring state as last stored: what a full-state gossip carries."}),
		HandoffRecords: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "ring_handoff_records",
			Help: "Handoff records in this node's ring state; removed members' records are forgotten once the plan settles."}),
		Entries: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dht", Name: "ring_entries",
			Help: "Member entries in this node's ring state: the owners, and the removed members a compaction has not dropped yet."}),
	}
	reg.MustRegister(m.Messages, m.Bytes, m.StateBytes, m.HandoffRecords, m.Entries)
	return m
}
