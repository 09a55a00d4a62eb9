package persistence

import "sync"

// callGate admits an engine's calls until the engine closes, and lets
// Close wait for the calls in flight: neither badger nor pebble tolerates
// being used after it is closed (pebble panics). An engine embeds it; every
// call does `if !e.enter() { return ErrClosed }; defer e.leave()`, and Close
// calls shut before closing the database.
type callGate struct {
	mu     sync.RWMutex // a call holds it for reading for its duration
	closed bool
}

// enter admits a call unless the engine is closed; a true result must be
// paired with leave, which may run on another goroutine (an asynchronous
// write leaves when the engine answers it).
func (g *callGate) enter() bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *callGate) leave() { g.mu.RUnlock() }

// shut waits for the calls in flight and refuses every later one.
func (g *callGate) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
