package nodetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// handedOut holds every port FreePort or PickPort has returned in this
// process. A port is only checked free, not held, until the node binds it,
// so without this record two nodes created before either started (a seed
// and its peers, say) could be handed the same port: CI once saw a
// four-node test fail because its third node's gossip port was the first
// node's.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// FreePort returns a loopback port that was free for both TCP and UDP a
// moment ago (serf gossips on both) and that this process has not handed
// out before. It fails t when none is found.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// PickPort is FreePort for callers without a testing.TB.
//
// Ports are drawn at random from below the kernel's ephemeral range, which
// listeners on port 0 and outgoing connections take from. A port found free
// inside that range could be given to another node's remote listener (bound
// to port 0) or to a client connection before its own node binds it, and
// again while a node is down between a kill and a restart. Below it, only
// callers that name a port take one, and the random draw keeps test binaries
// running in parallel apart.
func PickPort() (int, error) {
	lo, hi := portRange()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = make(map[int]bool)
	}
	var last error
	for range 200 {
		port := lo + rand.IntN(hi-lo)
		if handedOut.ports[port] {
			continue
		}
		if err := bindBoth(port); err != nil {
			last = err
			continue
		}
		handedOut.ports[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("nodetest: no port in %d-%d free for both TCP and UDP after 200 tries (last: %v)", lo, hi-1, last)
}

// bindBoth binds port on 127.0.0.1 for TCP and for UDP, and releases both.
func bindBoth(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tl, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer tl.Close()
	ul, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	return ul.Close()
}

// portRange returns [lo, hi): the upper half of the ports below the kernel's
// ephemeral range (Linux's ip_local_port_range; 32768 when it cannot be
// read), and never below 1024.
func portRange() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 2048 {
				hi = v
			}
		}
	}
	return max(hi/2, 1024), hi
}
