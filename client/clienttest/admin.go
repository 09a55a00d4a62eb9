package clienttest

import (
	"cmp"
	"net/http"
	"slices"
)

// Member is a node as the fake's admin API reports it. Its JSON tags are
// written out here rather than shared with package client, so that tests
// against the fake catch a client that decodes the wire format wrongly.
type Member struct {
	ID         string `json:"id"`
	Zone       string `json:"zone,omitempty"`
	Status     string `json:"status"`
	Owner      bool   `json:"owner"`
	HTTPAddr   string `json:"http_addr,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	Replicas   int    `json:"replicas"`
	Self       bool   `json:"self,omitempty"`
}

// Ring is the ring as the fake's admin API reports it.
type Ring struct {
	Partitions int        `json:"partitions"`
	N          int        `json:"n"`
	Version    uint64     `json:"version"`
	Replicas   [][]string `json:"replicas"`
}

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

// SetAdminToken makes the admin endpoints require "Authorization: Bearer
// token" instead of the client token given to NewServer; as on a node, an
// empty admin token leaves them open.
func (s *Server) SetAdminToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.adminToken = token
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.Handle("/admin/members", s.adminGet(func(c *Cluster) any {
		members := slices.Clone(c.Members)
		if members == nil {
			members = []Member{}
		}
		slices.SortFunc(members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
		return map[string]any{"members": members}
	}))
	mux.Handle("/admin/ring", s.adminGet(func(c *Cluster) any {
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
