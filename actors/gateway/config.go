package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/resolve"
)

// Config configures the gateway. Listener, Coordinator, Metrics and Logger
// are required.
type Config struct {
	Listener       net.Listener
	Limits         Limits
	Defaults       quorum.Params
	Partitions     int
	RequestTimeout time.Duration
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	// MaxBodyBytes caps every request body (http.max_body_bytes): one
	// whose declared length is over it is refused with 413 body_too_large
	// before any of it is read, and one sent chunked stops being read at
	// the cap. On PUT /v1/kv the body is the value, and the tighter
	// Limits.MaxValueBytes applies (config validation keeps it at or under
	// MaxBodyBytes): any value over it, however large, is 413
	// value_too_large, as it always was. Zero means no cap but the value's.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds a request's header block (http.max_header_bytes);
	// net/http answers a larger one 431 itself, before any handler runs.
	// Zero means net/http's default, 1 MiB.
	MaxHeaderBytes int
	// IdleTimeout closes a keep-alive connection idle this long
	// (http.idle_timeout); zero means ReadTimeout, as in net/http.
	IdleTimeout time.Duration
	// MaxConnections bounds the connections open at once on Listener
	// (http.max_connections). Past it, new connections wait in the
	// kernel's listen backlog until one closes, rather than being accepted
	// and starved. Zero means no bound. It does not apply to
	// MetricsListener.
	MaxConnections int
	// MetricsListener, when set, serves /metrics, /healthz and /readyz on
	// a listener of its own over plain HTTP (http.metrics_listen), and
	// /metrics is then no longer served on Listener (the probes stay on
	// both). The node opens it; the gateway serves it once its actor
	// starts and closes it on Shutdown, as it does Listener.
	MetricsListener net.Listener
	// TLSConfig, when set, serves HTTPS on Listener: the client API, the
	// admin API, the probes, and /metrics unless MetricsListener is set. It
	// must carry the certificate (GetCertificate, Certificates or
	// GetConfigForClient); the node sets it from the http.tls files with
	// certs.Store.HTTPServerConfig, which also requires client
	// certificates when http.tls.client_ca_file is set, and closes that
	// store only after Shutdown has returned. HTTP/2 is offered alongside
	// HTTP/1.1. A plain-HTTP request on the TLS port gets net/http's own
	// 400 "Client sent an HTTP request to an HTTPS server".
	TLSConfig *tls.Config
	// ContextSecret keys the MAC of the causal-context tokens
	// (security.context_secret); PreviousContextSecret is still accepted
	// on tokens clients send back, for a rotation
	// (security.previous_context_secret). Without ContextSecret, tokens are
	// checksummed but forgeable. See wire.ContextCodec.
	ContextSecret         []byte
	PreviousContextSecret []byte
	// ClientToken, when set, is required as a bearer token on /v1/kv.
	ClientToken string
	// AdminToken, when set, is required as a bearer token on /admin.
	AdminToken string
	// ListingForClients lets ClientToken list keys (GET /v1/kv?prefix=,
	// http.listing_for_clients); otherwise listing takes AdminToken.
	ListingForClients bool
	// Self is this node's id: key listing asks its own replica of a
	// partition first, which costs no network hop.
	Self string
	// Pprof serves net/http/pprof under /debug/pprof/, guarded by
	// AdminToken.
	Pprof bool
	// Cluster is what the admin API shows of the cluster.
	Cluster ClusterView
	// Admin carries out the admin API's ownership changes (join,
	// decommission, force-remove); nil answers them 503, as a nil Cluster
	// does the read-only endpoints.
	Admin ClusterAdmin
	// Events is the node's event hub, streamed by GET /admin/events; nil
	// answers it 503.
	Events *events.Bus
	// EventsKeepalive is how often an idle event stream sends a comment, so
	// that proxies and load balancers do not close it as idle; zero means
	// DefaultEventsKeepalive.
	EventsKeepalive time.Duration
	// Ready reports why the node cannot serve yet (nil when it can); /readyz
	// shows it.
	Ready func() error
	// RingStale reports why this node's ring may be older than the
	// cluster's (nil when it is not): it restarted with the ring it had
	// stored and has not yet merged a live peer's. Key-value requests are
	// refused meanwhile, since writes sent to the owners of an old ring
	// can miss the replicas that reads later ask. Nil: never stale.
	RingStale func() error
	// Backup writes a backup of the node's stored objects to w, for GET
	// /admin/backup; nil answers it 503.
	Backup      func(ctx context.Context, w io.Writer) error
	Coordinator coordinator.Config
	// Resolver, when set, resolves the siblings of a read before the
	// reply (package resolve); nil serves every sibling.
	Resolver *resolve.Selector
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
}

// FromConfig returns the gateway's settings that come from the node's
// config: limits, quorum defaults, the partition count, timeouts, tokens,
// the HTTP listener's bounds, the context secrets, and the coordinators'
// settings (coordinator.FromConfig). The node fills in what exists only at
// run time: the listeners and TLS configuration, the cluster view and
// admin, the event hub, readiness, the coordinators' router, metrics,
// dispatcher and logger, the resolver, the metrics and the logger.
func FromConfig(c config.Config) Config {
	return Config{
		Limits: Limits{MaxKeyBytes: c.Limits.MaxKeyBytes, MaxValueBytes: c.Limits.MaxValueBytes, MaxSiblings: c.Limits.MaxSiblings},
		Defaults: quorum.Params{
			N: c.Replication.N, R: c.Replication.R, W: c.Replication.W, PR: c.Replication.PR, PW: c.Replication.PW,
		},
		Partitions:            c.Ring.Partitions,
		RequestTimeout:        c.Replication.RequestTimeout,
		ReadTimeout:           c.HTTP.ReadTimeout,
		WriteTimeout:          c.HTTP.WriteTimeout,
		MaxBodyBytes:          c.HTTP.MaxBodyBytes,
		MaxHeaderBytes:        c.HTTP.MaxHeaderBytes,
		IdleTimeout:           c.HTTP.IdleTimeout,
		MaxConnections:        c.HTTP.MaxConnections,
		ContextSecret:         []byte(c.Security.ContextSecret),
		PreviousContextSecret: []byte(c.Security.PreviousContextSecret),
		ClientToken:           c.HTTP.ClientToken,
		AdminToken:            c.HTTP.AdminToken,
		Pprof:                 c.HTTP.Pprof,
		ListingForClients:     c.HTTP.ListingForClients,
		Coordinator:           coordinator.FromConfig(c),
	}
}
