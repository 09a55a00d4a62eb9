package gateway

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/dhtkv/dht/api"
)

// serveRouting answers GET /v1/ring: the partition table and the nodes'
// HTTP addresses, so that a client can send each key to an owner itself
// and save the hop through a node that is not one.
func (g *Gateway) serveRouting(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Cluster == nil {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "cluster view not available"})
		return
	}
	rg := g.cfg.Cluster.Ring()
	out := api.Routing{Partitions: rg.Partitions, N: rg.N, Version: rg.Version, Replicas: rg.Replicas, Nodes: []api.RoutingNode{}}
	if out.Replicas == nil {
		out.Replicas = [][]string{}
	}
	for _, m := range g.cfg.Cluster.Members() {
		if m.HTTPAddr == "" {
			continue
		}
		out.Nodes = append(out.Nodes, api.RoutingNode{ID: m.ID, HTTPAddr: m.HTTPAddr, Alive: m.Status == MemberAlive})
	}
	slices.SortFunc(out.Nodes, func(a, b api.RoutingNode) int { return cmp.Compare(a.ID, b.ID) })
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// countOwner counts a key-value request by whether this node owns its
// partition p (parse has hashed the key once, by the ring's count), and
// tells the client the ring's
// version (api.RingVersionHeader), so that one routing by an older table
// refreshes it.
func (g *Gateway) countOwner(w http.ResponseWriter, p uint32) {
	if g.cfg.Cluster == nil {
		return
	}
	rg := g.cfg.Cluster.Ring()
	w.Header().Set(api.RingVersionHeader, strconv.FormatUint(rg.Version, 10))
	if int(p) >= len(rg.Replicas) || g.cfg.Metrics == nil || g.cfg.Metrics.RequestOwners == nil {
		return
	}
	owner := "other"
	if int(p) < len(rg.Replicas) && slices.Contains(rg.Replicas[p], g.cfg.Self) {
		owner = "self"
	}
	g.cfg.Metrics.RequestOwners.WithLabelValues(owner).Inc()
}

// noRing refuses a key-value request on a node whose partition table is
// missing or may be stale. With no table (starting, or waiting for a seed
// to answer its join) there are no owners to ask, and "0 replicas
// reachable" would send the client looking for a dead cluster rather than
// a node that is still joining. With a table stored before a restart that
// no live peer's has been merged into yet, the owners may have changed
// while the node was away: a write sent to the old ones could miss the
// replicas reads now ask. Either way the window lasts until the first
// gossip exchange, so the answer asks the client to retry, here shortly or
// at another node; nothing was read or written.
func (g *Gateway) noRing(w http.ResponseWriter) *apiError {
	if g.cfg.Cluster == nil {
		return nil
	}
	why := ""
	if len(g.cfg.Cluster.Ring().Replicas) == 0 {
		why = "has no partition table yet (it is starting or joining; GET /readyz says why)"
	} else if g.cfg.RingStale != nil {
		if err := g.cfg.RingStale(); err != nil {
			why = "may route by an old partition table: " + err.Error()
		}
	}
	if why == "" {
		return nil
	}
	w.Header().Set("Retry-After", "1")
	return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
		msg: fmt.Sprintf("node %s %s: nothing was read or written; retry, or send the request to another node", g.cfg.Self, why)}
}

// partitions is the ring's Q: the published table's, which a resize
// changes (ring.State.Resize), else the configured count.
func (g *Gateway) partitions() int {
	if g.cfg.Cluster != nil {
		if q := g.cfg.Cluster.Ring().Partitions; q > 0 {
			return q
		}
	}
	return g.cfg.Partitions
}
