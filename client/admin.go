package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Paths of the node's read-only admin API.
const (
	adminMembersPath = "/admin/members"
	adminRingPath    = "/admin/ring"
	adminStatusPath  = "/admin/status"
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
// admin API requests (Members, Ring). The admin API is guarded separately
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
}

// Status returns the answering node's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.getAdmin(ctx, "status", adminStatusPath, &s); err != nil {
		return nil, err
	}
	return &s, nil
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
