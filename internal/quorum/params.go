package quorum

import (
	"errors"
	"fmt"
)

var (
	// ErrUnavailable means too few replicas answered for the quorum. For a
	// read nothing changed; for a write see ErrIndeterminate.
	ErrUnavailable = errors.New("quorum: not enough replicas available")
	// ErrIndeterminate means a write was sent to a replica but the quorum was
	// not confirmed before the deadline: it may or may not have landed, and
	// may still become visible.
	ErrIndeterminate = errors.New("quorum: outcome indeterminate")
	// ErrTimeout means the deadline passed before the read quorum answered.
	ErrTimeout = errors.New("quorum: timed out")
)

// Params are one request's replication settings: N replicas hold each key, a
// read waits for R answers of which at least PR come from primaries, a write
// for W acknowledgements of which at least PW come from primaries.
type Params struct {
	N, R, W, PR, PW int
}

// ValidateRead reports why p cannot serve a read, naming the offending value.
func (p Params) ValidateRead() error {
	switch {
	case p.N < 1:
		return fmt.Errorf("n=%d: at least one replica must hold each key", p.N)
	case p.R < 1:
		return fmt.Errorf("r=%d: a read must wait for at least one replica", p.R)
	case p.R > p.N:
		return fmt.Errorf("r=%d exceeds n=%d: a read cannot wait for more replicas than hold the key", p.R, p.N)
	case p.PR < 0:
		return fmt.Errorf("pr=%d: must not be negative", p.PR)
	case p.PR > p.R:
		return fmt.Errorf("pr=%d exceeds r=%d: primaries are counted among the r replies", p.PR, p.R)
	}
	return nil
}

// ValidateWrite reports why p cannot serve a write, naming the offending
// value.
func (p Params) ValidateWrite() error {
	switch {
	case p.N < 1:
		return fmt.Errorf("n=%d: at least one replica must hold each key", p.N)
	case p.W < 1:
		return fmt.Errorf("w=%d: a write must be acknowledged by at least one replica", p.W)
	case p.W > p.N:
		return fmt.Errorf("w=%d exceeds n=%d: a write cannot wait for more replicas than hold the key", p.W, p.N)
	case p.PW < 0:
		return fmt.Errorf("pw=%d: must not be negative", p.PW)
	case p.PW > p.W:
		return fmt.Errorf("pw=%d exceeds w=%d: primaries are counted among the w acknowledgements", p.PW, p.W)
	}
	return nil
}

// Target is one replica a request may address.
type Target struct {
	// Node is the id of the node holding the replica.
	Node string
	// Primary is true for the key's N owners, false for a fallback standing
	// in for an owner that is down (sloppy quorum).
	Primary bool
	// HintFor names the down owner a fallback stands in for: the fallback
	// keeps the write as a hint for it instead of storing it as a replica.
	HintFor string
	// WriteOnly marks a primary receiving the partition again after it
	// lost its data: it stores writes, which count toward W and PW, but
	// is not read from (its empty answers are not the key's state) and
	// coordinates a write only when no other primary is reachable.
	WriteOnly bool
}

// uniqueNodes drops repeated nodes, keeping each node's first (most
// preferred) entry: one machine never counts twice toward a quorum, even when
// it appears both as a primary and as a fallback.
func uniqueNodes(targets []Target) []Target {
	seen := make(map[string]bool, len(targets))
	out := make([]Target, 0, len(targets))
	for _, t := range targets {
		if !seen[t.Node] {
			seen[t.Node] = true
			out = append(out, t)
		}
	}
	return out
}

// isTarget reports whether node is one of targets.
func isTarget(targets []Target, node string) bool {
	for _, t := range targets {
		if t.Node == node {
			return true
		}
	}
	return false
}
