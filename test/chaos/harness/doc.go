// Package harness runs real dhtd processes, each in its own network
// namespace on a private bridge, and breaks them on purpose: iptables
// partitions (symmetric or not), SIGKILL and restart, SIGSTOP and SIGCONT,
// a wiped data directory, clock skew through a chaos build's clock file,
// joins and decommissions. It then waits, bounded, until the healed
// cluster has converged and reads the final state for the checker.
//
// Everything it makes is named with a prefix of its own (the bridge
// dhtchaos0, namespaces dhtchaos-n1…, veths dhtcv1…, a root FORWARD rule
// commented "dhtchaos"), so CleanLeftovers, run at the start of every run,
// removes a crashed run's remains and nothing else. Network traffic stays
// on that bridge: the nodes listen on 10.77.0.11…, the harness's clients
// talk to them from the root namespace's 10.77.0.1.
//
//	c, err := harness.Start(ctx, harness.Options{Binary: dhtd, Dir: dir, Nodes: 5})
//	defer c.Close()                        // kills every process, removes the network
//	c.Partition(ctx, harness.Drops{…})     // DROP rules inside the namespaces
//	c.Node("n2").Kill(); c.Node("n2").Start()
//	c.Node("n3").WipeAndStart(ctx, time.Second) // a lost disk, same identity
//	c.WaitRebuilt(ctx, c.Node("n3"), 2*time.Minute) // its status shows nothing left to receive
//	c.Restore(ctx)                         // heal, resume, restart
//	took, err := c.Settle(ctx, 3*time.Minute)
//	final := c.FinalState(ctx, keys, err, took)
//
// It needs root, ip (iproute2), iptables and iptables-restore; CheckTools
// says what is missing. Every wait is bounded by a deadline, and dhtd
// processes die with the harness (Pdeathsig) even when it is killed.
//
// Concurrency: Cluster, Network and Node are safe for concurrent use; the
// workload reads Targets while the nemesis changes the cluster.
package harness
