package topology

import (
	"time"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/config"
)

// DefaultGossipInterval is how often a node gossips its ring to one peer.
// It is not a config key: only in-process test clusters shorten it.
const DefaultGossipInterval = time.Second

// FromConfig returns the actor's configuration as the node's config
// decides it: this node's id, zone and ring shape, the cluster's name,
// whether it has seeds, and the default gossip interval. The node fills the
// runtime rest: Self's addresses, Engine, View, Members, PeerPID,
// Broadcast, OnEvent and Logger (and a shorter GossipInterval for fast
// test clusters).
func FromConfig(c config.Config) Config {
	return Config{
		Self: membership.Member{
			ID: c.Node.ID, Zone: c.Cluster.Zone,
			Cluster: c.Cluster.Name, Partitions: c.Ring.Partitions, N: c.Replication.N,
		},
		Cluster:        c.Cluster.Name,
		Partitions:     c.Ring.Partitions,
		N:              c.Replication.N,
		GossipInterval: DefaultGossipInterval,
		Seeded:         len(c.SeedList()) > 0,
	}
}
