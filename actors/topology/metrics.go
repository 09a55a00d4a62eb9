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
}

// NewMetrics registers the gossip metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "ring_gossip_messages_total",
			Help: "Ring gossip messages this node sent, by kind: digest (periodic) or state (full ring state, sent when a peer's digest differs)."}, []string{"kind"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dht", Name: "ring_gossip_bytes_total",
			Help: "Encoded bytes of the ring gossip this node sent, by kind."}, []string{"kind"}),
	}
	reg.MustRegister(m.Messages, m.Bytes)
	return m
}
