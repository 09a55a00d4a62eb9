// Package harness runs the comparison behind `make bench`: it starts each
// system under test as real processes on loopback (System), loads it and
// runs YCSB workloads on it through go-ycsb's client, workload and
// measurement packages (RunWorkload), samples the servers' memory, measures
// the CPU time the servers and the harness itself spend on each run, takes,
// when asked, a CPU profile of one node, and collects everything into
// report.Results (Compare).
//
// A system with TLS (dht-n3-tls) makes its own CA, node certificates and
// context secret under its data directory at Start, and the harness's
// readiness checks and the binding verify the nodes with that CA.
//
// dht-n3-lww is the dht-n3 cluster started with the YCSB table as a bucket
// resolved by lww on write (--resolution.buckets, --resolution.on_write),
// driven with the dht binding's blind updates: its update is one write, as
// etcd's is, where dht-n3's is a read for the context and a write.
//
// Process model: every server is a child process in its own process group,
// killed with SIGKILL if the harness dies (Linux); Stop sends SIGTERM and
// waits. One Compare runs at a time: go-ycsb's measurement package is
// global, so RunWorkload must not run concurrently with itself.
package harness
