package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/cluster/ring"
)

// DefaultRingRefresh is how old a routing table may grow before a call
// refreshes it in the background (WithRingRouting).
const DefaultRingRefresh = 30 * time.Second

// WithRingRouting makes the client send each key's requests straight to a
// live owner of the key, by the ring table of GET /v1/ring, as Dynamo's
// clients do, instead of to whichever node it was given, which then sends
// them on to an owner: a hop saved on every request whose node is not an
// owner (most of them once a cluster is larger than N).
//
// The table is fetched from the client's nodes in the background, on first
// use and then when older than refresh (0: DefaultRingRefresh), when an
// answer names a newer ring version (api.RingVersionHeader), and when an
// owner cannot be reached. Until it is there, and whenever the owner it
// names fails, a call goes to the client's nodes as without routing, so a
// stale table (a join, a node down) costs a hop or a retry, never a failed
// request. RefreshRing loads it at once.
func WithRingRouting(refresh time.Duration) Option {
	if refresh <= 0 {
		refresh = DefaultRingRefresh
	}
	return func(c *Client) { c.routing = &routing{every: refresh} }
}

// routing is a client's ring table and its refreshing.
type routing struct {
	every      time.Duration
	table      atomic.Pointer[routeTable]
	refreshing atomic.Bool
	// stale asks the next call to refresh, whatever the table's age.
	stale atomic.Bool
}

// routeTable is the ring as a client routes by it.
type routeTable struct {
	version    uint64
	partitions int
	// owners[p] are partition p's live owners' base URLs, in preference
	// order.
	owners  [][]*url.URL
	fetched time.Time
}

// RingVersion returns the version of the ring table the client routes by,
// 0 when it has none (or routes by none: see WithRingRouting).
func (c *Client) RingVersion() uint64 {
	if c.routing == nil {
		return 0
	}
	if t := c.routing.table.Load(); t != nil {
		return t.version
	}
	return 0
}

// RefreshRing fetches the ring table now (WithRingRouting); it is an
// error on a client that does not route by the ring.
func (c *Client) RefreshRing(ctx context.Context) error {
	if c.routing == nil {
		return fmt.Errorf("client: refresh ring: the client does not route by the ring (WithRingRouting)")
	}
	resp, err := c.roundTrip(ctx, call{what: "ring", method: http.MethodGet, path: api.RoutingPath, token: c.token, idempotent: true})
	if err != nil {
		return err
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp, false)
	}
	data, err := readAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: ring: reading the answer: %w", err)
	}
	var r api.Routing
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("client: ring: malformed answer: %w", err)
	}
	t, err := c.tableOf(r)
	if err != nil {
		return err
	}
	c.routing.table.Store(t)
	c.routing.stale.Store(false)
	return nil
}

// tableOf builds the routing table of a GET /v1/ring answer: each live
// owner at its HTTP address, with the scheme (and path prefix) of the
// client's first node.
func (c *Client) tableOf(r api.Routing) (*routeTable, error) {
	if err := ring.ValidatePartitions(r.Partitions); err != nil || len(r.Replicas) != r.Partitions {
		return nil, fmt.Errorf("client: ring: malformed answer: %d partitions, %d replica lists", r.Partitions, len(r.Replicas))
	}
	addrs := map[string]*url.URL{}
	for _, n := range r.Nodes {
		if !n.Alive || n.HTTPAddr == "" {
			continue
		}
		u := *c.endpoints[0]
		u.Host = n.HTTPAddr
		addrs[n.ID] = &u
	}
	t := &routeTable{version: r.Version, partitions: r.Partitions, owners: make([][]*url.URL, r.Partitions), fetched: time.Now()}
	for p, prefs := range r.Replicas {
		for _, id := range prefs {
			if u, ok := addrs[id]; ok {
				t.owners[p] = append(t.owners[p], u)
			}
		}
	}
	return t, nil
}

// routeOf returns the node to send key's call to, nil when the client has
// no table or the key's partition no live owner; it starts a background
// refresh when the table is missing, old or stale.
func (c *Client) routeOf(key string) *url.URL {
	r := c.routing
	t := r.table.Load()
	if t == nil || r.stale.Load() || time.Since(t.fetched) > r.every {
		c.refreshInBackground()
	}
	if t == nil {
		return nil
	}
	owners := t.owners[ring.PartitionOf([]byte(key), t.partitions)]
	if len(owners) == 0 {
		return nil
	}
	return owners[0]
}

// noteVersion refreshes the table when an answer names another ring.
func (c *Client) noteVersion(resp *http.Response) {
	t := c.routing.table.Load()
	v, err := strconv.ParseUint(resp.Header.Get(api.RingVersionHeader), 10, 64)
	if err != nil || t == nil || v == t.version {
		return
	}
	c.routing.stale.Store(true)
	c.refreshInBackground()
}

// refreshInBackground fetches the table unless a fetch is running.
func (c *Client) refreshInBackground() {
	if !c.routing.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.routing.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.RefreshRing(ctx) // the next call tries again
	}()
}

// routedAttempt sends a key's call to the owner the table names, once. ok
// is false when there is no route, or the attempt failed in a way another
// node may be asked instead (then the table is marked stale); otherwise
// resp and err are the call's outcome.
func (c *Client) routedAttempt(ctx context.Context, cl call) (resp *http.Response, ok bool, err error) {
	u := c.routeOf(cl.key)
	if u == nil {
		return nil, false, nil
	}
	resp, f, err := c.attempt(ctx, cl, u)
	if f != 0 && retryable(f, cl.idempotent) {
		c.routing.stale.Store(true)
		return nil, false, nil
	}
	if resp != nil {
		c.noteVersion(resp)
	}
	return resp, true, err
}
