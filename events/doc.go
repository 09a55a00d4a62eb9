// Package events is the node's in-process event hub: the actors that see
// the cluster change (membership, topology, handoff, anti-entropy) publish
// what happened to a Bus, and the admin API's server-sent-events handler
// (GET /admin/events) streams it to operators.
//
// The package owns the Event type, which is also the wire format of the
// stream (its JSON tags are the API), the kind names, and the Bus. It knows
// nothing of actors or HTTP: publishers and readers are plain goroutines.
//
// Typical use:
//
//	bus := events.New(self, 256)            // one per node; keep the last 256
//	bus.Publish(events.Event{Kind: events.MemberJoin, Subject: "node-b"})
//
//	sub := bus.Subscribe(64)                // a reader, e.g. one SSE client
//	defer sub.Close()
//	for e := range sub.C() { ... }
//
// Delivery is best effort by design: Publish never waits for a reader, so a
// slow stream can never stall the actor that publishes. A subscriber whose
// buffer is full loses the event, and its Dropped counter says how many it
// lost; Seq numbers have no gaps on a bus, so a reader also sees exactly
// where. Recent keeps the last few events for a reader that arrives late,
// and SubscribeWithHistory hands them over together with a subscription
// that continues exactly where they end.
//
// Concurrency: every method of Bus and Subscription is safe for concurrent
// use. A nil *Bus is valid and inert, so an actor can hold an optional bus
// and publish to it unconditionally. Events are values; a published Event's
// Partition pointer is copied once by Publish and shared by every reader
// afterwards, so readers must not write through it.
package events
