// Package process runs real dhtd processes for multi-process and fault tests:
// it builds the daemon once per test binary, starts nodes on loopback
// addresses with their own data directories, waits for readiness, and kills,
// stops and restarts them.
//
// It owns the dhtd binary it builds and every process it starts. A test
// uses it like this:
//
//	func TestMain(m *testing.M) { process.Main(m) } // removes the build
//
//	func TestSomething(t *testing.T) {
//		n := process.Start(t, process.Options{ID: "n1"})
//		c := n.Client()
//		// … use c …
//		n.Kill()    // SIGKILL: a crash
//		n.Restart() // same id and data directory, a new port
//		c = n.Client()
//	}
//
// Each start writes dhtd's stderr (and stdout) to its own file in the
// test's temporary directory. When the test fails, the tail of every log of
// the node is printed. A process still running when the test ends is
// killed. When the test binary was built with -race, dhtd is built with
// -race too, and a log that reports a data race, a panic or a fatal error
// fails the test. Start and Launch fail the test if the build fails; Build
// returns the error instead.
//
// Nodes are single-node clusters by default (replication n = r = w = 1),
// which is what a durability or lifecycle test of one process needs; extra
// flags in Options.Args come last and so override the defaults.
//
// Every wait is bounded by a deadline; none sleeps for a fixed time to let
// something happen. Nodes listen on 127.0.0.1 only.
//
// Concurrency: a Node's methods are for the test goroutine. Addr, URL and
// Client only read, so other goroutines may call them too, but not while
// Restart runs. The *client.Client that Client returns is safe for
// concurrent use. Build and Binary are safe for concurrent use.
package process
