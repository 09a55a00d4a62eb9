// Package sim is a deterministic, seeded simulation of a cluster's ownership
// changes at scale (100 to 1,000 nodes and more). It drives the real pure
// packages — cluster/ring's claim, State and Plan, internal/quorum's read and
// write machines, internal/merkle's trees and exchange — over a simulated
// clock and network: no actors, no sockets, no goroutines.
//
// # What it owns
//
// A Sim holds a ring.State, the ring.Plan computed from it, the set of nodes
// that are down, and a queue of simulated events. A Step is one change:
//
//   - join: a new node joins (State.JoinSelf) in the next zone round-robin;
//   - decommission: a live owner leaves (State.Decommission) and hands its
//     replicas over;
//   - crash: nodes go down without any ring change (failures never change
//     ownership);
//   - force-remove: a down owner is removed (State.ForceRemove) and its
//     replicas are rebuilt from the others;
//   - zone-loss: every node of a zone goes down;
//   - recover: every down node comes back, and anti-entropy repairs what it
//     missed;
//   - resize: once the plan has settled, Q doubles (State.Resize), each
//     child partition on its parent's replicas, so the split moves
//     nothing, and the rebalance after it a few replicas; Result reports
//     what a resize that transfers every partition would move;
//   - halve: once the plan has settled, Q halves: the sibling pairs align
//     by transfers, then merge (State.FinishHalving) moving nothing, then
//     a rebalance; Moved counts in partitions of the larger ring.
//
// After a ring change the Sim lists the plan's transfers (Plan.Transfers),
// runs them on the simulated network — each takes the partition's size over
// a per-transfer rate, a node receives and sends at most
// TransferConcurrency at once, as handoff.transfer_concurrency bounds — and
// records each finished one with State.CompleteHandoff, until Plan.Settled.
//
// # What it measures
//
// For every step a Result: data moved (ring.Moved between consecutive
// tables) against the ideal (N·Q/(S+1) for a join to S owners, the removed
// member's load for a removal); replicas per node against the mean; whether
// every partition's replicas are in distinct zones when there are at least N
// zones; the simulated time until the plan settles; the share of partitions
// whose reads at R and writes at W succeed, by Plan.Route and the quorum
// machines, strict and with sloppy quorum, both right after the change and
// once settled (the worse is kept); for a recovery, the keys the returning
// nodes missed and what the Merkle exchange found and cost; and, when
// Config.Now is set, the wall time of ring.Claim on the new state.
//
// # Usage
//
//	cfg := sim.Default() // 30 nodes, 3 zones, Q = 256, N = 3, R = W = 2
//	s, err := sim.New(cfg, rand.New(rand.NewPCG(seed, 0)))
//	res := s.Run(sim.Standard(5)) // or s.Apply(step) one at a time
//	fmt.Print(sim.StepTable(res), sim.SummaryTable([]sim.Summary{sim.Summarize(cfg, res)}))
//
// Run with the same Config, seed and steps, a Sim gives the same Results bit
// for bit (wall times aside): it iterates no map in an order that matters
// and draws randomness only from the Rand it is given. test/sim/cmd/dhtsim
// (`make sim`) runs the 100/300/1,000-node matrix; docs/scale.md has the
// figures.
//
// # Concurrency
//
// A Sim is not safe for concurrent use. The package is pure: it reads no
// clock (Config.Now is the caller's) and takes its randomness from the
// caller.
package sim
