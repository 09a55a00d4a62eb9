package clienttest

import (
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/dhtkv/dht/api"
)

// The fake answers with package api's JSON shapes, the ones a node
// encodes. It shares no code with the node's handlers, so tests against it
// still check how the client reads the wire, not how the node writes it.
type (
	// Member is a node as the fake's admin API reports it.
	Member = api.Member
	// Ring is the ring as the fake's admin API reports it.
	Ring = api.Ring
	// Transfer is a running partition transfer as the fake's status
	// reports it.
	Transfer = api.Transfer
	// Handoff is a node's handoff work as the fake's status reports it.
	Handoff = api.Handoff
	// Status is what GET /admin/status answers.
	Status = api.Status
)

// Cluster is what GET /admin/members and GET /admin/ring answer. The fake
// sends it as given (members sorted by id, as a node does), without checking
// that the members and the ring agree, so tests can provoke any answer.
type Cluster struct {
	Members []Member
	Ring    Ring
}

// SetCluster sets what the admin API shows. Until it is called, or after it
// is called with nil, the admin endpoints answer 503 unavailable, as a node
// without a cluster view does.
func (s *Server) SetCluster(c *Cluster) {
	var clone *Cluster
	if c != nil {
		// Copy, so the caller may reuse c while requests are served.
		clone = &Cluster{Members: slices.Clone(c.Members), Ring: c.Ring}
		clone.Ring.Replicas = make([][]string, len(c.Ring.Replicas))
		for p, prefs := range c.Ring.Replicas {
			clone.Ring.Replicas[p] = slices.Clone(prefs)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.cluster = clone
}

// SetBackup sets the bytes GET /admin/backup streams, as they are (a test
// may give a damaged backup); until it is called, or with nil, the endpoint
// answers 503 unavailable.
func (s *Server) SetBackup(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.backup = slices.Clone(data)
}

// SetAdminToken makes the admin endpoints require "Authorization: Bearer
// token" instead of the client token given to NewServer; as on a node, an
// empty admin token leaves them open.
func (s *Server) SetAdminToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.adminToken = token
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+api.BackupPath, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		data := s.mu.backup
		s.mu.Unlock()
		if data == nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "backups are not available on this node", false)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
	})
	mux.Handle(api.MembersPath, s.adminGet(func(c *Cluster) any {
		members := slices.Clone(c.Members)
		if members == nil {
			members = []Member{}
		}
		slices.SortFunc(members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
		return api.Members{Members: members}
	}))
	mux.Handle(api.RingPath, s.adminGet(func(c *Cluster) any {
		ring := c.Ring
		ring.Replicas = slices.Clone(ring.Replicas)
		if ring.Replicas == nil {
			ring.Replicas = [][]string{}
		}
		for p, prefs := range ring.Replicas {
			if prefs == nil {
				ring.Replicas[p] = []string{}
			}
		}
		return ring
	}))
}

// adminGet answers like a node's admin endpoint: JSON 405 for methods other
// than GET and HEAD, 503 without a cluster, else render's result.
func (s *Server) adminGet(render func(*Cluster) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" not allowed; use GET", false)
			return
		}
		s.mu.Lock()
		c := s.mu.cluster
		s.mu.Unlock()
		if c == nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "cluster view not available", false)
			return
		}
		// c is never modified after SetCluster stores it, so rendering it
		// needs no lock.
		writeJSON(w, http.StatusOK, render(c))
	})
}

// SetStatus sets what GET /admin/status answers; until it is called, or
// after it is called with nil, the endpoint answers 503 unavailable.
func (s *Server) SetStatus(st *Status) {
	var clone *Status
	if st != nil {
		c := *st
		c.HintsPending = maps.Clone(st.HintsPending)
		c.MerkleRoots = maps.Clone(st.MerkleRoots)
		c.Handoff.Active = slices.Clone(st.Handoff.Active)
		clone = &c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.status = clone
}

// adminOps registers the ownership changes. They follow the node's
// contract against the cluster set with SetCluster, without changing it:
// 503 without a cluster, 404 unknown_node for a node that is not a member,
// 409 conflict for force-removing a member whose status is "alive", else
// 202. Tests see what was asked in Requests.
func (s *Server) adminOps(mux *http.ServeMux) {
	mux.Handle(api.StatusPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" not allowed; use GET", false)
			return
		}
		s.mu.Lock()
		st := s.mu.status
		s.mu.Unlock()
		if st == nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "cluster view not available", false)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}))
	for _, action := range []string{"join", "decommission", "force-remove"} {
		mux.Handle("/admin/"+action, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.serveAdminOp(w, r, action)
		}))
	}
}

func (s *Server) serveAdminOp(w http.ResponseWriter, r *http.Request, action string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" not allowed; use POST", false)
		return
	}
	node := r.URL.Query().Get("node")
	var body api.NodeRequest
	if data, _ := io.ReadAll(r.Body); len(data) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			writeError(w, http.StatusBadRequest, "bad_parameter", "request body is not {\"node\":\"ID\"}: "+err.Error(), false)
			return
		}
		node = body.Node
	}
	if action != "join" && node == "" {
		writeError(w, http.StatusBadRequest, "bad_node", "missing node: "+action+" needs the id of its target", false)
		return
	}
	if action == "join" && node != "" {
		writeError(w, http.StatusBadRequest, "bad_node", "join takes no node", false)
		return
	}
	s.mu.Lock()
	c := s.mu.cluster
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "cluster admin not available", false)
		return
	}
	var member *Member
	for i := range c.Members {
		if (action == "join" && c.Members[i].Self) || (action != "join" && c.Members[i].ID == node) {
			member = &c.Members[i]
		}
	}
	switch {
	case action == "join" && member != nil:
		node = member.ID
	case action == "join":
	case member == nil:
		writeError(w, http.StatusNotFound, "unknown_node", action+" "+node+": unknown node", false)
		return
	case action == "force-remove" && member.Status == "alive":
		writeError(w, http.StatusConflict, "conflict", "node "+node+" is alive; decommission it instead: conflict", false)
		return
	}
	writeJSON(w, http.StatusAccepted, api.Accepted{Accepted: true, Node: node, Action: action})
}
