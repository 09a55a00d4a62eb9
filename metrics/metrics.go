package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dhtkv/dht/buildinfo"
)

// Metrics are the node's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts client requests by operation and HTTP status code.
	Requests *prometheus.CounterVec
	// RequestDuration observes client request latency by operation.
	RequestDuration *prometheus.HistogramVec
	// VnodeOps counts vnode operations by kind (put, get, merge) and result.
	VnodeOps *prometheus.CounterVec
	// ReadRepairs counts replicas repaired after a read.
	ReadRepairs prometheus.Counter
	// CoordinatorHandovers counts writes handed to the next owner because
	// their coordinating replica did not answer by
	// replication.coordinate_timeout. A steady count means an owner is
	// stopped or hung and gossip has not (yet) marked it down.
	CoordinatorHandovers prometheus.Counter
	// Hints counts hint-queue events by result (stored, refused_full,
	// refused_storage, delivered).
	Hints *prometheus.CounterVec
	// HintsPending is the number of hints kept for each target node.
	HintsPending *prometheus.GaugeVec
	// Siblings observes the sibling count a write leaves, which shows how
	// much concurrency clients create.
	Siblings prometheus.Histogram
	// Resolutions counts siblings resolved on the server, by resolver and
	// path (read: the reply only; write: stored).
	Resolutions *prometheus.CounterVec
	// RequestOwners counts key-value requests by whether the node that
	// took them owns the key: owner="other" requests cross to an owner,
	// a hop a client that routes by the ring (client.WithRingRouting)
	// saves.
	RequestOwners *prometheus.CounterVec
	// ResolverFailures counts resolvers that panicked, failed or returned
	// an invalid resolution, by resolver, bucket, path and reason (panic,
	// error, invalid). Each one left the siblings unresolved; a rising
	// count means clients get siblings they were not expecting.
	ResolverFailures *prometheus.CounterVec
	// ListRequests counts key listing pages (GET /v1/kv?prefix=) by
	// result (ok, or the error code answered).
	ListRequests *prometheus.CounterVec
	// ListedKeys counts the keys key listings returned. Listing scans every
	// partition's keys: a steady rate here is load on every node.
	ListedKeys prometheus.Counter
}

// DefaultLatencyCeiling is the top latency bucket New uses unless told
// otherwise: the default replication.request_timeout.
const DefaultLatencyCeiling = 5 * time.Second

// New builds the metrics in a fresh registry that also holds the Go runtime
// and process collectors, and dht_build_info. Latency buckets reach
// DefaultLatencyCeiling; see NewWithLatencyCeiling.
func New() *Metrics { return NewWithLatencyCeiling(DefaultLatencyCeiling) }

// NewWithLatencyCeiling is New with latency buckets that reach ceiling,
// the node's request timeout: a request can take that long before it is
// answered 503, and a histogram whose top bucket stops short of it puts
// every slow request in +Inf, where no quantile can be read.
func NewWithLatencyCeiling(ceiling time.Duration) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "requests_total",
			Help: "Client requests by operation and HTTP status code.",
		}, []string{"op", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "dht", Name: "request_duration_seconds",
			Help:    "Client request latency by operation.",
			Buckets: LatencyBuckets(ceiling),
		}, []string{"op"}),
		RequestOwners: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "requests_owner_total",
			Help: "Key-value requests by whether this node owns the key (self), or sends it to an owner (other: a hop that a ring-routing client saves).",
		}, []string{"owner"}),
		VnodeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "vnode_operations_total",
			Help: "Vnode operations by kind and result.",
		}, []string{"kind", "result"}),
		ReadRepairs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "read_repairs_total",
			Help: "Replicas sent a merged object because a read found them stale or missing.",
		}),
		CoordinatorHandovers: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "coordinator_handovers_total",
			Help: "Writes handed to the next owner because their coordinating replica did not answer within replication.coordinate_timeout.",
		}),
		Hints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "hints_total",
			Help: "Hint queue events by result: stored, refused_full, refused_storage, delivered.",
		}, []string{"result"}),
		HintsPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "dht", Name: "hints_pending",
			Help: "Hints this node keeps, by the node they are meant for.",
		}, []string{"target"}),
		Siblings: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "dht", Name: "write_siblings",
			Help:    "Siblings a key holds after a client write.",
			Buckets: []float64{1, 2, 3, 4, 8, 16, 32, 64},
		}),
		Resolutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "resolutions_total",
			Help: "Sibling sets resolved on the server, by resolver and path (read or write).",
		}, []string{"resolver", "path"}),
		ResolverFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "resolver_failures_total",
			Help: "Resolvers that panicked, failed or returned an invalid resolution, leaving the siblings unresolved; by resolver, bucket, path and reason.",
		}, []string{"resolver", "bucket", "path", "reason"}),
		ListRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "list_requests_total",
			Help: "Key listing pages (GET /v1/kv?prefix=) by result: ok, or the error code answered.",
		}, []string{"result"}),
		ListedKeys: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "listed_keys_total",
			Help: "Keys returned by key listings.",
		}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Requests, m.RequestDuration, m.RequestOwners, m.VnodeOps, m.ReadRepairs, m.CoordinatorHandovers, m.Hints, m.HintsPending, m.Siblings,
		m.Resolutions, m.ResolverFailures, m.ListRequests, m.ListedKeys, buildInfoGauge(buildinfo.Read()),
	)
	return m
}

// LatencyBuckets doubles from 100µs until a bucket reaches ceiling (at
// least 1s), then stops: 100µs .. 6.6s for the default 5s request timeout.
func LatencyBuckets(ceiling time.Duration) []float64 {
	top := max(ceiling, time.Second).Seconds()
	var buckets []float64
	for b := 0.0001; ; b *= 2 {
		buckets = append(buckets, b)
		if b >= top {
			return buckets
		}
	}
}

// buildInfoGauge is dht_build_info: always 1, its labels saying what the
// node runs, so that a dashboard can count the versions in a cluster
// during a rolling upgrade and join them onto other series.
func buildInfoGauge(info buildinfo.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "dht", Name: "build_info",
		Help: "Always 1; the labels say what the node was built from: version, VCS commit and Go version.",
		ConstLabels: prometheus.Labels{
			"version": info.Version, "commit": info.Commit, "goversion": info.GoVersion,
		},
	})
	g.Set(1)
	return g
}
