package entropy

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/antientropy"
)

// minTimeout is the least time one round may take: a round that lists and
// repairs MaxKeys keys on a busy node needs more than a short interval.
const minTimeout = 30 * time.Second

// Config configures the scheduler.
type Config struct {
	Self     string
	View     *topology.View
	VnodePID func(node string, p uint32) *actor.PID
	// Interval is the rate limit: the least time between the starts of two
	// rounds; the scheduler ticks at it.
	Interval time.Duration
	// SweepInterval is the bound: every (partition, peer) pair is exchanged
	// at least this often (see internal/antientropy's schedule).
	SweepInterval time.Duration
	MaxKeys       int
	// Timeout bounds one exchange.
	Timeout time.Duration
	// Grace is the least age of a tombstone before it may be reaped; 0
	// turns reaping off.
	Grace time.Duration
	// HintsPID returns the PID of node's hint queue.
	HintsPID func(node string) *actor.PID
	Metrics  *Metrics
	// Now is the wall clock tombstone ages are measured by (sibling
	// timestamps come from the same clock on every node); nil means
	// time.Now.
	Now func() time.Time
	// OnRepair, when set, hears of each exchange that repaired replicas.
	OnRepair func(p uint32, peer string, copies int)
	Logger   *slog.Logger
}

// FromConfig returns the fields of Config that follow from the node's
// configuration: its id, the rate limit, the sweep bound, the repair
// bound, the round's timeout (roundTimeout) and the tombstone grace. The node fills the runtime dependencies (view, PIDs,
// clock, metrics, the repair callback, logger).
func FromConfig(c config.Config) Config {
	return Config{
		Self:          c.Node.ID,
		Interval:      c.Entropy.Interval,
		SweepInterval: c.Entropy.SweepInterval,
		MaxKeys:       c.Entropy.MaxKeysPerExchange,
		Timeout:       roundTimeout(c.Entropy.Interval, c.Entropy.SweepInterval),
		Grace:         c.Entropy.TombstoneGrace,
	}
}

// roundTimeout bounds one round: three intervals, at least 30 s (a round
// that lists and repairs MaxKeys keys on a busy node needs that), but no
// more than a quarter of a short sweep interval, so that a round waiting
// on a peer that will not answer cannot spend the slack the sweep keeps.
func roundTimeout(interval, sweep time.Duration) time.Duration {
	t := max(minTimeout, 3*interval)
	if sweep > 0 {
		t = max(3*interval, min(t, sweep/4))
	}
	return t
}

// Props returns the props of the scheduler actor.
func Props(cfg Config) *actor.Props {
	return propsWithView(cfg, func() *antientropy.View { return viewOf(cfg.View.Load()) })
}

// propsWithView is Props with the cluster's view taken from view: tests give
// plain values instead of a topology view.
func propsWithView(cfg Config, view func() *antientropy.View) *actor.Props {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &scheduler{
			cfg:  cfg,
			m:    antientropy.New(machineConfig(cfg)),
			view: view,
			// Which pair a round takes is random per node, so that the
			// nodes' rounds spread over partitions and peers.
			rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		}
	})
}

// minRetry is the least backoff of a peer whose round failed.
const minRetry = time.Second

// machineConfig is the part of cfg the pure machine decides by. A peer
// whose round failed is left alone for at least a second (or one
// interval), doubling up to a quarter of the sweep interval, so that a
// silent peer's timeouts leave the other pairs most of the sweep.
func machineConfig(cfg Config) antientropy.Config {
	retry := max(minRetry, cfg.Interval)
	return antientropy.Config{
		Self: cfg.Self, MaxKeys: cfg.MaxKeys, Timeout: cfg.Timeout, Grace: cfg.Grace,
		MergeSize:     mergeSize,
		SweepInterval: cfg.SweepInterval, MinGap: cfg.Interval,
		RetryMin: retry, RetryMax: max(retry, cfg.SweepInterval/4),
	}
}
