package nodetest

import (
	"net"
	"strconv"
	"testing"
)

func TestConfig_IsAStandaloneMemoryNode(t *testing.T) {
	cfg := Config(t, "n1")
	if cfg.Node.ID != "n1" || cfg.Storage.Engine != "memory" {
		t.Fatalf("Config: node %q, engine %q; want n1, memory", cfg.Node.ID, cfg.Storage.Engine)
	}
	if !cfg.Standalone() {
		t.Fatalf("Config is not standalone: gossip %q, remote %q", cfg.Cluster.GossipListen, cfg.Cluster.RemoteListen)
	}
	if r := cfg.Replication; r.N != 1 || r.R != 1 || r.W != 1 {
		t.Fatalf("Config replication = %+v, want N=R=W=1", r)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Config does not validate: %v", err)
	}
}

func TestPickPort_NeverHandsOutAPortTwice(t *testing.T) {
	lo, hi := portRange()
	seen := map[int]bool{}
	for range 20 {
		port := FreePort(t)
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if port < lo || port >= hi {
			t.Fatalf("port %d outside [%d, %d), below the ephemeral range", port, lo, hi)
		}
		// Free for both protocols, as gossip needs.
		if err := bindBoth(port); err != nil {
			t.Fatalf("port %d not free: %v", port, err)
		}
	}
	// bindBoth, the check behind every pick, refuses a port in use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, text, _ := net.SplitHostPort(ln.Addr().String())
	held, _ := strconv.Atoi(text)
	if err := bindBoth(held); err == nil {
		t.Fatalf("bindBoth(%d) succeeded on a port in use", held)
	}
}

func TestPortRange_BelowTheEphemeralRange(t *testing.T) {
	lo, hi := portRange()
	if lo < 1024 || lo >= hi || hi > 65536 {
		t.Fatalf("portRange = [%d, %d)", lo, hi)
	}
}
