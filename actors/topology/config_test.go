package topology

import (
	"reflect"
	"testing"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/config"
)

func TestFromConfig_FillsWhatTheConfigDecides(t *testing.T) {
	c := config.Default()
	c.Node.ID = "n1"
	c.Cluster.Name = "prod"
	c.Cluster.Zone = "z2"
	c.Ring.Partitions = 512
	c.Replication.N = 5
	for _, tc := range []struct {
		name   string
		seeds  string
		seeded bool
	}{
		{"without seeds: starts its own cluster", "", false},
		{"with seeds: waits for the ring", "10.0.0.1:7946,10.0.0.2:7946", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Cluster.Seeds = tc.seeds
			got := FromConfig(c)
			want := Config{
				Self:    membership.Member{ID: "n1", Zone: "z2", Cluster: "prod", Partitions: 512, N: 5},
				Cluster: "prod", Partitions: 512, N: 5,
				GossipInterval: DefaultGossipInterval, Seeded: tc.seeded,
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("FromConfig = %+v\nwant %+v", got, want)
			}
		})
	}
}
