package gateway

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// A connection that has not begun a request when Shutdown starts is closed
// once it has been open for unusedConnGrace: http.Server.Shutdown closes
// idle keep-alive connections at once, but waits 5 seconds for a new one to
// send its first request (golang/go#22682), and clients dial connections
// they then never use (Go's transport dials for a request that another
// connection serves first, and pools the spare). One such connection held
// every SIGTERM for 5 s, past a short http.shutdown_timeout, which then
// failed. The grace leaves a client that has just connected time to send
// its request over any real network.
const (
	unusedConnGrace = time.Second
	unusedConnPoll  = 100 * time.Millisecond
)

// connTracker follows the server's connections that have not begun a
// request yet, and those serving one. http.Server calls track from its
// connection goroutines.
type connTracker struct {
	mu struct {
		sync.Mutex
		unused map[net.Conn]time.Time // when each was accepted
		active map[net.Conn]struct{}  // serving a request now
	}
}

func newConnTracker() *connTracker {
	c := &connTracker{}
	c.mu.unused = map[net.Conn]time.Time{}
	c.mu.active = map[net.Conn]struct{}{}
	return c
}

// track is the server's ConnState hook.
func (c *connTracker) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state == http.StateNew {
		c.mu.unused[conn] = time.Now()
		return
	}
	// Active, idle, hijacked or closed: it has been used, or is gone.
	delete(c.mu.unused, conn)
	if state == http.StateActive {
		c.mu.active[conn] = struct{}{}
	} else {
		delete(c.mu.active, conn)
	}
}

// closeUnused closes the connections accepted at least grace before now
// that have not begun a request, and reports how many it closed.
func (c *connTracker) closeUnused(now time.Time, grace time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for conn, accepted := range c.mu.unused {
		if now.Sub(accepted) >= grace {
			_ = conn.Close()
			delete(c.mu.unused, conn)
			n++
		}
	}
	return n
}

// closeUnusedUntil closes unused connections as they pass the grace period,
// until stop is closed (when Shutdown has returned).
func (g *Gateway) closeUnusedUntil(stop <-chan struct{}) {
	tick := time.NewTicker(unusedConnPoll)
	defer tick.Stop()
	for {
		if n := g.conns.closeUnused(time.Now(), unusedConnGrace); n > 0 {
			g.cfg.Logger.Debug("closed connections that sent no request", "count", n)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}
