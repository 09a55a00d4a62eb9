package replica

import (
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

// CounterPerMilli floors a fresh minter's counter at wall-clock
// milliseconds × this (see the vnode's Minter). If storage is rolled back
// the persisted lease may be older than dots already handed out; the floor
// still starts above them unless the node had sustained more than a
// million writes per second.
const CounterPerMilli = 1000

// counterSkew is how far ahead of this node's clock another replica's
// clock may run and its counters still be believed (PlausibleCounter).
const counterSkew = 24 * time.Hour

// PlausibleCounter bounds the counter of any dot a replica can have minted
// by now: counters start at wall-clock milliseconds × CounterPerMilli and
// grow by one per write, so a counter far above that, allowing counterSkew
// for clocks ahead of this one, was invented (a forged context on a cluster
// without a context secret).
func PlausibleCounter(now time.Time) uint64 {
	return uint64(now.Add(counterSkew).UnixMilli()) * CounterPerMilli
}

// mintFloor is the counter a write's dot must exceed: whatever the key's
// stored context or the client's says of this replica. A context can name
// it beyond its minter (a backup restored over newer data, or a context
// forged within PlausibleCounter); a dot at or below that would be refused
// as stale, and the key would stay unwritable here.
func mintFloor(self dvv.Actor, stored, client dvv.VersionVector) uint64 {
	return max(stored.Get(self), client.Get(self))
}
