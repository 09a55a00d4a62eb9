package process_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/nodetest"
	"github.com/dhtkv/dht/test/process"
)

// TestCluster_NodesThatSeedEachOtherFormOneRingAndAWipedOneRejoins: three
// nodes started together, each naming the other two as seeds (as `make
// run` and the chart's pods do), form one ring of three owners. A node
// among them whose data is wiped rejoins that ring and is rebuilt (a node
// with no seeds would start a ring of its own): every node agrees on the
// three owners after its restart, and every key written before the wipe
// reads back through it at r=1.
func TestCluster_NodesThatSeedEachOtherFormOneRingAndAWipedOneRejoins(t *testing.T) {
	const keys = 60
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = nodetest.FreePort(t)
	}
	nodes := make([]*process.Node, len(ports))
	for i := range nodes {
		var seeds []string
		for j, p := range ports {
			if j != i {
				seeds = append(seeds, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			}
		}
		nodes[i] = process.Launch(t, process.Options{ID: fmt.Sprintf("s%d", i+1), GossipPort: ports[i],
			Args: clusterArgs(strings.Join(seeds, ","))})
	}
	for _, n := range nodes {
		if err := n.WaitReady(60 * time.Second); err != nil {
			t.Fatalf("%s: %v", n.ID(), err)
		}
	}
	before := waitSameRing(t, nodes, 3, 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range keys {
		key := fmt.Sprintf("seeded-%d", i)
		if _, err := nodes[1].Client().Put(ctx, key, []byte(key), &client.WriteOptions{W: 3}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}

	wiped := nodes[0]
	wiped.Kill()
	if err := os.RemoveAll(wiped.DataDir()); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	wiped.Restart()
	after := waitSameRing(t, nodes, 3, 60*time.Second)
	if after.Version < before.Version {
		t.Fatalf("ring version %d after the wipe, %d before: the wiped node's ring won", after.Version, before.Version)
	}
	var missing []string
	for i := range keys {
		key := fmt.Sprintf("seeded-%d", i)
		obj, err := wiped.Client().Get(ctx, key, &client.ReadOptions{R: 1})
		switch {
		case err != nil:
			missing = append(missing, key+": "+err.Error())
		case !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != key:
			missing = append(missing, fmt.Sprintf("%s: found=%v %+v", key, obj.Found, obj.Siblings))
		}
	}
	t.Logf("booted seeding each other: ring version %d, 3 owners; %s wiped, ready again after %v, ring version %d; %d of %d keys read back through it at r=1",
		before.Version, wiped.ID(), time.Since(began).Round(time.Millisecond), after.Version, keys-len(missing), keys)
	if len(missing) > 0 {
		t.Log(wiped.Log())
		t.Fatalf("%d keys not read back through the wiped node, e.g. %s", len(missing), missing[0])
	}
}
