package node_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/test/nodetest"
)

// TestStart_RemotePortTakenIsAnError: protoactor panics when its remote
// cannot listen. Start turns that into an error naming the key, and must
// not then shut down the remote that never started (which panicked on a
// nil gRPC server).
func TestStart_RemotePortTakenIsAnError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := nodetest.Config(t, "n1")
	cfg.Cluster.RemoteListen = taken.Addr().String()
	cfg.Cluster.GossipListen = "127.0.0.1:0"
	n, err := node.Start(node.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("Start succeeded on a remote port that is taken")
	}
	if n != nil {
		t.Error("Start returned a node with its error")
	}
	if !strings.Contains(err.Error(), "cluster.remote_listen") {
		t.Errorf("Start = %v, want an error naming cluster.remote_listen", err)
	}
}
