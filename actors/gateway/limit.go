package gateway

import (
	"net"
	"sync"
	"sync/atomic"
)

// limitListener bounds the connections open at once on a listener: Accept
// waits for a slot before it takes a connection from the kernel, so that
// connections past the bound wait in the listen backlog (and time out
// there, or are refused when it is full) instead of being accepted and
// starved. It is golang.org/x/net/netutil.LimitListener's behaviour; the
// few lines are written out rather than imported so that x/net, an
// indirect dependency, does not become a direct one for them, and so that
// tests can see how many connections are open and whether Accept waits.
type limitListener struct {
	net.Listener
	sem       chan struct{} // one token per open connection
	done      chan struct{} // closed by Close: a waiting Accept returns
	closeOnce sync.Once

	// waiting is 1 while Accept waits for a slot; peak is the most
	// connections ever open at once. Both are for tests.
	waiting atomic.Int32
	peak    atomic.Int64
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.waiting.Add(1)
		select {
		case l.sem <- struct{}{}:
			l.waiting.Add(-1)
		case <-l.done:
			l.waiting.Add(-1)
			return nil, net.ErrClosed
		}
	}
	// A closed listener refuses even with a slot free, as the inner one
	// would: Close may have won the race with a connection's release.
	select {
	case <-l.done:
		<-l.sem
		return nil, net.ErrClosed
	default:
	}
	if open := int64(len(l.sem)); open > l.peak.Load() {
		l.peak.Store(open) // Accept is called from one goroutine only
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close stops the listener; an Accept waiting for a slot returns
// net.ErrClosed.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back when it is first closed.
type limitConn struct {
	net.Conn
	releaseOnce sync.Once
	release     func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.releaseOnce.Do(c.release)
	return err
}

// CloseWrite half-closes the connection when the inner one can: net/http
// does so before closing a connection whose request body it did not read
// (a 413 answered early), so that the client reads the answer rather than
// a reset. Without it, the wrapper would hide the inner method.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
