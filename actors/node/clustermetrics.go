package node

import (
	"sync"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	gometricsprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/persistence"
)

// clusterCollector reports, at each scrape, what the node's view of the
// cluster says: the metrics an operator's dashboard and alerts are built
// on (members by status, partitions short of replicas, the ring version)
// and the storage engine's size. Computed from the latest topology
// snapshot when scraped, so nothing on the request path updates them.
type clusterCollector struct {
	view    *topology.View
	members func() []memberState
	n       int
	engine  persistence.Engine

	membersDesc, underDesc, versionDesc, diskDesc, compactionsDesc, compactionBytesDesc *prometheus.Desc
}

// memberState is a ring member's id and status as `dhtctl members` shows
// it.
type memberState struct{ id, status string }

// memberStatuses lists what dht_members counts, so that a status with no
// member reads 0 rather than vanishing from a dashboard.
var memberStatuses = []string{"alive", "down", "leaving", "left", "removed"}

func newClusterCollector(view *topology.View, members func() []memberState, n int, engine persistence.Engine) *clusterCollector {
	return &clusterCollector{
		view: view, members: members, n: n, engine: engine,
		membersDesc: prometheus.NewDesc("dht_members", "Members of the ring and nodes gossip knows, by status as dhtctl members shows it (alive, down, leaving, left, removed).",
			[]string{"status"}, nil),
		underDesc: prometheus.NewDesc("dht_partitions_under_replicated",
			"Partitions with fewer than N live owners that serve reads (down owners, and owners still rebuilding, missing), as this node's ring and gossip see them.", nil, nil),
		versionDesc: prometheus.NewDesc("dht_ring_version",
			"The version of the ring this node routes by: the one dhtctl ring, the admin API and ring-change events give. Nodes that agree show the same.", nil, nil),
		diskDesc: prometheus.NewDesc("dht_storage_disk_bytes",
			"The storage engine's size on disk (badger: LSM tree and value log, as badger last measured them, every minute; pebble: its files; memory: the bytes held).", nil, nil),
		compactionsDesc: prometheus.NewDesc("dht_storage_compactions_total",
			"Compactions the storage engine ran since the node started (pebble; badger does not count them).", nil, nil),
		compactionBytesDesc: prometheus.NewDesc("dht_storage_compaction_bytes_total",
			"Bytes the storage engine's compactions wrote (pebble: since the node started; badger: since the process started).", nil, nil),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.membersDesc, c.underDesc, c.versionDesc, c.diskDesc, c.compactionsDesc, c.compactionBytesDesc} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	if c.members != nil {
		counts := map[string]int{}
		for _, s := range memberStatuses {
			counts[s] = 0
		}
		for _, m := range c.members() {
			counts[m.status]++
		}
		for status, count := range counts {
			ch <- prometheus.MustNewConstMetric(c.membersDesc, prometheus.GaugeValue, float64(count), status)
		}
	}
	if snap := c.view.Load(); snap != nil {
		ch <- prometheus.MustNewConstMetric(c.underDesc, prometheus.GaugeValue, float64(underReplicated(snap, c.n)))
		ch <- prometheus.MustNewConstMetric(c.versionDesc, prometheus.GaugeValue, float64(snap.State.Version()))
	}
	if r, ok := c.engine.(persistence.StatsReporter); ok {
		st := r.Stats()
		ch <- prometheus.MustNewConstMetric(c.diskDesc, prometheus.GaugeValue, float64(st.DiskBytes))
		if st.HasCompactions {
			ch <- prometheus.MustNewConstMetric(c.compactionsDesc, prometheus.CounterValue, float64(st.Compactions))
		}
		if st.HasCompactionBytes {
			ch <- prometheus.MustNewConstMetric(c.compactionBytesDesc, prometheus.CounterValue, float64(st.CompactionBytes))
		}
	}
}

// underReplicated counts the partitions whose live owners serving reads
// number fewer than n.
func underReplicated(snap *topology.Snapshot, n int) int {
	under := 0
	for p := range snap.Plan.Slots {
		if len(snap.Plan.Route(uint32(p), snap.Alive, false).Owners) < n {
			under++
		}
	}
	return under
}

// gossipMetrics is the sink serf and memberlist report to, exported to
// Prometheus as dht_serf_* and dht_memberlist_* (member joins and
// failures, probe and gossip timings, queue depths). The two libraries
// write to go-metrics' process-wide global, so there is one sink per
// process, registered with every node's registry; in a process that runs
// several nodes (tests) each series carries the node's id as a label.
var gossipMetrics = sync.OnceValue(func() *gometricsprom.PrometheusSink {
	// Its own registry: the sink registers itself on creation, and each
	// node's registry adds it as a collector.
	sink, err := gometricsprom.NewPrometheusSinkFrom(gometricsprom.PrometheusOpts{
		Registerer: prometheus.NewRegistry(), Expiration: 5 * time.Minute, Name: "dht_gossip",
	})
	if err != nil {
		return nil
	}
	conf := gometrics.DefaultConfig("dht")
	conf.EnableHostname, conf.EnableRuntimeMetrics, conf.EnableServiceLabel = false, false, false
	if _, err := gometrics.NewGlobal(conf, sink); err != nil {
		return nil
	}
	return sink
})
