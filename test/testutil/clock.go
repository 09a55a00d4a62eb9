package testutil

import (
	"sync"
	"time"
)

// Clock is a wall clock a test moves by hand, for the Now options of nodes
// (node.Options.Now, the cluster harness's WithClock): values written with
// a TTL expire when the test advances it, without sleeping. It starts at
// the real time, so that dots minted by it stay plausible to a node on the
// real clock, and only moves forward. Safe for concurrent use: nodes read it
// from many goroutines.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewClock returns a clock at the real time.
func NewClock() *Clock { return &Clock{} }

// Now reads the clock: the real time plus every Advance so far, so that it
// moves on between advances as the real clock does.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic("testutil: a Clock only moves forward")
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
