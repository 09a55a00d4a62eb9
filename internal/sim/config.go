package sim

import (
	"fmt"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/quorum"
)

// Config describes the simulated cluster and its network.
type Config struct {
	// Nodes is how many members the cluster starts with, all settled.
	Nodes int
	// Zones is how many failure zones the members are spread over,
	// round-robin (node i in zone i mod Zones); 0 puts every member in the
	// same, unnamed zone.
	Zones int
	// Partitions is Q, a power of two (ring.ValidatePartitions).
	Partitions int
	// Quorum holds N, and the R, W, PR and PW of the simulated requests.
	Quorum quorum.Params
	// DataBytes is the cluster's data, counted once (not per replica); a
	// partition holds DataBytes/Partitions. Keeping it fixed across Q and
	// sizes makes settle times comparable: a transfer's time is its
	// partition's size over TransferRate.
	DataBytes int64
	// TransferRate is the bytes per simulated second one transfer moves.
	TransferRate int64
	// TransferConcurrency bounds the transfers a node receives at once, and
	// those it sends at once (handoff.transfer_concurrency's default is 2).
	TransferConcurrency int
	// Jitter spreads each transfer's time uniformly by ± this fraction, so
	// that transfers do not finish in lockstep.
	Jitter float64
	// KeysPerPartition is how many keys of each partition the Merkle repair
	// model tracks; Outage and WritesPerSecond decide how many of them a
	// down node misses.
	KeysPerPartition int
	// WritesPerSecond is the cluster's write rate, spread evenly over the
	// partitions and over KeysPerPartition keys in each.
	WritesPerSecond int
	// Outage is how long a crash or zone loss lasts before its recover step.
	Outage time.Duration
	// Now, when set, is the wall clock Result.Claim is timed with. A pure
	// package reads no clock: the caller passes time.Now, or nil to leave
	// the timings at zero (as tests do: time belongs in benchmarks).
	Now func() time.Time
}

// Default is a 30-node cluster over 3 zones at Q = 256 with N = 3, R = W = 2:
// small enough for tests. The data and rates are the matrix's: 1 TiB of data
// moved at 100 MiB/s per transfer, two transfers in and two out per node.
func Default() Config {
	return Config{
		Nodes:               30,
		Zones:               3,
		Partitions:          256,
		Quorum:              quorum.Params{N: 3, R: 2, W: 2},
		DataBytes:           1 << 40,
		TransferRate:        100 << 20,
		TransferConcurrency: 2,
		Jitter:              0.1,
		KeysPerPartition:    1024,
		WritesPerSecond:     100,
		Outage:              10 * time.Minute,
	}
}

// Validate reports the first setting that cannot be simulated, by name.
func (c Config) Validate() error {
	if err := ring.ValidatePartitions(c.Partitions); err != nil {
		return fmt.Errorf("sim: partitions: %w", err)
	}
	if err := c.Quorum.ValidateRead(); err != nil {
		return fmt.Errorf("sim: quorum: %w", err)
	}
	if err := c.Quorum.ValidateWrite(); err != nil {
		return fmt.Errorf("sim: quorum: %w", err)
	}
	switch {
	case c.Nodes < 1:
		return fmt.Errorf("sim: nodes must be at least 1, got %d", c.Nodes)
	case c.Zones < 0:
		return fmt.Errorf("sim: zones must not be negative, got %d", c.Zones)
	case c.DataBytes < 0:
		return fmt.Errorf("sim: data_bytes must not be negative, got %d", c.DataBytes)
	case c.TransferRate < 1:
		return fmt.Errorf("sim: transfer_rate must be positive, got %d", c.TransferRate)
	case c.TransferConcurrency < 1:
		return fmt.Errorf("sim: transfer_concurrency must be positive, got %d", c.TransferConcurrency)
	case c.Jitter < 0 || c.Jitter >= 1:
		return fmt.Errorf("sim: jitter must be in [0, 1), got %g", c.Jitter)
	case c.KeysPerPartition < 1:
		return fmt.Errorf("sim: keys_per_partition must be positive, got %d", c.KeysPerPartition)
	case c.WritesPerSecond < 0:
		return fmt.Errorf("sim: writes_per_second must not be negative, got %d", c.WritesPerSecond)
	case c.Outage < 0:
		return fmt.Errorf("sim: outage must not be negative, got %s", c.Outage)
	}
	return nil
}
