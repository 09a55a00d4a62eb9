// Package antientropy holds the pure machine of one anti-entropy round: the
// decisions the entropy scheduler actor (actors/entropy) carries out.
//
// # What it owns
//
// A round picks one partition this node serves and a live co-owner (from a
// View of the ring and the members, as plain values, and a *rand.Rand),
// descends the two replicas' Merkle trees with merkle.Exchange (both trees
// answer by message: NewRemoteExchange), diffs the listings of the
// differing buckets (merkle.DiffBuckets), reads the differing keys from both
// sides, merges each pair (dvv.Merge) and sends the result to each side that
// lacked it. A round that finds the replicas in sync may go on to reap the
// partition's old tombstones, and the reap rules live here, each a test:
//
//   - every node that could keep a hint (the ring's owners and every member
//     gossip knows that has not left) is alive;
//   - no handoff of the partition is running (every slot has its data);
//   - every primary answers with the very same set, holding only tombstones
//     all written before now-grace (dvv.Reapable);
//   - no node keeps a hint for the key.
//
// Only then does the machine ask each primary to reap the key, and a vnode
// reaps only if what it stores is still exactly that set.
//
// # The schedule
//
// The machine also decides which pair the next round takes, and when, so
// that every pair is exchanged at least once per Config.SweepInterval (the
// bound; schedule.go). It keeps, per (partition, peer) pair, when its last
// completed exchange started. On each Tick when idle, and never sooner than
// Config.MinGap (the rate limit) after the last round started, it starts,
// in this order: a pair due (no exchange for half the sweep interval); the
// pair whose last round repaired, back to back until a round finds it in
// sync; a pair whose last round was aborted, once its peer's backoff
// (RetryMin doubling up to RetryMax) has passed; and, paced so that every
// pair fits in half the sweep interval, the pair exchanged longest ago
// (never-exchanged first, ties broken by the caller's Rand). The other half
// of the interval is slack for repairs, retries and slow rounds. Pairs that
// leave the view are forgotten. Stats gives what the metrics show: the
// oldest pair's age (a pair never exchanged counts from when the machine
// first saw it) and how long the last full sweep took.
//
// # How to use it
//
//	m := antientropy.New(cfg)
//	eff := m.Tick(now, view, rng)      // every MinGap and after each round: abort a late round, start one
//	st := m.Stats(now)                 // the schedule's ages and sweeps, for metrics
//	eff = m.Hashes(id, hashes, shape)  // and the other events, as replies arrive
//	eff = m.Reap(view, wall)           // when eff.NeedView: the reap phase's inputs
//
// Every method returns Effects: the round's result when it ended (metrics,
// the repair callback, logs), then the requests to send, each with an id
// whose reply the caller passes back with that id. Replies to a round that
// ended (timed out, aborted) find no pending id and are ignored, which is
// safe because merging is idempotent: the next round starts over.
//
// # Concurrency
//
// A Machine is single-threaded: it is owned by one actor, which steps it from
// its Receive only. It starts no goroutines, does no I/O and reads no clock
// or global random source: time and randomness arrive as arguments.
package antientropy
