package gateway

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/dhtkv/dht/api"
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

// The admin API's answers are package api's types; these names are kept
// for the node, which fills them in its ClusterView.
type (
	// StatusInfo is what GET /admin/status shows of one node.
	StatusInfo = api.Status
	// HandoffStatus is a node's ownership handoff work.
	HandoffStatus = api.Handoff
	// TransferInfo is one running transfer.
	TransferInfo = api.Transfer
	// MemberInfo describes one node of the cluster as the admin API shows it.
	MemberInfo = api.Member
	// RingInfo describes the ring as the admin API shows it.
	RingInfo = api.Ring
)

// Transfer kinds, as TransferInfo.Kind reports them.
const (
	TransferReceive = api.TransferReceive
	TransferDrain   = api.TransferDrain
)

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
	// Resize grows the ring to partitions, splitting every partition in
	// place, or halves it (ring.State.Resize). A count that is no power
	// of two in range, or below half the current one, is refused with
	// ErrInvalid; a cluster not ready for it (data still moving, a halving
	// under way, a node down or of an earlier release) with ErrConflict.
	Resize(partitions int) error
}

// Errors a ClusterAdmin wraps: the admin API answers 404 "unknown_node" and
// 409 "conflict", with the error's message; any other error is a 500.
var (
	ErrUnknownNode = errors.New("unknown node")
	ErrConflict    = errors.New("conflict")
	// ErrInvalid is a request no cluster could carry out (a resize to a
	// count that is no power of two, or below half the current one): 400
	// "bad_parameter".
	ErrInvalid = errors.New("invalid")
)

// Member statuses, as MemberInfo.Status reports them.
const (
	MemberAlive = api.MemberAlive
	// MemberDown is a node that failed: it stays an owner, and its replicas
	// are covered by fallbacks, until it returns or is force-removed.
	MemberDown    = api.MemberDown
	MemberLeaving = api.MemberLeaving
	MemberLeft    = api.MemberLeft
	MemberRemoved = api.MemberRemoved
)

// adminRoutes registers the admin endpoints on mux, all guarded by
// Config.AdminToken (none when empty):
//
//	GET  /admin/members       {"members":[MemberInfo...]}, sorted by id
//	GET  /admin/ring          RingInfo
//	GET  /admin/status        StatusInfo
//	POST /admin/join          202 {"accepted":true,"node":ID,"action":"join"}
//	POST /admin/decommission  {"node":ID} or ?node=ID; 202 as join
//	POST /admin/force-remove  {"node":ID} or ?node=ID; 202 as join
//	POST /admin/resize        {"partitions":N} or ?partitions=N; 202 {"accepted":true,"action":"resize","partitions":N}
//	GET  /admin/events        text/event-stream of events.Event (admin_events.go)
//
// A nil Config.Cluster, Admin or Events answers the endpoints that need it
// 503, so a node can serve its probes and client API before its membership
// is up. They are not instrumented: the request metrics count client
// traffic only.
func (g *Gateway) adminRoutes(mux *router) {
	guard := func(h http.Handler) http.Handler { return g.requireToken(g.cfg.AdminToken, h) }
	mux.Handle("GET "+api.MembersPath, guard(adminGet(g.cfg.Cluster, membersBody)))
	mux.Handle("GET "+api.RingPath, guard(adminGet(g.cfg.Cluster, ringBody)))
	mux.Handle("GET "+api.StatusPath, guard(adminGet(g.cfg.Cluster, statusBody)))
	mux.Handle("POST "+api.JoinPath, guard(g.adminPost(api.ActionJoin, false, func(a ClusterAdmin, _ string) error { return a.Join() })))
	mux.Handle("POST "+api.DecommissionPath, guard(g.adminPost(api.ActionDecommission, true, ClusterAdmin.Decommission)))
	mux.Handle("POST "+api.ForceRemovePath, guard(g.adminPost(api.ActionForceRemove, true, ClusterAdmin.ForceRemove)))
	mux.Handle("POST "+api.ResizePath, guard(http.HandlerFunc(g.serveResize)))
	mux.Handle("GET "+api.EventsPath, guard(http.HandlerFunc(g.serveEvents)))
	mux.Handle("GET "+api.BackupPath, guard(http.HandlerFunc(g.serveBackup)))
}

// serveBackup streams a backup of the node's stored objects. The stream
// may take longer than http.write_timeout, so its write deadline is lifted;
// a failure once bytes went out cannot change the status, so it cuts the
// connection, and the client sees a stream without its checksum, which
// no restore accepts.
func (g *Gateway) serveBackup(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Backup == nil {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "backups are not available on this node"})
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return // the headers only: not a whole snapshot read for nothing
	}
	if err := g.cfg.Backup(r.Context(), w); err != nil {
		g.cfg.Logger.Warn("backup failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// adminGet serves one read-only admin endpoint (GET and HEAD; the router
// answers other methods 405): render builds the JSON body from view.
func adminGet(view ClusterView, render func(ClusterView) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	return api.Members{Members: members}
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
