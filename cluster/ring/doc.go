// Package ring maps keys onto the store's consistent-hashing ring and decides
// which nodes own each partition.
//
// # Partitions
//
// Keys hash with MD5 into a 128-bit ring split into Q equal partitions, Q a
// power of two (Strategy 3 of the Dynamo paper). The partition of a key is the
// top log2(Q) bits of its hash, so partitions are contiguous arcs of the ring
// and a key's partition never depends on the member set — only the mapping of
// partitions to nodes does.
//
// # Ownership state
//
// State is the cluster's ownership state: every member that ever joined, its
// zone, and the Lamport times of its latest join and of its removal, if any.
// Only explicit events change it: a node joining (State.Join), `dhtctl
// decommission` or `dhtctl force-remove` (State.Remove). A failure, restart
// or upgrade never does. State is a CRDT: each node gossips its copy, and
// Merge (commutative, associative, idempotent; per member the later change
// wins, a removal winning a tie) brings any two nodes that have seen the same
// changes to equal states, which Digest lets them compare cheaply.
// State.Validate checks a state decoded from the network.
//
// # Commands
//
// An operator's ownership changes are ring commands that return the next
// state or a refusal: State.JoinSelf (a node joins only itself),
// State.Decommission and State.ForceRemove (never a node the ring does not
// know, one already removed, or the last owner; a force-removal never of the
// node running it nor of one that gossip sees alive). A refusal is a
// *CommandError wrapping the rule (ErrLastOwner, ErrAlive, ...), with the
// operator's explanation in its Reason. Shape.Compatible is the one check of
// whether a peer shares this ring (cluster name, Q and N), and
// Plan.HintRedirect decides where the hints of a removed replica go.
// testdata/commands holds the commands' stories.
//
// # Claim
//
// The partition table is Claim(q, n, state.History()) (or state.Table(q, n)):
// for each partition, the n nodes holding its replicas, in preference order,
// with Table.Fallbacks for sloppy quorum. Claim replays the ownership events
// in Lamport order: a join takes the newcomer's fair share from the members
// furthest above theirs, in a per-node pseudo-random order so that a node's
// partitions scatter over the ring; a removal hands the removed member's
// replicas to the members furthest below their share. The table is therefore
// not a function of the member set alone, but it is a function of the set of
// events: every node that has merged the same state computes the same table,
// bit for bit (integer arithmetic only). The algorithm is part of the
// protocol between nodes — testdata/claim.golden pins it.
//
// The properties, checked by claim_test.go:
//   - diverse: a partition's replicas are min(n, members) distinct nodes, in
//     distinct zones whenever the members span at least n zones (diversity
//     outranks balance: the lone member of one of n zones holds every
//     partition);
//   - balanced: every load is within a replica or two of its fair share,
//     n·q/S without zone constraints (within 10% of the mean at Q=256 for 3
//     to 16 nodes); with members in exactly n zones each zone holds q, shared
//     equally by its members, and with more zones a zone is capped at q;
//   - minimal in movement: adding one member to S moves about n·q/(S+1)
//     replicas, all to the newcomer (at most 1.25 times that is required);
//     removing one moves only its replicas.
//
// The exceptions, by design: the join that first brings the zone count to n
// also moves replicas between other members to repair repeated zones; a
// removal that takes the zone count below n leaves the lone members of zones
// above their new fair share until later joins take it; and a rejoin or zone
// change replays as a first join at its new version (State keeps only a
// member's latest join), so the events after its earlier join replay without
// it and far more than its share can move.
//
// # Handoffs
//
// NewPlan follows each placement through the replay and marks those a
// handoff record covers (State.CompleteHandoff): a replica serves reads
// once it has received its data, and the holder it replaced stands in
// until then. Records grow, one per member and partition, until the plan
// settles; then State.SettleHandoffs drops them all for one register, the
// ring version they were settled at, under which every placement counts
// as received (State.ForgetHandoffs drops a removed member's alone, under
// a register on its entry). Registers are max-registers, so a peer that
// still holds the records cannot bring them back in a merge. A change at
// or below the settled register that the side carrying it lacks arrived
// late (made on an older ring, or stamped from a stale clock): Merge drops
// it, and the node that made it makes it again above (late.go). Merge
// stays a join under the invariant settling keeps: every state with a
// given register holds the same changes at or below it.
//
// # Bases
//
// Claim replays every join and removal ever made, so a state that keeps
// its whole history keeps an entry for every member that ever joined.
// State.Compact replaces the history up to the settled register with a
// Base, the claimer's own state there (the live members and zones in
// claim's order, and every partition's replicas), and drops the entries
// and spans that ended by then (base.go). Replay starts from the base and
// goes on exactly as it would have, but for a member or zone the base
// dropped that comes back: it takes a new place in claim's order, as a
// newcomer would. A base is a max-register like the settled one: a merge
// keeps the later and drops from the other side what it stands for.
// CompactIfSmaller compacts only when that makes the state smaller (a
// base takes the bits of a member's index per replica slot).
//
// # Resizing
//
// Q can grow on a live ring: State.Resize splits every partition p of Q
// into p·f … p·f+f−1 of Q·f (f a power of two), the exact sub-arcs of p,
// each with p's replicas. It is recorded as a Base at a version of its own
// above every change, with the settled register raised to it, so the split
// moves nothing; later changes claim over the new partitions (resize.go).
// The split doubles every member's load and the spread between members,
// so the base carries a rebalance (Base.Rebalance, an event of kind
// Rebalance at the next version) when that would move anything: members
// below their fair share take replicas from those furthest above theirs,
// about the sum of the shortfalls, handed off as a join's are. Like
// compacting it needs the records settled at the latest change; a change
// made concurrently at or below the resize is late, and its node makes it
// again above.
//
// Q halves in two steps (halve.go): State.Resize to Q/2 records a base
// with Base.HalveTo and an Align event, which gives each pair of siblings
// 2p and 2p+1 the same replicas by ordinary transfers; once those are
// settled, State.FinishHalving merges the pairs into a base of Q/2
// partitions, moving nothing (or aligns again, if a change since broke a
// pair). Base.Layouts records the ring sizes the data has been laid out
// under, where the nodes' storage looks for a partition's keys.
// State.Partitions is Q for a state, the configured count until a resize;
// docs/design-notes.md says how the nodes follow it.
//
// # Concurrency
//
// The package is pure: no I/O, goroutines, clocks or randomness. Tables and
// states are values that no function modifies once built, so they may be
// shared between goroutines for reading.
package ring
