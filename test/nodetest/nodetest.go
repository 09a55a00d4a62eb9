// Package nodetest gives in-process tests a node configuration that is safe
// to run many times at once: every listener on a loopback port of its own,
// so test packages running in parallel (and a `make run` cluster on the
// default ports) never collide.
package nodetest

import (
	"net"
	"strconv"
	"testing"

	"github.com/dhtkv/dht/config"
)

// Config returns config.Default() for a standalone node named id (no gossip
// or remote listeners), with N=R=W=1 and the memory engine. Callers adjust
// what they test.
//
// Standalone matters beyond port clashes: protoactor's remote sets gRPC's
// global logger on every start, which the race detector flags when several
// nodes run in one test process. Multi-node tests live in test/cluster.
func Config(t testing.TB, id string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Node.ID = id
	cfg.Node.DataDir = t.TempDir()
	cfg.Storage.Engine = "memory"
	cfg.Replication.N, cfg.Replication.R, cfg.Replication.W = 1, 1, 1
	cfg.Cluster.GossipListen, cfg.Cluster.RemoteListen = "", ""
	return cfg
}

// FreePort returns a loopback port that was free for both TCP and UDP a
// moment ago (serf gossips on both).
func FreePort(t testing.TB) int {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("nodetest: no free TCP port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = ln.Close()
		if err == nil {
			_ = udp.Close()
			return port
		}
	}
	t.Fatal("nodetest: no port free for both TCP and UDP after 50 tries")
	return 0
}
