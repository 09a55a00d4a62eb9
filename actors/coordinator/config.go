package coordinator

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/metrics"
)

// Route is where a request for one partition goes.
type Route struct {
	// Targets are the reachable replicas in preference order: live owners
	// (primaries), then fallbacks standing in for down owners.
	Targets []quorum.Target
	// Uncovered lists down owners no fallback stands in for (a cluster no
	// larger than N). A live primary keeps their hints, which do not count
	// toward W: one machine never counts twice.
	Uncovered []string
	// Pending are new owners still receiving the partition in a handoff:
	// they take every write, so they miss nothing meanwhile, but are not
	// read from and do not count toward W.
	Pending []string
}

// Router tells a coordinator where a partition's replicas are. It is called
// from coordinator actors concurrently and must be safe for that.
type Router interface {
	// Route returns where requests for partition p go.
	Route(p uint32) Route
	// VnodePID returns the PID of partition p's vnode on node.
	VnodePID(node string, p uint32) *actor.PID
	// HintsPID returns the PID of node's hint queue.
	HintsPID(node string) *actor.PID
}

// Config is shared by all coordinators of a node.
type Config struct {
	// Hints turns on hinted handoff for replicas that miss the deadline.
	Hints bool
	// CoordinateTimeout is how long a write waits for its coordinating
	// replica's first answer before the machine hands it to the next owner
	// (quorum.Put.CoordinatorLate); zero never hands over.
	CoordinateTimeout time.Duration
	// HandOverAllowed, when set, is asked as each write starts whether it
	// may be handed over (and so gets a write id): the node answers false
	// while a member runs a release that drops write ids. Nil: always.
	HandOverAllowed func() bool
	Router          Router
	Metrics         *metrics.Metrics
	// Dispatcher, when set, runs coordinators' mailboxes (the node's
	// worker pool); nil means protoactor's default.
	Dispatcher actor.Dispatcher
	Logger     *slog.Logger
	// Now is the wall clock answers are read at: a value whose expiry has
	// passed by it is answered as a tombstone (dvv.Set.At). Nil means
	// time.Now; tests advance it to expire values without sleeping.
	// Deadlines and timers keep the real clock.
	Now func() time.Time
}

// now reads the clock answers are read at.
func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// FromConfig returns the coordinators' settings that come from the node's
// config (handoff.hints, replication.coordinate_timeout). The node fills in
// the rest: Router, Metrics, Dispatcher and Logger.
func FromConfig(c config.Config) Config {
	return Config{Hints: c.Handoff.Hints, CoordinateTimeout: c.Replication.CoordinateTimeout}
}
