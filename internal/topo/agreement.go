package topo

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// DefaultAgreementWait bounds how long a node's readiness waits for the
// peers it can reach to announce its ring: ten gossip intervals, far more
// than a join takes to spread, short enough that a peer which cannot agree
// (an older release that announces no ring, a peer whose ring gossip cannot
// reach this node) delays a start only a little, with a log line that
// names it.
const DefaultAgreementWait = 10 * time.Second

// RingMark names the ring a node routes writes by: its ownership version,
// for people, and its ownership digest (ring.State.OwnershipDigest), which
// is what nodes compare. Handoff records are left out on purpose: they
// change all through a join's transfers without changing where a write
// goes, and a mark that changed with them would rarely be the same on two
// nodes at one moment.
type RingMark struct {
	Version uint64
	Digest  uint64
}

// MarkOf returns the mark of s.
func MarkOf(s ring.State) RingMark {
	return RingMark{Version: s.Version(), Digest: s.OwnershipDigest()}
}

// String is the mark as gossip carries it (a serf tag): the version in
// decimal, a dot, the digest in hex, "12.3397c05512785384"; at most 37
// bytes.
func (m RingMark) String() string {
	return strconv.FormatUint(m.Version, 10) + "." + strconv.FormatUint(m.Digest, 16)
}

// ParseRingMark reads a mark in String's form.
func ParseRingMark(s string) (RingMark, error) {
	v, d, ok := strings.Cut(s, ".")
	if !ok {
		return RingMark{}, fmt.Errorf("topo: ring mark %q: want version.digest", s)
	}
	var m RingMark
	var err error
	if m.Version, err = strconv.ParseUint(v, 10, 64); err != nil {
		return RingMark{}, fmt.Errorf("topo: ring mark %q: version: %w", s, err)
	}
	if m.Digest, err = strconv.ParseUint(d, 16, 64); err != nil {
		return RingMark{}, fmt.Errorf("topo: ring mark %q: digest: %w", s, err)
	}
	return m, nil
}

// Agreement decides when a node's readiness stops waiting for the peers it
// can reach to route by the ring it routes by. Readiness is what clients
// and orchestrators wait for before they send writes; a node that answered
// it while a peer still routed by a ring without the latest joins let that
// peer refuse writes it should have taken (a PUT at W=2 answered 503 "1
// replicas reachable" by a node that still saw itself as the only owner).
//
// A node is agreed once every peer gossip reports alive, of its cluster
// and ring shape, announces this node's RingMark (Peer.Ring), or once the
// wait has run out since the first check: then it is ready all the same,
// and the log says which peers disagreed and with what. Either way the
// decision stays for the node's run: a later join is the joining node's to
// wait for (it is not ready until every node it reaches announces its
// ring), and readiness that flapped on every ring change elsewhere would
// take healthy nodes out of service.
//
// Concurrency: an Agreement is single-threaded; its owner serialises
// calls (the node holds it under a mutex, as /readyz probes come on many
// goroutines).
type Agreement struct {
	self  string
	shape ring.Shape
	wait  time.Duration
	// since is the first check's time: the wait counts from it.
	since time.Time
	// done is set once the node is agreed, by its peers or by the wait.
	done bool
}

// NewAgreement returns the agreement of node self, whose peers of another
// cluster or ring shape are ignored, waiting at most wait (0 means
// DefaultAgreementWait).
func NewAgreement(self string, shape ring.Shape, wait time.Duration) *Agreement {
	if wait <= 0 {
		wait = DefaultAgreementWait
	}
	return &Agreement{self: self, shape: shape, wait: wait}
}

// Agreed reports whether the node no longer waits for its peers.
func (a *Agreement) Agreed() bool { return a.done }

// Check is called while the node is otherwise ready, with now, the mark of
// the ring the node routes by, and what gossip reports of its peers. It
// returns nil once the node is agreed, and otherwise an error that says
// which peers announce another ring, for /readyz's body. logs are the
// lines to log: one, on the call that settles the agreement.
func (a *Agreement) Check(now time.Time, mine RingMark, peers []Peer) (logs []Log, err error) {
	if a.done {
		return nil, nil
	}
	if a.since.IsZero() {
		a.since = now
	}
	live, differ := 0, []string(nil)
	for _, p := range peers {
		if p.ID == a.self || !p.Alive || !a.shape.Compatible(p.Shape) {
			continue
		}
		live++
		if d := differs(mine, p); d != "" {
			differ = append(differ, d)
		}
	}
	waited := now.Sub(a.since)
	switch {
	case len(differ) == 0:
		a.done = true
		return []Log{{Level: slog.LevelInfo, Msg: "ring agreed: every live peer announces this node's ring",
			Args: []any{"peers", live, "ring", mine.String(), "waited", waited}}}, nil
	case waited >= a.wait:
		a.done = true
		return []Log{{Level: slog.LevelWarn, Msg: "ready without ring agreement: the wait ran out while live peers announce another ring; " +
			"until they have this node's, writes through them may go to other owners",
			Args: []any{"ring", mine.String(), "disagree", strings.Join(differ, "; "), "waited", waited}}}, nil
	}
	return nil, fmt.Errorf("waiting for the live peers to route by this node's ring %s (%v of %v): %s",
		mine, waited.Round(time.Millisecond), a.wait, strings.Join(differ, "; "))
}

// differs says how peer p's announced ring differs from mine, or "".
func differs(mine RingMark, p Peer) string {
	if p.Ring == "" {
		return p.ID + " announces no ring yet"
	}
	theirs, err := ParseRingMark(p.Ring)
	switch {
	case err != nil:
		return p.ID + " announces an unreadable ring mark " + strconv.Quote(p.Ring)
	case theirs != mine:
		return p.ID + " has ring " + theirs.String()
	}
	return ""
}
