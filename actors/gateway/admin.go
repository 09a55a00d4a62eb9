package gateway

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"
)

// Paths of the admin API.
const (
	adminMembersPath      = "/admin/members"
	adminRingPath         = "/admin/ring"
	adminStatusPath       = "/admin/status"
	adminJoinPath         = "/admin/join"
	adminDecommissionPath = "/admin/decommission"
	adminForceRemovePath  = "/admin/force-remove"
	adminEventsPath       = "/admin/events"
)

// ClusterView is what the admin API shows; implemented by the node. Safe for
// concurrent use: HTTP handlers call it from net/http's goroutines, at any
// time after the gateway is built. The gateway never modifies what it
// returns, so an implementation may hand out slices it shares with readers
// but must not change them afterwards.
type ClusterView interface {
	// Members returns every node the membership knows of, in any order,
	// including nodes that left or were removed while they are remembered.
	Members() []MemberInfo
	// Ring returns the ring this node currently routes by.
	Ring() RingInfo
	// Status returns this node's background work: hints it keeps.
	Status() StatusInfo
}

// StatusInfo is what GET /admin/status shows of one node.
type StatusInfo struct {
	Node string `json:"node"`
	// HintsPending maps each target node to the hints kept for it here.
	HintsPending map[string]int `json:"hints_pending"`
	HintsBytes   int64          `json:"hints_bytes"`
	// MerkleRoots maps each partition this node holds to the root of its
	// Merkle tree: replicas that agree have equal roots.
	MerkleRoots map[uint32]uint64 `json:"merkle_roots"`
	// Handoff is this node's part in ownership changes.
	Handoff HandoffStatus `json:"handoff"`
}

// HandoffStatus is a node's ownership handoff work: partitions it must
// receive because claim gave it a replica, and partitions it no longer owns
// and hands back (drains) before dropping its copy.
type HandoffStatus struct {
	// Pending counts the partitions this node still has to receive,
	// running or waiting for a transfer slot.
	Pending int `json:"pending"`
	// Draining counts the partitions this node no longer owns but still
	// holds data of.
	Draining int `json:"draining"`
	// Active lists the running transfers, at most handoff.concurrency.
	Active []TransferInfo `json:"active"`
	// Completed counts transfers finished since the node started.
	Completed uint64 `json:"completed"`
	// ETASeconds estimates the time until Pending and Draining reach zero
	// at the current rate; 0 when idle or unknown.
	ETASeconds float64 `json:"eta_seconds"`
	// RingVersion is the version of the ring (RingInfo.Version) these
	// figures were computed against: a node whose figures lag its ring has
	// not looked at the latest change yet.
	RingVersion uint64 `json:"ring_version"`
	// Settled is set when, as far as this node knows, every replica of
	// every partition has its data: no transfer is left anywhere.
	Settled bool `json:"settled"`
}

// Transfer kinds, as TransferInfo.Kind reports them.
const (
	TransferReceive = "receive" // pulling a partition from a replica
	TransferDrain   = "drain"   // pushing a partition to its new owners before dropping it
)

// TransferInfo is one running transfer.
type TransferInfo struct {
	Partition uint32 `json:"partition"`
	Kind      string `json:"kind"`
	// Peer is the source of a receive, the target of a drain.
	Peer string `json:"peer"`
	// Keys and Bytes count what has moved so far; TotalKeys is the
	// source's key count when the transfer began (0 when unknown).
	Keys      int64     `json:"keys"`
	TotalKeys int64     `json:"total_keys"`
	Bytes     int64     `json:"bytes"`
	StartedAt time.Time `json:"started_at"`
}

// ClusterAdmin carries out the operator's ownership changes; implemented by
// the node. Each call changes the ring state on this node, which gossip then
// carries to every other node. Errors wrap ErrUnknownNode or ErrConflict
// when the request itself is wrong; anything else is the node's failure.
type ClusterAdmin interface {
	// Join makes this node an owner: a node that was decommissioned or
	// force-removed does not rejoin by itself when it restarts.
	Join() error
	// Decommission removes node from the ring. It keeps serving while its
	// replicas stream to their new owners, then leaves the cluster.
	Decommission(node string) error
	// ForceRemove removes a node that is down for good; the surviving
	// replicas rebuild its partitions on their new owners. A node that
	// gossip sees alive is refused with ErrConflict.
	ForceRemove(node string) error
}

// Errors a ClusterAdmin wraps: the admin API answers 404 "unknown_node" and
// 409 "conflict", with the error's message; any other error is a 500.
var (
	ErrUnknownNode = errors.New("unknown node")
	ErrConflict    = errors.New("conflict")
)

// Member statuses, as MemberInfo.Status reports them.
const (
	MemberAlive = "alive"
	// MemberDown is a node that failed: it stays an owner, and its replicas
	// are covered by fallbacks, until it returns or is force-removed.
	MemberDown    = "down"
	MemberLeaving = "leaving"
	MemberLeft    = "left"
	MemberRemoved = "removed"
)

// MemberInfo describes one node of the cluster as the admin API shows it.
type MemberInfo struct {
	ID         string `json:"id"`
	Zone       string `json:"zone,omitempty"`
	Status     string `json:"status"` // "alive", "down" (failed: still an owner), "leaving", "left", "removed"
	Owner      bool   `json:"owner"`  // holds replicas in the ring
	HTTPAddr   string `json:"http_addr,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	Replicas   int    `json:"replicas"` // partition replicas it holds
	Self       bool   `json:"self,omitempty"`
}

// RingInfo describes the ring as the admin API shows it.
type RingInfo struct {
	Partitions int        `json:"partitions"`
	N          int        `json:"n"`
	Version    uint64     `json:"version"`  // ring state clock
	Replicas   [][]string `json:"replicas"` // per partition, preference order
}

// adminRoutes registers the admin endpoints on mux, all guarded by
// Config.AdminToken (none when empty):
//
//	GET  /admin/members       {"members":[MemberInfo...]}, sorted by id
//	GET  /admin/ring          RingInfo
//	GET  /admin/status        StatusInfo
//	POST /admin/join          202 {"accepted":true,"node":ID,"action":"join"}
//	POST /admin/decommission  {"node":ID} or ?node=ID; 202 as join
//	POST /admin/force-remove  {"node":ID} or ?node=ID; 202 as join
//	GET  /admin/events        text/event-stream of events.Event (admin_events.go)
//
// A nil Config.Cluster, Admin or Events answers the endpoints that need it
// 503, so a node can serve its probes and client API before its membership
// is up. They are not instrumented: the request metrics count client
// traffic only.
func (g *Gateway) adminRoutes(mux *http.ServeMux) {
	guard := func(h http.Handler) http.Handler { return g.requireToken(g.cfg.AdminToken, h) }
	mux.Handle(adminMembersPath, guard(adminGet(g.cfg.Cluster, membersBody)))
	mux.Handle(adminRingPath, guard(adminGet(g.cfg.Cluster, ringBody)))
	mux.Handle(adminStatusPath, guard(adminGet(g.cfg.Cluster, statusBody)))
	mux.Handle(adminJoinPath, guard(g.adminPost(actionJoin, false, func(a ClusterAdmin, _ string) error { return a.Join() })))
	mux.Handle(adminDecommissionPath, guard(g.adminPost(actionDecommission, true, ClusterAdmin.Decommission)))
	mux.Handle(adminForceRemovePath, guard(g.adminPost(actionForceRemove, true, ClusterAdmin.ForceRemove)))
	mux.Handle(adminEventsPath, guard(http.HandlerFunc(g.serveEvents)))
}

// adminGet serves one read-only admin endpoint: render builds the JSON body
// from view. The method is checked here rather than with a "GET /path"
// pattern because ServeMux's own 405 answer is plain text, and every error of
// the API is JSON.
func adminGet(view ClusterView, render func(ClusterView) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: codeMethod,
				msg: "method " + r.Method + " not allowed; this endpoint is read-only, use GET"})
			return
		}
		if view == nil {
			writeError(w, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "cluster view not available"})
			return
		}
		body := render(view)
		w.Header().Set("Content-Type", "application/json")
		// Cluster state changes under the reader's feet; a cached answer
		// would show a ring that no longer routes anything.
		w.Header().Set("Cache-Control", "no-store")
		// These types always encode, so an error here is the client going
		// away, which no answer can reach.
		_ = json.NewEncoder(w).Encode(body)
	})
}

// statusBody renders the status with empty collections as [] and {} rather
// than null, so that clients can range over them without a null check.
func statusBody(view ClusterView) any {
	s := view.Status()
	if s.HintsPending == nil {
		s.HintsPending = map[string]int{}
	}
	if s.MerkleRoots == nil {
		s.MerkleRoots = map[uint32]uint64{}
	}
	if s.Handoff.Active == nil {
		s.Handoff.Active = []TransferInfo{}
	}
	return s
}

// membersBody renders the members sorted by id, so that the output is stable
// whatever order the membership keeps them in.
func membersBody(view ClusterView) any {
	// Sort a copy: the view may share its slice with concurrent readers.
	members := slices.Clone(view.Members())
	if members == nil {
		members = []MemberInfo{} // "members":[] rather than null
	}
	slices.SortFunc(members, func(a, b MemberInfo) int { return cmp.Compare(a.ID, b.ID) })
	return struct {
		Members []MemberInfo `json:"members"`
	}{members}
}

// ringBody renders the ring with empty lists as [] rather than null, so that
// clients can index every partition without a null check.
func ringBody(view ClusterView) any {
	ring := view.Ring()
	replicas := make([][]string, len(ring.Replicas))
	for p, prefs := range ring.Replicas {
		if prefs == nil {
			prefs = []string{}
		}
		replicas[p] = prefs
	}
	ring.Replicas = replicas
	return ring
}
