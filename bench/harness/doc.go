// Package harness runs the comparison behind `make bench`: it starts each
// system under test as real processes on loopback (System), loads it and
// runs YCSB workloads on it through go-ycsb's client, workload and
// measurement packages (RunWorkload), samples the servers' memory and, when
// asked, a CPU profile of one node, and collects everything into
// report.Results (Compare).
//
// Process model: every server is a child process in its own process group,
// killed with SIGKILL if the harness dies (Linux); Stop sends SIGTERM and
// waits. One Compare runs at a time: go-ycsb's measurement package is
// global, so RunWorkload must not run concurrently with itself.
package harness
