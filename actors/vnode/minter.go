package vnode

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/persistence"
)

// Metadata keys of the node's replica identity.
var (
	metaActor = persistence.MetaKey("replica_actor")
	metaLease = persistence.MetaKey("dot_lease")
)

// Fresh counters are floored at wall-clock milliseconds ×
// replica.CounterPerMilli (see there), and replica.PlausibleCounter bounds
// what any replica can have minted by now.

// leaseBlock is how many dots one persisted lease covers. Larger blocks mean
// fewer metadata writes; the cost of a crash is only a gap in counters.
const leaseBlock = 1 << 16

// Minter mints the dots of one replica actor, shared by all vnodes of a node.
// A dot's counter is unique across all keys, which keeps dots unique even
// when a key is reaped and written again, or a replica lost a key (Riak's
// KV679). Safe for concurrent use.
type Minter struct {
	actor  dvv.Actor
	engine persistence.Engine
	mu     struct {
		sync.Mutex
		next, limit uint64
	}
}

// OpenMinter loads the node's replica identity from engine, or creates one
// when storage is empty or wiped: a new random actor id (a new epoch), so
// that no dot minted before the wipe is ever minted again.
func OpenMinter(engine persistence.Engine, now time.Time) (m *Minter, fresh bool, err error) {
	m = &Minter{engine: engine}
	raw, err := engine.Get(metaActor)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		var b [8]byte
		for binary.BigEndian.Uint64(b[:]) == 0 {
			if _, err := rand.Read(b[:]); err != nil {
				return nil, false, fmt.Errorf("vnode: new replica actor: %w", err)
			}
		}
		if err := engine.Put(metaActor, b[:]); err != nil {
			return nil, false, fmt.Errorf("vnode: persist replica actor: %w", err)
		}
		raw, fresh = b[:], true
	case err != nil:
		return nil, false, fmt.Errorf("vnode: load replica actor: %w", err)
	}
	if len(raw) != 8 {
		return nil, false, fmt.Errorf("vnode: stored replica actor is %d bytes, want 8", len(raw))
	}
	m.actor = dvv.Actor(binary.BigEndian.Uint64(raw))

	var lease uint64
	switch raw, err := engine.Get(metaLease); {
	case errors.Is(err, persistence.ErrNotFound):
	case err != nil:
		return nil, false, fmt.Errorf("vnode: load dot lease: %w", err)
	case len(raw) != 8:
		return nil, false, fmt.Errorf("vnode: stored dot lease is %d bytes, want 8", len(raw))
	default:
		lease = binary.BigEndian.Uint64(raw)
	}
	m.mu.next = max(lease, uint64(now.UnixMilli())*replica.CounterPerMilli) + 1
	m.mu.limit = m.mu.next - 1 // nothing leased yet: the first Next persists a lease
	return m, fresh, nil
}

// Actor returns this replica's actor id.
func (m *Minter) Actor() dvv.Actor { return m.actor }

// Next returns a dot never returned before by this actor, persisting a new
// lease first when the current one is used up.
func (m *Minter) Next() (dvv.Dot, error) {
	return m.NextAfter(0)
}

// NextAfter returns a dot never returned before by this actor whose counter
// is above floor. A key's context can name this actor beyond the minter's
// next counter (a backup restored over newer data, or a context forged
// within replica.PlausibleCounter): minting past it keeps the key writable, where
// a dot at or below it would be refused as stale.
func (m *Minter) NextAfter(floor uint64) (dvv.Dot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.next = max(m.mu.next, floor+1)
	if m.mu.next > m.mu.limit {
		limit := m.mu.next + leaseBlock - 1
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], limit)
		if err := m.engine.Put(metaLease, b[:]); err != nil {
			return dvv.Dot{}, fmt.Errorf("vnode: persist dot lease: %w", err)
		}
		m.mu.limit = limit
	}
	d := dvv.Dot{Actor: m.actor, Counter: m.mu.next}
	m.mu.next++
	return d, nil
}
