// Package scenario holds the fault schedules of the chaos suite and the
// runner that plays one: a fresh 5-node cluster in network namespaces
// (harness), the recorded workload (workload), the faults for a bounded
// time, then the heal, a bounded wait for convergence, the final reads at
// R=3 from every node, and the checker's verdict (checker). Run always
// tears the cluster down before it returns.
//
// Every scenario's randomness (fault choices and the clients' choices)
// comes from one seed derived from the run's seed and the scenario's name,
// so `dhtchaos -seed S -scenarios NAME` replays a scenario's schedule. The
// processes' own timing is not replayed.
//
// Concurrency: Run drives one scenario at a time from the caller's
// goroutine; the workload's clients run beside the fault schedule.
package scenario
