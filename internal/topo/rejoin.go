package topo

import (
	"fmt"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// RejoinWait is readiness's rule for a node restarted without seeds that
// has not merged a peer's ring and sees no peer alive yet: gossip rejoins
// the peers it knew in the background, so it waits while its ring names an
// owner other than self and less than wait has passed; then it serves
// alone by the ring it stored (its peers may all be down). It returns why
// the node waits, nil when it need not.
func RejoinWait(self string, owners []ring.Member, waited, wait time.Duration) error {
	others := false
	for _, m := range owners {
		others = others || m.ID != self
	}
	if !others || waited >= wait {
		return nil
	}
	return fmt.Errorf("restarted without seeds: waiting up to %s for a peer it knew to answer gossip (waited %s)", wait, waited.Round(time.Millisecond))
}
