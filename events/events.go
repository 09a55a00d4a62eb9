package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// Event is one thing that happened in the cluster, as a node saw it. The
// JSON tags are the wire format of GET /admin/events.
type Event struct {
	// Seq numbers the events of one bus from 1, without gaps: a reader that
	// sees a jump knows it lost events in between. Publish sets it.
	Seq uint64 `json:"seq"`
	// Time is when the reporting node published the event, by its clock.
	Time time.Time `json:"time"`
	// Node is the id of the reporting node; Publish fills it in when empty.
	Node string `json:"node"`
	// Kind is one of the kind constants below.
	Kind string `json:"kind"`
	// Subject is what the event is about, usually a member's id.
	Subject string `json:"subject,omitempty"`
	// Partition is set for events about one partition (handoff,
	// anti-entropy repairs). It is a pointer because partition 0 is real.
	Partition *uint32 `json:"partition,omitempty"`
	// Detail is free text for people: an address, a count, a reason.
	Detail string `json:"detail,omitempty"`
}

// Event kinds. They are part of the API: operators filter on them, so a
// kind keeps its name once published.
const (
	// Membership, as serf reports it; Subject is the member.
	MemberJoin   = "member-join"
	MemberLeave  = "member-leave"
	MemberFail   = "member-fail"
	MemberUpdate = "member-update"
	MemberReap   = "member-reap"
	// RingChange is a new ring state this node routes by; Detail says what
	// changed.
	RingChange = "ring-change"
	// Ownership handoff of one partition; Subject is the peer.
	HandoffStart  = "handoff-start"
	HandoffFinish = "handoff-finish"
	HandoffDrop   = "handoff-drop"
	// AERepair is anti-entropy mending a partition's replica.
	AERepair = "ae-repair"
	// RebuildStart: this node lost its data (it started with empty storage
	// while the ring said it owned replicas) and receives every partition
	// it holds again; Detail says how many. RebuildFinish: it has all of
	// them back and serves their reads again.
	RebuildStart  = "rebuild-start"
	RebuildFinish = "rebuild-finish"
	// ClusterEvent is an operator's command (join, decommission,
	// force-remove) as a serf user event carried it to this node.
	ClusterEvent = "cluster-event"
)

// StreamDropped is not an event kind a bus publishes: it names the notice an
// event stream sends when its reader fell behind and lost events, so that
// the reader knows its view has gaps.
const StreamDropped = "dropped"

// Kinds returns every kind a bus may publish, in a stable order, for
// validating filters and for help texts.
func Kinds() []string {
	return []string{
		MemberJoin, MemberLeave, MemberFail, MemberUpdate, MemberReap,
		RingChange, HandoffStart, HandoffFinish, HandoffDrop, AERepair, ClusterEvent, RebuildStart, RebuildFinish,
	}
}

// Bus fans published events out to subscribers and remembers the latest.
// Create it with New; a nil *Bus ignores Publish and has no history.
type Bus struct {
	node    string
	history int
	now     func() time.Time

	mu struct {
		sync.Mutex
		seq uint64
		// recent is a ring buffer of up to history events; next is where
		// the next one goes, and once it is full, the oldest.
		recent []Event
		next   int
		subs   map[*Subscription]struct{}
	}
}

// Option configures a Bus in New.
type Option func(*Bus)

// WithClock makes the bus stamp events with now instead of time.Now, so
// that tests see fixed times.
func WithClock(now func() time.Time) Option {
	return func(b *Bus) {
		if now != nil {
			b.now = now
		}
	}
}

// New returns the bus of the node with id node, which keeps the last
// history events for Recent (none when history is 0 or less).
func New(node string, history int, opts ...Option) *Bus {
	b := &Bus{node: node, history: max(history, 0), now: time.Now}
	for _, o := range opts {
		o(b)
	}
	b.mu.recent = make([]Event, 0, b.history)
	b.mu.subs = map[*Subscription]struct{}{}
	return b
}

// Publish stamps e and hands it to every subscriber without waiting: a
// subscriber whose buffer is full loses it (see Subscription.Dropped). It
// sets Seq, Time when zero and Node when empty, and copies Partition so the
// caller may reuse its variable. Publishing to a nil bus does nothing.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	if e.Partition != nil {
		p := *e.Partition
		e.Partition = &p
	}
	if e.Node == "" {
		e.Node = b.node
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// Stamped under the lock, so that Seq order, history order and every
	// subscriber's delivery order are one order.
	b.mu.seq++
	e.Seq = b.mu.seq
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	b.remember(e)
	for s := range b.mu.subs {
		select {
		case s.c <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// remember adds e to the history. Callers hold mu.
func (b *Bus) remember(e Event) {
	if b.history == 0 {
		return
	}
	if len(b.mu.recent) < b.history {
		b.mu.recent = append(b.mu.recent, e)
		return
	}
	b.mu.recent[b.mu.next] = e
	b.mu.next = (b.mu.next + 1) % b.history
}

// Recent returns the last events published, up to the history given to
// New, oldest first. The slice is the caller's.
func (b *Bus) Recent() []Event {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recentLocked()
}

// recentLocked returns a copy of the history, oldest first. Callers hold
// mu.
func (b *Bus) recentLocked() []Event {
	out := make([]Event, 0, len(b.mu.recent))
	out = append(out, b.mu.recent[b.mu.next:]...)
	return append(out, b.mu.recent[:b.mu.next]...)
}

// Subscribe returns a subscription that receives every event published from
// now on, buffering up to buffer of them (at least 1) for a reader that is
// busy. Close it when done: an open subscription costs a send attempt on
// every Publish. On a nil bus the subscription is already closed.
func (b *Bus) Subscribe(buffer int) *Subscription {
	_, s := b.subscribe(buffer, false)
	return s
}

// SubscribeWithHistory is Recent and Subscribe in one step: the history
// ends exactly where the subscription begins, so a reader that replays it
// and then follows sees every event once. Calling the two in turn could
// lose an event published in between, or repeat one.
func (b *Bus) SubscribeWithHistory(buffer int) ([]Event, *Subscription) {
	return b.subscribe(buffer, true)
}

func (b *Bus) subscribe(buffer int, withHistory bool) ([]Event, *Subscription) {
	s := &Subscription{bus: b, c: make(chan Event, max(buffer, 1))}
	if b == nil {
		s.closed = true
		close(s.c)
		return nil, s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.subs[s] = struct{}{}
	if !withHistory {
		return nil, s
	}
	return b.recentLocked(), s
}

// Subscription is one reader of a bus.
type Subscription struct {
	bus     *Bus
	c       chan Event
	dropped atomic.Uint64
	// closed is guarded by bus.mu (nil bus: set once in Subscribe).
	closed bool
}

// C returns the channel events arrive on, in Seq order. It is closed by
// Close, after the events buffered until then.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped returns how many events this subscription lost because its
// buffer was full when they were published.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes C. It may be called more than once, and
// concurrently with Publish: both hold the bus's lock, so Publish never
// sends on a closed channel.
func (s *Subscription) Close() {
	if s.bus == nil {
		return
	}
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	delete(s.bus.mu.subs, s)
	close(s.c)
}
