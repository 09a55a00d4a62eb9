package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/dhtkv/dht/api"
)

// Member statuses, as Member.Status reports them. Other values may appear
// in later versions; treat them as unknown rather than as errors.
const (
	MemberAlive = api.MemberAlive
	// MemberDown is a node that failed: it stays an owner, and its replicas
	// are covered by fallbacks, until it returns or is force-removed.
	MemberDown    = api.MemberDown
	MemberLeaving = api.MemberLeaving
	MemberLeft    = api.MemberLeft
	MemberRemoved = api.MemberRemoved
)

// The admin API's answers are package api's types, which the node encodes;
// the names below are this package's for them.
type (
	// Member is one node of the cluster as the admin API reports it. The
	// JSON tags are the wire format, so a Member re-encodes as the node
	// sent it.
	Member = api.Member
	// Ring is the partition ring as the answering node routes by it. Its
	// Replicas has exactly Partitions entries.
	Ring = api.Ring
	// Status is one node's background work, as GET /admin/status reports
	// it.
	Status = api.Status
	// Handoff is a node's ownership handoff work (Status.Handoff); its ETA
	// method turns ETASeconds into a duration.
	Handoff = api.Handoff
	// Transfer is one running partition transfer; its Progress method
	// gives Keys/TotalKeys.
	Transfer = api.Transfer
)

// Transfer kinds, as Transfer.Kind reports them.
const (
	TransferReceive = api.TransferReceive // pulling a partition from a replica
	TransferDrain   = api.TransferDrain   // pushing a partition to its new owners before dropping it
)

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
	var body api.Members
	if err := c.getAdmin(ctx, "members", api.MembersPath, &body); err != nil {
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
	if err := c.getAdmin(ctx, "ring", api.RingPath, &r); err != nil {
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

// Status returns the answering node's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.getAdmin(ctx, "status", api.StatusPath, &s); err != nil {
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
	// Action is "join", "decommission", "force-remove" or "resize".
	Action string `json:"action"`
	// Partitions is, for a resize, the partition count the ring now has.
	Partitions int `json:"partitions,omitempty"`
}

// ErrEmptyNode is returned by Decommission and ForceRemove for an empty node
// id, without asking the node.
var ErrEmptyNode = errors.New("client: empty node id")

// Join makes the answering node an owner of partitions again: a node that
// was decommissioned or force-removed does not rejoin the ring by itself.
// Send it to the node that should join.
func (c *Client) Join(ctx context.Context) (*Accepted, error) {
	return c.postAdmin(ctx, "join", api.JoinPath, "")
}

// Decommission removes node from the ring. It keeps serving while its
// replicas stream to their new owners, then leaves the cluster. Any node
// may be asked. An unknown node is a 404 *Error with Code "unknown_node".
func (c *Client) Decommission(ctx context.Context, node string) (*Accepted, error) {
	if node == "" {
		return nil, ErrEmptyNode
	}
	return c.postAdmin(ctx, "decommission", api.DecommissionPath, node)
}

// ForceRemove removes a node that is down for good; the surviving replicas
// rebuild its partitions on their new owners, and what only it held is
// lost. A node the cluster sees alive is refused with a 409 *Error, Code
// "conflict": decommission it instead.
func (c *Client) ForceRemove(ctx context.Context, node string) (*Accepted, error) {
	if node == "" {
		return nil, ErrEmptyNode
	}
	return c.postAdmin(ctx, "force-remove", api.ForceRemovePath, node)
}

// postAdmin POSTs an ownership change, with {"node":node} as the body
// unless node is empty, and decodes the 202 answer. what names the call in
// errors. A transport failure after the request may have been sent leaves
// the outcome unknown (IsIndeterminate): ask Members or Status what
// happened before repeating it.
func (c *Client) postAdmin(ctx context.Context, what, path, node string) (*Accepted, error) {
	var body []byte
	if node != "" {
		data, err := json.Marshal(api.NodeRequest{Node: node})
		if err != nil {
			return nil, fmt.Errorf("client: %s: %w", what, err)
		}
		body = data
	}
	return c.postAdminBody(ctx, what, path, body)
}

// Resize grows the ring to partitions, a larger power of two: every
// partition splits in place into its sub-arcs, on the replicas it has, so
// no data moves, and reads and writes go on. A count that is not a larger
// power of two is a 400 *Error, Code "bad_parameter"; a cluster not ready
// for it (data still moving after a change, a node down, a node of an
// earlier release) a 409 *Error, Code "conflict", whose message says what
// to wait for.
func (c *Client) Resize(ctx context.Context, partitions int) (*Accepted, error) {
	body, err := json.Marshal(api.ResizeRequest{Partitions: partitions})
	if err != nil {
		return nil, fmt.Errorf("client: resize: %w", err)
	}
	return c.postAdminBody(ctx, "resize", api.ResizePath, body)
}

// postAdminBody POSTs an admin change with body (nil: none) and decodes
// the 202 answer; see postAdmin.
func (c *Client) postAdminBody(ctx context.Context, what, path string, body []byte) (*Accepted, error) {
	h := http.Header{}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	// A join is about the node asked, so it never fails over to another.
	resp, err := c.roundTrip(ctx, call{what: what, method: http.MethodPost, path: path, body: body, header: h,
		token: c.adminToken(), firstOnly: path == api.JoinPath})
	if err != nil {
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
	var answer api.Accepted
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fmt.Errorf("client: %s: malformed answer: %w", what, err)
	}
	if !answer.Accepted {
		return nil, fmt.Errorf("client: %s: malformed answer: 202 without \"accepted\":true", what)
	}
	return &Accepted{Node: answer.Node, Action: answer.Action, Partitions: answer.Partitions}, nil
}

// getAdmin GETs an admin endpoint and decodes its JSON answer into v. what
// names the call in errors.
func (c *Client) getAdmin(ctx context.Context, what, path string, v any) error {
	resp, err := c.roundTrip(ctx, call{what: what, method: http.MethodGet, path: path, token: c.adminToken(), idempotent: true})
	if err != nil {
		return err
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
