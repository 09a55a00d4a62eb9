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
	// StateBytes and HandoffRecords describe the ring state as last
	// stored: its encoded size (what a full-state gossip carries) and how
	// many handoff records it holds. Both grow with joins and transfers
	// and fall when removed members' records are forgotten.
	StateBytes     prometheus.Gauge
	HandoffRecords prometheus.Gauge
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
	}
	reg.MustRegister(m.Messages, m.Bytes, m.StateBytes, m.HandoffRecords)
	return m
}
