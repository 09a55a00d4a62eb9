// Package nodetest gives in-process tests a node configuration that is safe
// to run many times at once: every listener on a loopback port of its own,
// so test packages running in parallel (and a `make run` cluster on the
// default ports) never collide.
package nodetest

import (
	"testing"

	"github.com/dhtkv/dht/config"
)

// Config returns config.Default() for a standalone node named id (no gossip
// or remote listeners), with N=R=W=1 and the memory engine. Callers adjust
// what they test.
//
// Standalone matters beyond port clashes: protoactor's remote sets gRPC's
// global logger on every start, which the race detector flags when several
// nodes run in one test process. Multi-node tests live in test/cluster,
// whose Main leaves that one race out.
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
