// Package chaos is the fault-injection suite: it breaks a real cluster on
// purpose and proves, from recorded histories, that nothing acknowledged is
// lost. It holds no code; the work is split like the rest of the project,
// a pure core and thin shells:
//
//   - history: the record of a run (client operations as JSON lines, the
//     final reads and Merkle roots) and the value formats of set and
//     register keys. Pure.
//   - checker: history in, verdict out (lost, unexpected, stale, divergent,
//     sibling counts against true concurrency). Pure: no goroutines, clocks,
//     randomness or I/O; a test enforces it.
//   - harness: network namespaces on a private bridge, iptables partitions,
//     dhtd processes (kill, pause, wipe, clock skew, join, decommission),
//     waiting for convergence, final reads. Needs root.
//   - workload: concurrent numbered clients doing read-modify-write on sets,
//     sequential register writes and reads, recording every operation.
//   - scenario: the fault schedules and the runner that ties the above
//     together for one scenario.
//   - cmd/dhtchaos: the command behind `make chaos` and `make chaos-short`.
package chaos
