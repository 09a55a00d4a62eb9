package hints

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/hintq"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
)

// defaultBatchSize is the hints in flight to one target when Config leaves
// BatchSize unset.
const defaultBatchSize = 64

// Config configures the hint queue.
type Config struct {
	// Stats, when set, is kept up to date for the admin API.
	Stats    *Stats
	Engine   persistence.Engine
	MaxHints int
	MaxBytes int64
	// Interval is how often pending hints are offered to live targets.
	Interval time.Duration
	// BatchSize bounds the hints in flight to one target.
	BatchSize int
	// Alive reports whether a target node can take deliveries now.
	Alive func(node string) bool
	// VnodePID returns the PID of partition p's vnode on node.
	VnodePID func(node string, p uint32) *actor.PID
	// Partitions, when set, is the ring's partition count now: a hint is
	// delivered to its key's partition on the ring as it is, which a
	// resize changes (ring.State.Resize), not the one it was stored for.
	Partitions func() int
	// Redirect, when set, says where hints go whose target was removed from
	// the ring (force-removed: it will never come back): ok is true for such
	// a target, and node is a live serving replica of p, or "" while there
	// is none. Without it those hints would wait forever.
	Redirect func(target string, p uint32) (node string, ok bool)
	// RetryClock is the clock retry timing runs on; nil means time.Now,
	// whose monotonic reading never jumps. It is apart from Now because the
	// data clock may be skewed or jump back: a batch would then look sent
	// in the future and never be offered again.
	RetryClock func() time.Time
	// Now is the wall clock for hint timestamps; nil means time.Now.
	Now     func() time.Time
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// FromConfig returns the fields of Config that follow from the node's
// configuration: the bounds and the delivery interval. The node fills the
// runtime dependencies (engine, stats, liveness, routing, clocks, metrics,
// logger); BatchSize is left to its default.
func FromConfig(c config.Config) Config {
	return Config{
		MaxHints: c.Handoff.MaxHints,
		MaxBytes: c.Handoff.MaxHintBytes,
		Interval: c.Handoff.DeliverInterval,
	}
}

// Props returns the props of the hint queue actor.
func Props(cfg Config) *actor.Props {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.RetryClock == nil {
		cfg.RetryClock = time.Now
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return actor.PropsFromProducer(func() actor.Actor {
		// Each incarnation numbers its deliveries from the clock, in
		// nanoseconds: after a restart, answers still on their way to the
		// previous one carry ids the new one never uses (ids grow by one
		// per delivery, far slower than the clock).
		return &queue{cfg: cfg, q: hintq.New(hintq.Config{
			MaxHints: cfg.MaxHints, MaxBytes: cfg.MaxBytes, BatchSize: cfg.BatchSize, Interval: cfg.Interval,
			FirstRequest: uint64(cfg.Now().UnixNano()),
		})}
	})
}
