// Package cluster runs a multi-node store inside one test process: N nodes,
// each a full node.Node (actors, serf membership, the topology actor, the
// protoactor remote and the HTTP gateway), talking to each other over
// loopback, so that cluster behaviour can be tested with -race and without
// building binaries. The multi-process suite (test/process) covers what only
// real processes show: kill -9, exit codes, flags and environment.
//
// It owns the nodes it starts, their data directories and listeners. A test
// uses it like this:
//
//	c := cluster.Start(t, 3) // n1..n3, waits until they agree on the ring
//	_, err := c.Client(1).Put(ctx, "k", []byte("v"), nil)
//	c.Kill(3)                                  // abrupt stop, no draining
//	c.WaitStatus(t, 3, client.MemberDown, 10*time.Second)
//	c.Restart(3)                               // same id, data, gossip port
//	c.WaitConverged(t, 30*time.Second)
//
// Nodes are numbered from 1, as their ids are ("n1".."nN"). Each node
// listens on 127.0.0.1 only: HTTP and the actor remote on ports the kernel
// picks, gossip (TCP and UDP on the same port, as memberlist needs) on a
// port found free beforehand, below the kernel's ephemeral range so that no
// port-0 listener or outgoing connection takes it meanwhile, and kept for
// the node's life, so a restarted node comes back where its peers expect
// it. A restarted node gets its old HTTP port back when it is still free.
// Nodes 2..N seed from node 1; a restarted node seeds from every other
// running node, so that node 1 can come back too.
//
// Defaults are chosen for speed: 64 partitions, n=3 r=2 w=2, badger in a
// per-node t.TempDir() (WithMemoryStorage for the memory engine), and
// node.Options.FastGossip, which makes failure detection sub-second.
// WithClock gives every node a clock the test advances (testutil.Clock),
// so that values written with a TTL expire without the test sleeping.
//
// Under -race, a package that starts clusters runs its tests through Main,
// from its TestMain: each node's protoactor remote writes gRPC's global
// logger as it starts, a race inside the libraries that Main's suppressions
// (race.supp) leave out; every other race is reported.
//
// Every wait retries a check until a deadline and fails the test with the
// last reason the check gave; nothing sleeps for a fixed time. Each node
// logs to its own in-memory buffer; when the test has failed, every buffer
// is printed, so a failure shows what each node saw. All nodes still
// running are stopped when the test ends.
//
// Concurrency: Start, Kill, Restart and the Wait methods are for the test's
// goroutine. Client, Node, ID and HTTPAddr may be called from any goroutine,
// and the *client.Client they return is safe for concurrent use.
package cluster
