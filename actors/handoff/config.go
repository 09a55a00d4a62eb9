package handoff

import (
	"time"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/topo"
)

// requestTimeout bounds one request of a transfer: a batch of at most
// handoff.transfer_batch_bytes read or merged by a vnode.
const requestTimeout = 30 * time.Second

// FromConfig returns the actor's configuration derived from the node's:
// its id and the handoff.transfer_* and drop_delay settings. Interval is
// the normal gossip interval, which the node shortens in tests that ask
// for fast gossip. The runtime dependencies (View, VnodePID, TopologyPID,
// Engine, Keys, Status, Metrics, OnEvent, OnRetired, Logger) are the
// node's to fill.
func FromConfig(c config.Config) Config {
	return Config{
		Self:        c.Node.ID,
		Concurrency: c.Handoff.TransferConcurrency,
		BatchKeys:   c.Handoff.TransferBatchKeys,
		BatchBytes:  c.Handoff.TransferBatchBytes,
		DropDelay:   c.Handoff.DropDelay,
		Interval:    time.Second,
		Timeout:     requestTimeout,
		Compare:     true,
		// The wait for the peers' ring before a receive is the one
		// readiness allows (cluster.ready_agreement_wait): both bound
		// how long a peer that cannot agree may hold things up.
		AgreementWait: agreementWait(c.Cluster.ReadyAgreementWait),
	}
}

// agreementWait is the configured wait for ring agreement, or topo's
// default when it is unset.
func agreementWait(d time.Duration) time.Duration {
	if d <= 0 {
		return topo.DefaultAgreementWait
	}
	return d
}
