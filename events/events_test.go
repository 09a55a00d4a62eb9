package events_test

import (
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/test/testutil"
)

// epoch is the fake clock's reading.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() events.Option { return events.WithClock(func() time.Time { return epoch }) }

// seqs returns the Seq of each event.
func seqs(es []events.Event) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// drain returns the events buffered in sub, without waiting for more.
func drain(sub *events.Subscription) []events.Event {
	var out []events.Event
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestBus_PublishStamps(t *testing.T) {
	t.Parallel()
	bus := events.New("node-a", 8, fixedClock())
	sub := bus.Subscribe(8)
	defer sub.Close()
	own := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

	bus.Publish(events.Event{Kind: events.MemberJoin, Subject: "node-b"})
	bus.Publish(events.Event{Kind: events.HandoffStart, Node: "node-z", Time: own, Partition: new(uint32(0)), Detail: "from node-c"})

	want := []events.Event{
		{Seq: 1, Time: epoch, Node: "node-a", Kind: events.MemberJoin, Subject: "node-b"},
		{Seq: 2, Time: own, Node: "node-z", Kind: events.HandoffStart, Partition: new(uint32(0)), Detail: "from node-c"},
	}
	if got := drain(sub); !reflect.DeepEqual(got, want) {
		t.Errorf("delivered\n%+v\nwant\n%+v", got, want)
	}
	if got := bus.Recent(); !reflect.DeepEqual(got, want) {
		t.Errorf("Recent\n%+v\nwant\n%+v", got, want)
	}
}

// TestBus_PublishCopiesPartition checks that a publisher reusing its
// variable after Publish does not rewrite what readers got.
func TestBus_PublishCopiesPartition(t *testing.T) {
	t.Parallel()
	bus := events.New("a", 4)
	sub := bus.Subscribe(4)
	defer sub.Close()
	p := uint32(7)
	bus.Publish(events.Event{Kind: events.AERepair, Partition: &p})
	p = 9
	if got := *(<-sub.C()).Partition; got != 7 {
		t.Errorf("delivered partition %d, want 7 as published", got)
	}
	if got := *bus.Recent()[0].Partition; got != 7 {
		t.Errorf("Recent partition %d, want 7 as published", got)
	}
}

func TestBus_Recent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		history   int
		published int
		want      []uint64
	}{
		{name: "no history kept", history: 0, published: 3, want: []uint64{}},
		{name: "negative history is none", history: -1, published: 3, want: []uint64{}},
		{name: "nothing published", history: 3, published: 0, want: []uint64{}},
		{name: "fewer than history", history: 3, published: 2, want: []uint64{1, 2}},
		{name: "exactly history", history: 3, published: 3, want: []uint64{1, 2, 3}},
		{name: "wrapped once", history: 3, published: 4, want: []uint64{2, 3, 4}},
		{name: "wrapped many times", history: 3, published: 10, want: []uint64{8, 9, 10}},
		{name: "history of one", history: 1, published: 5, want: []uint64{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := events.New("a", tt.history)
			for range tt.published {
				bus.Publish(events.Event{Kind: events.RingChange})
			}
			if got := seqs(bus.Recent()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Recent seqs = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBus_RecentMatchesReference compares Recent after random publishes
// with the obvious implementation: the tail of everything published.
func TestBus_RecentMatchesReference(t *testing.T) {
	t.Parallel()
	seed := testutil.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	for range 200 {
		history := rng.IntN(10)
		bus := events.New("a", history, fixedClock())
		var all []events.Event
		for range rng.IntN(40) {
			e := events.Event{Kind: events.Kinds()[rng.IntN(len(events.Kinds()))], Subject: string(rune('a' + rng.IntN(26)))}
			bus.Publish(e)
			e.Seq, e.Node, e.Time = uint64(len(all)+1), "a", epoch
			all = append(all, e)
		}
		want := all[max(len(all)-history, 0):]
		if got := bus.Recent(); len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("seed %d (-seed=%d to rerun): history %d after %d events: Recent\n%+v\nwant\n%+v", seed, seed, history, len(all), got, want)
		}
	}
}

func TestBus_RecentIsTheCallersCopy(t *testing.T) {
	t.Parallel()
	bus := events.New("a", 2)
	bus.Publish(events.Event{Kind: events.MemberJoin})
	got := bus.Recent()
	got[0].Kind = "edited"
	if k := bus.Recent()[0].Kind; k != events.MemberJoin {
		t.Errorf("Recent after editing a previous answer = %q, want %q", k, events.MemberJoin)
	}
}

func TestBus_NilIsInert(t *testing.T) {
	t.Parallel()
	var bus *events.Bus
	bus.Publish(events.Event{Kind: events.MemberJoin})
	if got := bus.Recent(); got != nil {
		t.Errorf("nil bus Recent = %v, want nil", got)
	}
	sub := bus.Subscribe(1)
	if _, ok := <-sub.C(); ok {
		t.Error("a nil bus's subscription delivered an event, want its channel closed")
	}
	sub.Close()
	sub.Close()
	if sub.Dropped() != 0 {
		t.Errorf("Dropped = %d, want 0", sub.Dropped())
	}
}

// TestSubscription_SlowSubscriberDrops checks that a reader that does not
// read loses the overflow, counted, while Publish goes on and another
// reader gets everything.
func TestSubscription_SlowSubscriberDrops(t *testing.T) {
	t.Parallel()
	bus := events.New("a", 0)
	slow := bus.Subscribe(2)
	defer slow.Close()
	fast := bus.Subscribe(10)
	defer fast.Close()
	for range 5 {
		bus.Publish(events.Event{Kind: events.RingChange}) // would deadlock here if it blocked
	}
	if got := seqs(drain(slow)); !reflect.DeepEqual(got, []uint64{1, 2}) {
		t.Errorf("slow subscriber got %v, want the first two", got)
	}
	if got := slow.Dropped(); got != 3 {
		t.Errorf("slow subscriber Dropped = %d, want 3", got)
	}
	if got := seqs(drain(fast)); !reflect.DeepEqual(got, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("fast subscriber got %v, want all five", got)
	}
	if got := fast.Dropped(); got != 0 {
		t.Errorf("fast subscriber Dropped = %d, want 0", got)
	}

	// Once it has room again, the slow subscriber receives new events.
	bus.Publish(events.Event{Kind: events.RingChange})
	if got := seqs(drain(slow)); !reflect.DeepEqual(got, []uint64{6}) {
		t.Errorf("slow subscriber after catching up got %v, want [6]", got)
	}
}

func TestSubscription_BufferIsAtLeastOne(t *testing.T) {
	t.Parallel()
	for _, buffer := range []int{0, -3} {
		bus := events.New("a", 0)
		sub := bus.Subscribe(buffer)
		bus.Publish(events.Event{Kind: events.MemberFail})
		bus.Publish(events.Event{Kind: events.MemberFail})
		if got, dropped := len(drain(sub)), sub.Dropped(); got != 1 || dropped != 1 {
			t.Errorf("Subscribe(%d): buffered %d and dropped %d of 2, want 1 and 1", buffer, got, dropped)
		}
		sub.Close()
	}
}

func TestSubscription_Close(t *testing.T) {
	t.Parallel()
	bus := events.New("a", 4)
	sub := bus.Subscribe(4)
	bus.Publish(events.Event{Kind: events.MemberJoin})
	sub.Close()
	sub.Close() // idempotent
	bus.Publish(events.Event{Kind: events.MemberLeave})

	// What was buffered before Close is still readable, then C is closed.
	var got []events.Event
	for e := range sub.C() {
		got = append(got, e)
	}
	if !reflect.DeepEqual(seqs(got), []uint64{1}) {
		t.Errorf("after Close read %v, want only the event published before it", seqs(got))
	}
	if sub.Dropped() != 0 {
		t.Errorf("Dropped = %d after Close, want 0: a closed subscription is not a slow one", sub.Dropped())
	}
	if got := seqs(bus.Recent()); !reflect.DeepEqual(got, []uint64{1, 2}) {
		t.Errorf("Recent = %v, want both events: closing a reader does not affect the bus", got)
	}
}

// TestBus_ConcurrentPublishers publishes from many goroutines to one reader
// that keeps up: it must see every Seq exactly once, in order, and the
// history must hold the last ones. Run with -race.
func TestBus_ConcurrentPublishers(t *testing.T) {
	t.Parallel()
	const publishers, each, history = 8, 500, 16
	bus := events.New("a", history)
	sub := bus.Subscribe(publishers * each)
	defer sub.Close()
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for range each {
				bus.Publish(events.Event{Kind: events.AERepair})
			}
		})
	}
	wg.Wait()
	got := drain(sub)
	if len(got) != publishers*each || sub.Dropped() != 0 {
		t.Fatalf("reader got %d events and dropped %d, want all %d", len(got), sub.Dropped(), publishers*each)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has Seq %d, want %d: delivery order is not Seq order", i, e.Seq, i+1)
		}
	}
	recent := seqs(bus.Recent())
	for i, s := range recent {
		if want := uint64(publishers*each - history + i + 1); s != want {
			t.Fatalf("Recent = %v, want the last %d seqs in order", recent, history)
		}
	}
}

// TestSubscription_CloseDuringPublish closes and opens subscriptions while
// publishers run; a send on a closed channel would panic, a data race would
// fail under -race. Each reader must still see increasing seqs.
func TestSubscription_CloseDuringPublish(t *testing.T) {
	t.Parallel()
	bus := events.New("a", 8)
	stop := make(chan struct{})
	var publishers sync.WaitGroup
	for range 4 {
		publishers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					bus.Publish(events.Event{Kind: events.MemberUpdate})
					runtime.Gosched() // let readers run even on one CPU
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 8 {
		readers.Go(func() {
			for range 50 {
				sub := bus.Subscribe(4)
				var last uint64
				// Read a few, then close while publishers keep going, from
				// this goroutine and another at once.
				for range 3 {
					e, ok := <-sub.C()
					if !ok {
						t.Error("channel closed before Close")
						return
					}
					if e.Seq <= last {
						t.Errorf("Seq %d after %d: not increasing", e.Seq, last)
					}
					last = e.Seq
				}
				var closers sync.WaitGroup
				closers.Go(sub.Close)
				sub.Close()
				closers.Wait()
				for e := range sub.C() {
					if e.Seq <= last {
						t.Errorf("Seq %d after %d: not increasing", e.Seq, last)
					}
					last = e.Seq
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	publishers.Wait()
}

// TestBus_SubscribeWithHistory checks that replaying the history and then
// following the subscription gives every event exactly once, in order, even
// with a publisher running while the reader subscribes.
func TestBus_SubscribeWithHistory(t *testing.T) {
	t.Parallel()
	const total = 2000
	bus := events.New("a", total)
	for range 10 {
		bus.Publish(events.Event{Kind: events.RingChange})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range total - 10 {
			bus.Publish(events.Event{Kind: events.RingChange})
		}
	}()
	recent, sub := bus.SubscribeWithHistory(total)
	defer sub.Close()
	<-done
	seen := append(seqs(recent), seqs(drain(sub))...)
	if len(seen) != total {
		t.Fatalf("history plus subscription gave %d events, want %d", len(seen), total)
	}
	for i, s := range seen {
		if s != uint64(i+1) {
			t.Fatalf("event %d has Seq %d: lost or repeated", i, s)
		}
	}
}

func TestBus_SubscribeWithHistoryOnNil(t *testing.T) {
	t.Parallel()
	var bus *events.Bus
	recent, sub := bus.SubscribeWithHistory(1)
	if recent != nil {
		t.Errorf("nil bus history = %v, want nil", recent)
	}
	if _, ok := <-sub.C(); ok {
		t.Error("a nil bus's subscription delivered an event, want its channel closed")
	}
}

func TestKinds_Distinct(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{events.StreamDropped: true}
	for _, k := range events.Kinds() {
		if seen[k] {
			t.Errorf("kind %q listed twice or equal to the stream's dropped notice", k)
		}
		seen[k] = true
	}
	if len(events.Kinds()) != 13 {
		t.Errorf("Kinds lists %d kinds, want the 13 constants", len(events.Kinds()))
	}
}
