package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"
)

// Paths of the node's admin API.
const (
	adminMembersPath      = "/admin/members"
	adminRingPath         = "/admin/ring"
	adminStatusPath       = "/admin/status"
	adminJoinPath         = "/admin/join"
	adminDecommissionPath = "/admin/decommission"
	adminForceRemovePath  = "/admin/force-remove"
	adminEventsPath       = "/admin/events"
)

// Member statuses, as Member.Status reports them. Other values may appear
// in later versions; treat them as unknown rather than as errors.
const (
	MemberAlive = "alive"
	// MemberDown is a node that failed: it stays an owner, and its replicas
	// are covered by fallbacks, until it returns or is force-removed.
	MemberDown    = "down"
	MemberLeaving = "leaving"
	MemberLeft    = "left"
	MemberRemoved = "removed"
)

// Member is one node of the cluster as the admin API reports it. The JSON
// tags are the wire format, so a Member re-encodes as the node sent it.
type Member struct {
	ID     string `json:"id"`
	Zone   string `json:"zone,omitempty"`
	Status string `json:"status"`
	// Owner is set when the node holds replicas in the ring; a down node
	// stays an owner until it returns or is force-removed.
	Owner bool `json:"owner"`
	// HTTPAddr is the host:port of the node's HTTP API, as it advertises it.
	HTTPAddr string `json:"http_addr,omitempty"`
	// RemoteAddr is the host:port of the node's actor remote (gRPC) server.
	RemoteAddr string `json:"remote_addr,omitempty"`
	// Replicas is how many partition replicas the node holds.
	Replicas int `json:"replicas"`
	// Self marks the node that answered.
	Self bool `json:"self,omitempty"`
}

// Ring is the partition ring as the answering node routes by it. The JSON
// tags are the wire format.
type Ring struct {
	// Partitions is Q, the number of equal arcs of the 128-bit hash ring;
	// partition p starts at p·2¹²⁸/Q. It is 0 while the node knows no ring.
	Partitions int `json:"partitions"`
	// N is the replication factor.
	N int `json:"n"`
	// Version is the ring state's clock: it grows with every change, so of
	// two answers the one with the higher version is newer.
	Version uint64 `json:"version"`
	// Replicas holds, for each partition, the ids of the nodes holding it,
	// in preference order (the first is the primary coordinator). It has
	// exactly Partitions entries.
	Replicas [][]string `json:"replicas"`
}

// WithAdminToken makes the client send "Authorization: Bearer token" with
// admin API requests (Members, Ring, Status, Join, Decommission,
// ForceRemove, Events). The admin API is guarded separately
// from the key-value API, so the token set with WithToken is never sent
// there, and this one never with key-value requests. An empty token sends no
// Authorization header.
func WithAdminToken(token string) Option {
	return func(c *Client) { c.adminTok = token }
}

// adminToken returns the token set with WithAdminToken, or "".
func (c *Client) adminToken() string { return c.adminTok }

// Members returns every node the answering node knows of, sorted by id,
// including nodes that left or were removed while it remembers them.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var body struct {
		Members []Member `json:"members"`
	}
	if err := c.getAdmin(ctx, "members", adminMembersPath, &body); err != nil {
		return nil, err
	}
	// Decoding [] gives an empty slice, so nil means the field was missing
	// or null: not the admin API's answer.
	if body.Members == nil {
		return nil, errors.New("client: members: malformed answer: no members list")
	}
	return body.Members, nil
}

// Ring returns the ring the answering node routes by. Its Replicas has one
// entry per partition, so it can be indexed by any p < Partitions.
func (c *Client) Ring(ctx context.Context) (*Ring, error) {
	var r Ring
	if err := c.getAdmin(ctx, "ring", adminRingPath, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Partitions < 0 || r.N < 0:
		return nil, fmt.Errorf("client: ring: malformed answer: %d partitions, n=%d", r.Partitions, r.N)
	case len(r.Replicas) != r.Partitions:
		return nil, fmt.Errorf("client: ring: malformed answer: %d partitions but %d replica lists", r.Partitions, len(r.Replicas))
	}
	return &r, nil
}

// Status is one node's background work, as GET /admin/status reports it.
type Status struct {
	Node string `json:"node"`
	// HintsPending maps each target node to the hints kept for it on Node.
	HintsPending map[string]int `json:"hints_pending"`
	HintsBytes   int64          `json:"hints_bytes"`
	// MerkleRoots maps each partition Node holds to its Merkle root;
	// replicas in sync have equal roots.
	MerkleRoots map[uint32]uint64 `json:"merkle_roots"`
	// Handoff is Node's part in ownership changes.
	Handoff Handoff `json:"handoff"`
}

// Handoff is a node's ownership handoff work: partitions it must receive
// because it became a replica, and partitions it no longer owns and hands
// to their new owners (drains) before dropping its copy.
type Handoff struct {
	// Pending counts partitions still to receive, running or waiting.
	Pending int `json:"pending"`
	// Draining counts partitions the node no longer owns but still holds.
	Draining int `json:"draining"`
	// Active lists the running transfers.
	Active []Transfer `json:"active"`
	// Completed counts transfers finished since the node started.
	Completed uint64 `json:"completed"`
	// ETASeconds estimates the seconds until Pending and Draining reach
	// zero at the current rate; 0 when idle or unknown. See ETA.
	ETASeconds float64 `json:"eta_seconds"`
	// RingVersion is the ring version (Ring.Version) the figures were
	// computed against; figures older than the node's ring lag a change.
	RingVersion uint64 `json:"ring_version"`
	// Settled is set when, as far as Node knows, every replica of every
	// partition has its data.
	Settled bool `json:"settled"`
}

// ETA returns ETASeconds as a duration rounded to the second; 0 means idle
// or unknown.
func (h Handoff) ETA() time.Duration {
	if h.ETASeconds <= 0 || math.IsNaN(h.ETASeconds) {
		return 0
	}
	if h.ETASeconds >= math.MaxInt64/float64(time.Second) {
		return time.Duration(math.MaxInt64).Round(time.Second)
	}
	return time.Duration(h.ETASeconds * float64(time.Second)).Round(time.Second)
}

// Transfer kinds, as Transfer.Kind reports them.
const (
	TransferReceive = "receive" // pulling a partition from a replica
	TransferDrain   = "drain"   // pushing a partition to its new owners before dropping it
)

// Transfer is one running partition transfer.
type Transfer struct {
	Partition uint32 `json:"partition"`
	Kind      string `json:"kind"`
	// Peer is the source of a receive, the target of a drain.
	Peer string `json:"peer"`
	// Keys and Bytes count what has moved so far; TotalKeys is the
	// source's key count when the transfer began, 0 when unknown.
	Keys      int64     `json:"keys"`
	TotalKeys int64     `json:"total_keys"`
	Bytes     int64     `json:"bytes"`
	StartedAt time.Time `json:"started_at"`
}

// Progress returns Keys/TotalKeys, and false when TotalKeys is unknown. It
// may pass 1: writes during the transfer add keys the total did not count.
func (t Transfer) Progress() (float64, bool) {
	if t.TotalKeys <= 0 {
		return 0, false
	}
	return float64(t.Keys) / float64(t.TotalKeys), true
}

// Status returns the answering node's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.getAdmin(ctx, "status", adminStatusPath, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Accepted is a node's answer to an ownership change: the change is in the
// ring state, and gossip carries it to the other nodes; the data moves
// afterwards (Status shows the handoff, Events its progress).
type Accepted struct {
	// Node is the node the change is about. For Join it is the answering
	// node, or empty if it did not know its own id yet.
	Node string `json:"node"`
	// Action is "join", "decommission" or "force-remove".
	Action string `json:"action"`
}

// ErrEmptyNode is returned by Decommission and ForceRemove for an empty node
// id, without asking the node.
var ErrEmptyNode = errors.New("client: empty node id")

// Join makes the answering node an owner of partitions again: a node that
// was decommissioned or force-removed does not rejoin the ring by itself.
// Send it to the node that should join.
func (c *Client) Join(ctx context.Context) (*Accepted, error) {
	return c.postAdmin(ctx, "join", adminJoinPath, "")
}

// Decommission removes node from the ring. It keeps serving while its
// replicas stream to their new owners, then leaves the cluster. Any node
// may be asked. An unknown node is a 404 *Error with Code "unknown_node".
func (c *Client) Decommission(ctx context.Context, node string) (*Accepted, error) {
	if node == "" {
		return nil, ErrEmptyNode
	}
	return c.postAdmin(ctx, "decommission", adminDecommissionPath, node)
}

// ForceRemove removes a node that is down for good; the surviving replicas
// rebuild its partitions on their new owners, and what only it held is
// lost. A node the cluster sees alive is refused with a 409 *Error, Code
// "conflict": decommission it instead.
func (c *Client) ForceRemove(ctx context.Context, node string) (*Accepted, error) {
	if node == "" {
		return nil, ErrEmptyNode
	}
	return c.postAdmin(ctx, "force-remove", adminForceRemovePath, node)
}

// postAdmin POSTs an ownership change, with {"node":node} as the body
// unless node is empty, and decodes the 202 answer. what names the call in
// errors. A transport failure after the request may have been sent leaves
// the outcome unknown (IsIndeterminate): ask Members or Status what
// happened before repeating it.
func (c *Client) postAdmin(ctx context.Context, what, path, node string) (*Accepted, error) {
	var body io.Reader
	if node != "" {
		data, err := json.Marshal(struct {
			Node string `json:"node"`
		}{node})
		if err != nil {
			return nil, fmt.Errorf("client: %s: %w", what, err)
		}
		body = bytes.NewReader(data)
	}
	// A context that is already done sends nothing, so the outcome is known.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("client: %s: %w", what, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.urlFor(path, ""), body)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", what, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token := c.adminToken(); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.send(req)
	if err != nil {
		err = fmt.Errorf("client: %s: %w", what, err)
		if mayHaveBeenSent(err) {
			err = &unknownOutcomeError{err: err}
		}
		return nil, err
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusAccepted {
		return nil, decodeError(resp, false)
	}
	data, err := readAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: %s: reading the answer: %w", what, err)
	}
	var answer struct {
		Accepted bool   `json:"accepted"`
		Node     string `json:"node"`
		Action   string `json:"action"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fmt.Errorf("client: %s: malformed answer: %w", what, err)
	}
	if !answer.Accepted {
		return nil, fmt.Errorf("client: %s: malformed answer: 202 without \"accepted\":true", what)
	}
	return &Accepted{Node: answer.Node, Action: answer.Action}, nil
}

// getAdmin GETs an admin endpoint and decodes its JSON answer into v. what
// names the call in errors.
func (c *Client) getAdmin(ctx context.Context, what, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.urlFor(path, ""), nil)
	if err != nil {
		return fmt.Errorf("client: %s: %w", what, err)
	}
	if token := c.adminToken(); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.send(req)
	if err != nil {
		// The *url.Error already names the method and the URL.
		return fmt.Errorf("client: %s: %w", what, err)
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp, false)
	}
	data, err := readAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: %s: reading the answer: %w", what, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("client: %s: malformed answer: %w", what, err)
	}
	return nil
}
