package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/dhtkv/dht/api"
)

// HandoffWork is the part of a node's GET /admin/status that says whether
// it still has partitions to receive. It is decoded here, not through
// client.Status, so that it reads handoff.rebuilding (issue 17's rebuild
// after data loss) whether or not the client package knows the field: a
// field the node does not send decodes as 0, so against a dhtd without
// rebuilds it reads as nothing rebuilding.
type HandoffWork struct {
	// Pending counts the partitions still to receive (rebuilding ones
	// included, once nodes rebuild).
	Pending int `json:"pending"`
	// Rebuilding counts the partitions received again after a data loss.
	Rebuilding int `json:"rebuilding"`
	// Settled is set when, as far as the node knows, no transfer is left
	// anywhere.
	Settled bool `json:"settled"`
}

// Idle reports whether the node has nothing left to receive and knows of
// no transfer elsewhere.
func (h HandoffWork) Idle() bool { return h.Pending == 0 && h.Rebuilding == 0 && h.Settled }

func (h HandoffWork) String() string {
	return fmt.Sprintf("%d partitions pending, %d rebuilding, settled=%v", h.Pending, h.Rebuilding, h.Settled)
}

// maxStatusBytes bounds the status body read: it holds a Merkle root per
// partition the node holds, a few KiB in the chaos ring.
const maxStatusBytes = 4 << 20

// decodeHandoffWork reads the handoff part of a status body.
func decodeHandoffWork(r io.Reader) (HandoffWork, error) {
	var st struct {
		Handoff HandoffWork `json:"handoff"`
	}
	if err := json.NewDecoder(io.LimitReader(r, maxStatusBytes)).Decode(&st); err != nil {
		return HandoffWork{}, err
	}
	return st.Handoff, nil
}

// HandoffWork asks n for its handoff work.
func (c *Cluster) HandoffWork(ctx context.Context, n *Node) (HandoffWork, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+api.StatusPath, nil)
	if err != nil {
		return HandoffWork{}, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return HandoffWork{}, fmt.Errorf("%s status: %w", n.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return HandoffWork{}, fmt.Errorf("%s status: %s", n.ID, resp.Status)
	}
	h, err := decodeHandoffWork(resp.Body)
	if err != nil {
		return HandoffWork{}, fmt.Errorf("%s status: %w", n.ID, err)
	}
	return h, nil
}

const (
	// rebuildPoll is how often WaitRebuilt asks.
	rebuildPoll = 500 * time.Millisecond
	// rebuildIdlePolls is how many answers in a row must be idle. A node
	// that has just become ready may not have announced its loss yet, and
	// one idle answer could come before its rebuild began.
	rebuildIdlePolls = 3
)

// WaitRebuilt waits, up to timeout, until n has been idle (HandoffWork.Idle)
// on rebuildIdlePolls answers in a row: after a wipe, its rebuild is over.
// It returns how long that took, or the last answer (or error) at the
// deadline.
func (c *Cluster) WaitRebuilt(ctx context.Context, n *Node, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	idle := 0
	last := "no answer yet"
	// Bounded in count as well as by the deadline: a status call returns
	// within its own 5 s timeout, so the count is never the tighter bound
	// unless the clock misbehaves.
	maxPolls := int(timeout/rebuildPoll) + 1
	for poll := 0; poll < maxPolls; poll++ {
		h, err := c.HandoffWork(ctx, n)
		switch {
		case err != nil:
			idle, last = 0, err.Error()
		case h.Idle():
			idle++
			last = h.String()
		default:
			idle, last = 0, h.String()
		}
		if idle == rebuildIdlePolls {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(rebuildPoll):
		}
	}
	return time.Since(start), fmt.Errorf("harness: %s not rebuilt after %v: %s", n.ID, time.Since(start).Round(time.Millisecond), last)
}
