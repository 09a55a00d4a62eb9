package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dhtkv/dht/resolve"
)

// Config is the whole configuration of one node. It is a plain value: copy
// it freely, and treat it as read-only once Load has returned it.
type Config struct {
	Node        Node        `koanf:"node"`
	Cluster     Cluster     `koanf:"cluster"`
	HTTP        HTTP        `koanf:"http"`
	Ring        Ring        `koanf:"ring"`
	Replication Replication `koanf:"replication"`
	Storage     Storage     `koanf:"storage"`
	Handoff     Handoff     `koanf:"handoff"`
	Entropy     Entropy     `koanf:"entropy"`
	Limits      Limits      `koanf:"limits"`
	Security    Security    `koanf:"security"`
	Resolution  Resolution  `koanf:"resolution"`
	Log         Log         `koanf:"log"`
}

// Node identifies this node and says where it keeps its data.
type Node struct {
	// ID is the node's unique, stable identity in the cluster. Load fills an
	// empty ID with the host name, which is stable for a StatefulSet pod;
	// Default leaves it empty so that it stays pure.
	ID string `koanf:"id"`
	// DataDir holds the storage engine's files. Required by the on-disk
	// engines, badger and pebble.
	DataDir string `koanf:"data_dir"`
	// MemoryLimitMiB is a soft limit on the Go runtime's memory, in MiB
	// (0 = none, or the GOMEMLIMIT environment variable if set). Near it
	// the garbage collector runs more often instead of letting the heap
	// grow, which keeps a node inside a container's memory limit; pages
	// of memory-mapped files (the storage engine's) are not counted.
	MemoryLimitMiB int `koanf:"memory_limit_mib"`
}

// Cluster configures how the node finds and talks to its peers: serf gossip
// for membership, protoactor remote (gRPC) for requests between nodes.
type Cluster struct {
	// Name is the cluster's name. Nodes refuse peers that announce another
	// name, so two clusters sharing a network cannot merge by accident.
	Name string `koanf:"name"`
	// Zone is this node's failure zone ("" = none). Claim puts a key's
	// replicas in distinct zones when there are at least replication.n.
	Zone string `koanf:"zone"`
	// Seeds lists gossip addresses (host:port, comma-separated) of nodes to
	// join at start. Empty starts a new cluster. In Kubernetes these are the
	// headless service's pod DNS names.
	Seeds string `koanf:"seeds"`
	// GossipListen is the host:port serf gossips on (TCP and UDP).
	GossipListen string `koanf:"gossip_listen"`
	// GossipAdvertise is the host:port peers use to gossip with this node
	// ("" = gossip_listen).
	GossipAdvertise string `koanf:"gossip_advertise"`
	// GossipKey encrypts gossip: base64 of 16, 24 or 32 bytes ("" = none).
	// Every node must have the same key.
	GossipKey string `koanf:"gossip_key"`
	// RemoteListen is the host:port of the actor remote (gRPC) server that
	// carries requests between nodes.
	RemoteListen string `koanf:"remote_listen"`
	// RemoteAdvertise is the host:port peers use to reach RemoteListen
	// ("" = remote_listen).
	RemoteAdvertise string `koanf:"remote_advertise"`
	// HTTPAdvertise is the host:port of this node's HTTP API that peers and
	// dhtctl are told ("" = http.listen).
	HTTPAdvertise string `koanf:"http_advertise"`
	// ReadyAgreementWait bounds how long /readyz waits, once the node is
	// otherwise ready, for every live peer to announce the ring this node
	// routes by. After it the node is ready all the same, and logs which
	// peers announce another ring. It also bounds how long a partition
	// transfer into this node waits for the same agreement before it
	// begins (transfer.Config.AgreementWait).
	ReadyAgreementWait time.Duration `koanf:"ready_agreement_wait"`
	// TLS is mutual TLS between nodes on the remote port. Off when unset,
	// which is safe only on a network no one else can reach.
	TLS ClusterTLS `koanf:"tls"`
}

// ClusterTLS names the files of mutual TLS between nodes (PEM). Each node's
// certificate carries its node id as its subject common name, is signed by
// the cluster CA, and serves as both server and client certificate. The
// files are read again when they change, so certificates rotate without a
// restart. All three are set, or none.
type ClusterTLS struct {
	// CAFile is the cluster CA's certificate (or a bundle of them): peers
	// must present a certificate it signed.
	CAFile string `koanf:"ca_file"`
	// CertFile is this node's certificate (chain), with its node id as CN.
	CertFile string `koanf:"cert_file"`
	// KeyFile is the private key of CertFile.
	KeyFile string `koanf:"key_file"`
}

// Enabled reports whether mutual TLS between nodes is configured.
func (t ClusterTLS) Enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// HTTPTLS names the files of TLS on the HTTP API (PEM), read again when
// they change.
type HTTPTLS struct {
	// CertFile is the server certificate (chain) clients verify.
	CertFile string `koanf:"cert_file"`
	// KeyFile is the private key of CertFile.
	KeyFile string `koanf:"key_file"`
	// ClientCAFile, when set, requires every client to present a
	// certificate this CA signed, on top of any bearer token.
	ClientCAFile string `koanf:"client_ca_file"`
}

// Enabled reports whether the HTTP API serves TLS.
func (t HTTPTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// HTTP configures the gateway's listener: the client API, the admin API,
// /metrics and the probes.
type HTTP struct {
	// Listen is the host:port to listen on.
	Listen string `koanf:"listen"`
	// MaxBodyBytes caps a request body. It must be at least
	// Limits.MaxValueBytes, or the largest legal value could not be sent.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// ReadTimeout bounds reading a whole request.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds writing a response.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// ShutdownTimeout bounds the graceful drain of open requests.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// LameDuck is how long a node keeps serving after SIGTERM with
	// /readyz answering 503, before it leaves gossip and drains: the time
	// a load balancer (Kubernetes' endpoints) needs to stop sending it
	// new requests. 0 stops at once.
	LameDuck time.Duration `koanf:"lame_duck"`
	// ClientToken, when set, is the bearer token required on /v1/kv.
	ClientToken string `koanf:"client_token"`
	// AdminToken, when set, is the bearer token required on /admin.
	AdminToken string `koanf:"admin_token"`
	// Pprof serves Go's profiler under /debug/pprof/, guarded by the
	// admin token. Off by default: profiles show internals and cost CPU.
	Pprof bool `koanf:"pprof"`
	// ListingForClients lets the client token list keys (GET /v1/kv?prefix=).
	// Off by default, so listing takes the admin token: a full listing
	// touches every partition and scans every key, a cost an operator
	// should choose to hand to clients.
	ListingForClients bool `koanf:"listing_for_clients"`
	// MaxHeaderBytes bounds a request's header block.
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// IdleTimeout closes a keep-alive connection idle for this long.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// MaxConnections bounds the open client connections; past it, new
	// connections wait in the kernel's backlog until one closes (0 = no
	// bound).
	MaxConnections int `koanf:"max_connections"`
	// MetricsListen, when set, serves /metrics (and the probes) on a
	// listener of its own, and no longer on Listen: scrapers reach it
	// without reaching the client API. Plain HTTP.
	MetricsListen string `koanf:"metrics_listen"`
	// TLS serves the HTTP API over TLS.
	TLS HTTPTLS `koanf:"tls"`
}

// Ring configures partitioning of the key space.
type Ring struct {
	// Partitions is Q, the number of equal partitions of the hash ring. It
	// must be a power of two from 8 to 65536 and cannot change once the
	// cluster has started, since every stored key lives under its
	// partition's prefix.
	Partitions int `koanf:"partitions"`
}

// Replication holds the default quorum parameters. Requests may override
// R, W, PR and PW per call, within the same bounds.
type Replication struct {
	// N is the number of replicas of each key.
	N int `koanf:"n"`
	// R is the number of replies a read waits for, 1..N.
	R int `koanf:"r"`
	// W is the number of acknowledgements a write waits for, 1..N.
	W int `koanf:"w"`
	// PR is how many of the R replies must come from primary replicas, 0..R.
	PR int `koanf:"pr"`
	// PW is how many of the W acknowledgements must come from primary
	// replicas, 0..W.
	PW int `koanf:"pw"`
	// RequestTimeout bounds a coordinated request; past it a write's outcome
	// is indeterminate.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	// CoordinateTimeout is how long a write waits for its coordinating
	// replica's first answer before handing the write to the next owner
	// (with the same client context and write id: if both coordinations
	// land, the two copies are one write wherever they meet; see
	// internal/dvv/writeid.go). It bounds how long a stopped coordinator
	// that gossip has not marked down yet stalls a write. It must be below
	// RequestTimeout; zero never hands over. The default is 1s.
	CoordinateTimeout time.Duration `koanf:"coordinate_timeout"`
}

// Storage selects and tunes the local storage engine.
type Storage struct {
	// Engine is "badger" (on disk, the default), "pebble" (on disk) or
	// "memory" (development and tests). docs/engines.md compares them.
	Engine string `koanf:"engine"`
	// SyncWrites makes every acknowledged write survive a machine crash, not
	// only a process crash, at the cost of an fsync per write.
	SyncWrites bool `koanf:"sync_writes"`
	// Profile is the on-disk engine's memory profile: "small" (tuned for a
	// small pod) or "default" (the engine library's own defaults).
	Profile string `koanf:"profile"`
	// ValueLogGCInterval is how often badger's value log is garbage
	// collected; 0 disables it. Pebble and memory have no value log.
	ValueLogGCInterval time.Duration `koanf:"value_log_gc_interval"`
}

// Handoff configures hinted handoff: writes meant for a replica that is
// down are kept as hints by another node and delivered when it returns.
type Handoff struct {
	// Hints turns hinted handoff on. Off, a write to a down replica is only
	// repaired later by read repair or anti-entropy.
	Hints bool `koanf:"hints"`
	// MaxHints bounds the hints this node keeps; past it, a hint is refused
	// and does not count toward W.
	MaxHints int `koanf:"max_hints"`
	// MaxHintBytes bounds the bytes of the hints this node keeps.
	MaxHintBytes int64 `koanf:"max_hint_bytes"`
	// DeliverInterval is how often pending hints are offered to their
	// targets that are alive again.
	DeliverInterval time.Duration `koanf:"deliver_interval"`
	// TransferConcurrency bounds the partition transfers of ownership
	// handoff this node runs at once, receiving and draining together.
	TransferConcurrency int `koanf:"transfer_concurrency"`
	// TransferBatchKeys and TransferBatchBytes bound one batch of a
	// transfer; a key larger than TransferBatchBytes still travels alone.
	TransferBatchKeys  int `koanf:"transfer_batch_keys"`
	TransferBatchBytes int `koanf:"transfer_batch_bytes"`
	// DropDelay is how long a node waits, once the ring says it no longer
	// has a part in a partition, before it hands its copy to the serving
	// replicas and drops it: long enough for every node to route by the
	// new ring.
	DropDelay time.Duration `koanf:"drop_delay"`
}

// Entropy configures active anti-entropy: replicas of a partition compare
// Merkle trees and exchange only the keys that differ.
type Entropy struct {
	// Enabled turns the exchange scheduler on.
	Enabled bool `koanf:"enabled"`
	// Interval is the rate limit: the least pause between the starts of
	// two exchanges this node runs, back-to-back repairs included. One runs
	// at a time, which bounds the load on foreground traffic.
	Interval time.Duration `koanf:"interval"`
	// SweepInterval is the bound: every partition this node holds is
	// exchanged with each live co-owner at least once per SweepInterval.
	// Interval must fit the pairs a node may hold, ring.partitions ×
	// (replication.n − 1), in it; routine exchanges are paced to sweep in
	// half of it, leaving the rest for repairs and retries, which needs an
	// Interval of at most half that.
	SweepInterval time.Duration `koanf:"sweep_interval"`
	// MaxKeysPerExchange bounds the keys one exchange repairs; the rest wait
	// for the next.
	MaxKeysPerExchange int `koanf:"max_keys_per_exchange"`
	// TombstoneGrace is how long a delete's tombstone is kept at least.
	// After it, a tombstone is reaped once every primary holds it and no
	// node keeps a hint for the key.
	TombstoneGrace time.Duration `koanf:"tombstone_grace"`
}

// Limits bounds what clients may store. Handoff and repair are exempt, so
// that replicas can always converge.
type Limits struct {
	// MaxKeyBytes is the longest key, 1..65535.
	MaxKeyBytes int `koanf:"max_key_bytes"`
	// MaxValueBytes is the largest value, 1 byte..64 MiB.
	MaxValueBytes int `koanf:"max_value_bytes"`
	// MaxSiblings is the most siblings a key may hold: a client write that
	// would leave more is refused with 409.
	MaxSiblings int `koanf:"max_siblings"`
}

// Security holds the cluster's shared secrets beyond gossip and TLS.
type Security struct {
	// ContextSecret keys the MAC of the causal-context tokens the API hands
	// to clients, so that a client cannot forge causality: the same on
	// every node, at least 16 characters, from a Secret. Empty leaves
	// tokens checksummed but forgeable, with a warning at start.
	ContextSecret string `koanf:"context_secret"`
	// PreviousContextSecret is still accepted on tokens clients send back
	// (never used for new ones), for a rotation: set the old secret here
	// and a new ContextSecret on every node, then clear this once clients
	// have re-read their keys.
	PreviousContextSecret string `koanf:"previous_context_secret"`
}

// minSecretLen is the shortest context secret accepted.
const minSecretLen = 16

// Resolution configures server-side resolution of siblings (package
// resolve): which resolver applies to which keys, and whether it also
// runs on write. Resolvers are named: "siblings" and "lww" are built in;
// others are registered in Go by a program that embeds the node
// (node.Options.Resolvers), and naming an unregistered one stops the node at
// start.
type Resolution struct {
	// Default names the resolver of keys in no bucket. "siblings" (the
	// default) resolves nothing: the client receives every sibling.
	Default string `koanf:"default"`
	// OnWrite also resolves at the vnode coordinating a client write that
	// leaves more than one sibling, and stores the resolution. Off, only
	// reads resolve, and storage keeps every sibling.
	OnWrite bool `koanf:"on_write"`
	// Buckets assigns resolvers to key prefixes, as comma-separated
	// prefix=resolver pairs ("carts/=cart,sessions/=lww"); the longest
	// matching prefix wins. A prefix cannot hold a comma.
	Buckets string `koanf:"buckets"`
}

// Log configures the node's structured log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `koanf:"level"`
	// Format is json or text.
	Format string `koanf:"format"`
}

// The value sets of the string keys that take one of a few words.
var (
	engines    = []string{"badger", "memory", "pebble"}
	profiles   = []string{"small", "default"}
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "text"}

	// diskEngines are the engines that keep their files in node.data_dir.
	diskEngines = []string{"badger", "pebble"}
)

const (
	minPartitions = 8
	maxPartitions = 65536
	maxKeyBytes   = 65535
	maxValueBytes = 64 << 20
)

// minMemoryLimitMiB is the smallest node.memory_limit_mib accepted: a node's
// engine caches and memtables alone take more, so a lower soft limit would
// only make the garbage collector run continuously.
const minMemoryLimitMiB = 64

// Default returns the built-in configuration, the lowest layer of Load. It
// is pure (no host name, no environment), so it can seed tests and docs;
// Node.ID is therefore empty.
func Default() Config {
	return Config{
		Node: Node{
			DataDir: "./data",
		},
		Cluster: Cluster{
			Name:               "dht",
			GossipListen:       "127.0.0.1:7946",
			RemoteListen:       "127.0.0.1:7070",
			ReadyAgreementWait: 10 * time.Second,
		},
		HTTP: HTTP{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    2 << 20,
			ReadTimeout:     30 * time.Second,
			WriteTimeout:    30 * time.Second,
			ShutdownTimeout: 10 * time.Second,
			MaxHeaderBytes:  64 << 10,
			IdleTimeout:     2 * time.Minute,
			MaxConnections:  4096,
		},
		Ring: Ring{
			Partitions: 256,
		},
		Replication: Replication{
			N:                 3,
			R:                 2,
			W:                 2,
			RequestTimeout:    5 * time.Second,
			CoordinateTimeout: time.Second,
		},
		Storage: Storage{
			Engine:             "badger",
			Profile:            "small",
			ValueLogGCInterval: 5 * time.Minute,
		},
		Handoff: Handoff{
			Hints:           true,
			MaxHints:        100000,
			MaxHintBytes:    256 << 20,
			DeliverInterval: time.Second,

			TransferConcurrency: 2,
			TransferBatchKeys:   256,
			TransferBatchBytes:  1 << 20,
			DropDelay:           10 * time.Second,
		},
		Entropy: Entropy{
			Enabled:            true,
			Interval:           200 * time.Millisecond,
			SweepInterval:      10 * time.Minute,
			MaxKeysPerExchange: 1000,
			TombstoneGrace:     time.Hour,
		},
		Limits: Limits{
			MaxKeyBytes:   1024,
			MaxValueBytes: 1 << 20,
			MaxSiblings:   64,
		},
		Resolution: Resolution{
			Default: "siblings",
		},
		Log: Log{
			Level:  "info",
			Format: "json",
		},
	}
}

// Validate reports every problem in c at once, joined with errors.Join, so
// an operator fixes a bad config in one round rather than one key per
// restart. Each message starts with the key at fault.
//
// A check that compares two keys is skipped while the key it compares
// against is itself invalid, so that one mistake yields one message.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	between := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(key, "must be between %d and %d, got %d", lo, hi, v)
		}
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be a positive duration, got %s", d)
		}
	}
	oneOf := func(key, v string, set []string) {
		if !slices.Contains(set, v) {
			bad(key, "must be one of %s, got %q", quoteAll(set), v)
		}
	}
	// A token read from a file or a Secret often keeps its trailing newline;
	// such a token could never match an Authorization header, so every
	// request would be refused without an obvious reason.
	token := func(key, v string) {
		if v != strings.TrimSpace(v) {
			bad(key, "must not begin or end with white space (a trailing newline from a file or Secret?)")
		}
	}

	// node
	if slices.Contains(diskEngines, c.Storage.Engine) && c.Node.DataDir == "" {
		bad("node.data_dir", "must not be empty when storage.engine is %q", c.Storage.Engine)
	}
	if c.Node.MemoryLimitMiB < 0 {
		bad("node.memory_limit_mib", "must not be negative (0 means no limit)")
	} else if c.Node.MemoryLimitMiB > 0 && c.Node.MemoryLimitMiB < minMemoryLimitMiB {
		bad("node.memory_limit_mib", "must be 0 (no limit) or at least %d: below that the garbage collector would run without pause", minMemoryLimitMiB)
	}

	// cluster
	if c.Cluster.Name == "" {
		bad("cluster.name", "must not be empty")
	}
	for _, seed := range c.SeedList() {
		if _, _, err := net.SplitHostPort(seed); err != nil {
			bad("cluster.seeds", "each seed must be host:port, got %q", seed)
		}
	}
	switch {
	case c.Standalone():
	case c.Cluster.GossipListen == "" || c.Cluster.RemoteListen == "":
		bad("cluster.remote_listen", "and cluster.gossip_listen must both be set, or both empty for a standalone node")
	default:
		for key, v := range map[string]string{"cluster.gossip_listen": c.Cluster.GossipListen, "cluster.remote_listen": c.Cluster.RemoteListen} {
			if err := checkListen(v); err != nil {
				bad(key, "%v", err)
			}
		}
	}
	positive("cluster.ready_agreement_wait", c.Cluster.ReadyAgreementWait)
	if c.Standalone() && len(c.SeedList()) > 0 {
		bad("cluster.seeds", "must be empty for a standalone node (cluster.gossip_listen and cluster.remote_listen empty)")
	}
	for key, v := range map[string]string{
		"cluster.gossip_advertise": c.Cluster.GossipAdvertise,
		"cluster.remote_advertise": c.Cluster.RemoteAdvertise,
		"cluster.http_advertise":   c.Cluster.HTTPAdvertise,
	} {
		if v == "" {
			continue
		}
		if host, _, err := net.SplitHostPort(v); err != nil || host == "" {
			bad(key, "must be host:port with a host peers can reach, got %q", v)
		} else if err := checkListen(v); err != nil {
			bad(key, "%v", err)
		}
	}
	if k := c.Cluster.GossipKey; k != "" {
		if raw, err := base64.StdEncoding.DecodeString(k); err != nil || (len(raw) != 16 && len(raw) != 24 && len(raw) != 32) {
			bad("cluster.gossip_key", "must be base64 of 16, 24 or 32 bytes (e.g. from 'head -c32 /dev/urandom | base64')")
		}
	}

	// http
	if err := checkListen(c.HTTP.Listen); err != nil {
		bad("http.listen", "%v", err)
	}
	valueOK := c.Limits.MaxValueBytes >= 1 && c.Limits.MaxValueBytes <= maxValueBytes
	switch {
	case c.HTTP.MaxBodyBytes < 1:
		bad("http.max_body_bytes", "must be positive, got %d", c.HTTP.MaxBodyBytes)
	case valueOK && c.HTTP.MaxBodyBytes < int64(c.Limits.MaxValueBytes):
		bad("http.max_body_bytes", "must be at least limits.max_value_bytes (%d), got %d",
			c.Limits.MaxValueBytes, c.HTTP.MaxBodyBytes)
	}
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	if c.HTTP.LameDuck < 0 || c.HTTP.LameDuck > 10*time.Minute {
		bad("http.lame_duck", "must be between 0 (stop at once) and 10m, got %s", c.HTTP.LameDuck)
	}
	token("http.client_token", c.HTTP.ClientToken)
	token("http.admin_token", c.HTTP.AdminToken)
	// A context token alone may take 8 KiB (wire.MaxContextTokenBytes).
	between("http.max_header_bytes", c.HTTP.MaxHeaderBytes, 16<<10, 1<<20)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	if c.HTTP.MaxConnections < 0 {
		bad("http.max_connections", "must not be negative (0 means no bound), got %d", c.HTTP.MaxConnections)
	} else if c.HTTP.MaxConnections > 0 && c.HTTP.MaxConnections < 16 {
		bad("http.max_connections", "must be 0 (no bound) or at least 16, got %d", c.HTTP.MaxConnections)
	}
	if m := c.HTTP.MetricsListen; m != "" {
		if err := checkListen(m); err != nil {
			bad("http.metrics_listen", "%v", err)
		} else if m == c.HTTP.Listen {
			bad("http.metrics_listen", "must differ from http.listen (%q), or be empty to serve /metrics there", c.HTTP.Listen)
		}
	}
	if t := c.HTTP.TLS; t.Enabled() || t.ClientCAFile != "" {
		if t.CertFile == "" {
			bad("http.tls.cert_file", "must be set when http.tls.key_file or http.tls.client_ca_file is")
		}
		if t.KeyFile == "" {
			bad("http.tls.key_file", "must be set when http.tls.cert_file or http.tls.client_ca_file is")
		}
	}
	if t := c.Cluster.TLS; t.Enabled() {
		for _, kv := range [][2]string{{"cluster.tls.ca_file", t.CAFile}, {"cluster.tls.cert_file", t.CertFile}, {"cluster.tls.key_file", t.KeyFile}} {
			if kv[1] == "" {
				bad(kv[0], "must be set: mutual TLS between nodes needs cluster.tls.ca_file, cert_file and key_file together")
			}
		}
		if c.Standalone() {
			bad("cluster.tls.ca_file", "is set, but a standalone node (cluster.gossip_listen and cluster.remote_listen empty) has no peers")
		}
	}

	// security
	for _, kv := range [][2]string{{"security.context_secret", c.Security.ContextSecret}, {"security.previous_context_secret", c.Security.PreviousContextSecret}} {
		if kv[1] != "" && len(kv[1]) < minSecretLen {
			bad(kv[0], "must be at least %d characters (e.g. from 'head -c32 /dev/urandom | base64'), got %d", minSecretLen, len(kv[1]))
		}
		token(kv[0], kv[1])
	}
	if p := c.Security.PreviousContextSecret; p != "" {
		if c.Security.ContextSecret == "" {
			bad("security.previous_context_secret", "must be empty while security.context_secret is: it is accepted only during a rotation to a new secret")
		} else if p == c.Security.ContextSecret {
			bad("security.previous_context_secret", "must differ from security.context_secret")
		}
	}

	// ring
	if q := c.Ring.Partitions; q < minPartitions || q > maxPartitions || q&(q-1) != 0 {
		bad("ring.partitions", "must be a power of two from %d to %d, got %d", minPartitions, maxPartitions, q)
	}

	// replication
	r := c.Replication
	if r.N < 1 {
		bad("replication.n", "must be at least 1, got %d", r.N)
	} else {
		inN := func(key string, v int) bool {
			if v < 1 || v > r.N {
				bad(key, "must be between 1 and replication.n (%d), got %d", r.N, v)
				return false
			}
			return true
		}
		if inN("replication.r", r.R) && (r.PR < 0 || r.PR > r.R) {
			bad("replication.pr", "must be between 0 and replication.r (%d), got %d", r.R, r.PR)
		}
		if inN("replication.w", r.W) && (r.PW < 0 || r.PW > r.W) {
			bad("replication.pw", "must be between 0 and replication.w (%d), got %d", r.W, r.PW)
		}
	}
	positive("replication.request_timeout", r.RequestTimeout)
	if r.CoordinateTimeout < 0 {
		bad("replication.coordinate_timeout", "must be 0 (never hand a write over) or positive, got %s", r.CoordinateTimeout)
	}
	if r.CoordinateTimeout > 0 && r.RequestTimeout > 0 && r.CoordinateTimeout >= r.RequestTimeout {
		bad("replication.coordinate_timeout", "must be less than replication.request_timeout (%s), got %s: the write is handed to the next owner within the request's time (lower it, or 0 turns the handover off)",
			r.RequestTimeout, r.CoordinateTimeout)
	}

	// storage
	oneOf("storage.engine", c.Storage.Engine, engines)
	oneOf("storage.profile", c.Storage.Profile, profiles)
	if c.Storage.ValueLogGCInterval < 0 {
		bad("storage.value_log_gc_interval", "must not be negative (0 disables), got %s", c.Storage.ValueLogGCInterval)
	}

	// handoff
	if c.Handoff.MaxHints < 1 {
		bad("handoff.max_hints", "must be at least 1, got %d", c.Handoff.MaxHints)
	}
	if c.Handoff.MaxHintBytes < 1 {
		bad("handoff.max_hint_bytes", "must be at least 1, got %d", c.Handoff.MaxHintBytes)
	}
	positive("handoff.deliver_interval", c.Handoff.DeliverInterval)
	if c.Handoff.TransferConcurrency < 1 || c.Handoff.TransferConcurrency > 64 {
		bad("handoff.transfer_concurrency", "must be 1..64, got %d", c.Handoff.TransferConcurrency)
	}
	if c.Handoff.TransferBatchKeys < 1 || c.Handoff.TransferBatchKeys > 100000 {
		bad("handoff.transfer_batch_keys", "must be 1..100000, got %d", c.Handoff.TransferBatchKeys)
	}
	// gRPC refuses messages over 4 MiB by default; a batch stays well below.
	if c.Handoff.TransferBatchBytes < 1024 || c.Handoff.TransferBatchBytes > 2<<20 {
		bad("handoff.transfer_batch_bytes", "must be 1024..2097152, got %d", c.Handoff.TransferBatchBytes)
	}
	positive("handoff.drop_delay", c.Handoff.DropDelay)

	// entropy
	positive("entropy.interval", c.Entropy.Interval)
	positive("entropy.sweep_interval", c.Entropy.SweepInterval)
	if e, q := c.Entropy, c.Ring.Partitions; e.Enabled && e.Interval > 0 && e.SweepInterval > 0 && r.N > 1 &&
		q >= minPartitions && q <= maxPartitions && q&(q-1) == 0 {
		// The worst case: the node holds every partition (a cluster of N
		// nodes or fewer), each with N-1 peers.
		pairs := q * (r.N - 1)
		if need := time.Duration(pairs) * e.Interval; need > e.SweepInterval {
			bad("entropy.sweep_interval", "must be at least entropy.interval (%s) × %d (partition, peer) pairs (ring.partitions %d × (replication.n %d − 1)) = %s, got %s: lower entropy.interval to %s or less, or raise entropy.sweep_interval",
				e.Interval, pairs, q, r.N, need, e.SweepInterval, e.SweepInterval/time.Duration(pairs))
		}
	}
	positive("entropy.tombstone_grace", c.Entropy.TombstoneGrace)
	if c.Entropy.MaxKeysPerExchange < 1 {
		bad("entropy.max_keys_per_exchange", "must be at least 1, got %d", c.Entropy.MaxKeysPerExchange)
	}

	// limits
	between("limits.max_key_bytes", c.Limits.MaxKeyBytes, 1, maxKeyBytes)
	between("limits.max_value_bytes", c.Limits.MaxValueBytes, 1, maxValueBytes)
	if c.Limits.MaxSiblings < 1 {
		bad("limits.max_siblings", "must be at least 1, got %d", c.Limits.MaxSiblings)
	}

	// resolution
	if !resolve.ValidName(c.Resolution.Default) {
		bad("resolution.default", `must name a resolver ("siblings", "lww", or one registered in Go) in letters, digits, '.', '_' and '-', got %q`, c.Resolution.Default)
	}
	if _, err := c.ResolutionBuckets(); err != nil {
		bad("resolution.buckets", "%v", err)
	}

	// log
	oneOf("log.level", c.Log.Level, logLevels)
	oneOf("log.format", c.Log.Format, logFormats)

	return errors.Join(errs...)
}

// Standalone reports whether the node runs alone, without gossip or remote
// listeners: both cluster.gossip_listen and cluster.remote_listen are empty.
func (c Config) Standalone() bool {
	return c.Cluster.GossipListen == "" && c.Cluster.RemoteListen == ""
}

// SeedList returns cluster.seeds split on commas, without blanks.
func (c Config) SeedList() []string {
	var seeds []string
	for _, s := range strings.Split(c.Cluster.Seeds, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// ResolutionBuckets returns resolution.buckets as a map from key prefix to
// resolver name. Pairs are separated by commas and split at their last '='
// (resolver names hold none, prefixes may); blanks around them are ignored.
func (c Config) ResolutionBuckets() (map[string]string, error) {
	out := map[string]string{}
	for entry := range strings.SplitSeq(c.Resolution.Buckets, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		i := strings.LastIndexByte(entry, '=')
		if i < 0 {
			return nil, fmt.Errorf("%q is not prefix=resolver", entry)
		}
		prefix, name := strings.TrimSpace(entry[:i]), strings.TrimSpace(entry[i+1:])
		switch _, dup := out[prefix]; {
		case prefix == "":
			return nil, fmt.Errorf("%q has an empty prefix; set resolution.default instead", entry)
		case !utf8.ValidString(prefix):
			return nil, fmt.Errorf("prefix %q is not valid UTF-8", prefix)
		case !resolve.ValidName(name):
			return nil, fmt.Errorf("%q: resolver name %q must be letters, digits, '.', '_' and '-'", entry, name)
		case dup:
			return nil, fmt.Errorf("prefix %q is given twice", prefix)
		}
		out[prefix] = name
	}
	return out, nil
}

// checkListen accepts host:port with a numeric port (0 picks a free one,
// which tests use). The host may be empty, meaning every interface.
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", s)
	}
	// A service name ("http") would resolve differently per machine, and
	// other nodes are told this port, so insist on a number.
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", s)
	}
	return nil
}

func quoteAll(set []string) string {
	q := make([]string, len(set))
	for i, s := range set {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Keys returns every config key, dotted as in YAML ("storage.sync_writes"),
// in the order of the Config struct, which is also the order of the
// documented config.yaml. The caller owns the returned slice.
func Keys() []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// field describes one leaf key of Config. The table is derived from the
// struct tags by reflection, so adding a field to Config adds its key, flag
// and environment variable everywhere at once.
type field struct {
	key   string       // dotted koanf key, e.g. "storage.sync_writes"
	env   string       // environment variable, e.g. "DHT_STORAGE_SYNC_WRITES"
	index []int        // path of the field in Config, for reflect.Value.FieldByIndex
	typ   reflect.Type // one of the types kindOf accepts
}

var (
	fields     = buildFields()
	fieldByKey = indexFields(func(f field) string { return f.key })
	fieldByEnv = indexFields(func(f field) string { return f.env })
	// sections holds every proper prefix of a key ("storage",
	// "cluster.tls"), which YAML must give as a mapping.
	sections = func() map[string]bool {
		m := map[string]bool{}
		for _, f := range fields {
			parts := strings.Split(f.key, ".")
			for i := 1; i < len(parts); i++ {
				m[strings.Join(parts[:i], ".")] = true
			}
		}
		return m
	}()
)

// envPrefix starts every environment variable the loader reads.
const envPrefix = "DHT_"

// envName maps a key to its environment variable. Keys contain
// underscores, so the reverse mapping goes through fieldByEnv, never by
// splitting a name on "_".
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// buildFields walks Config: sections, then scalar leaves or sub-sections
// of scalar leaves (cluster.tls.ca_file). Anything else is a programming
// error caught by any test of the package, so it panics.
func buildFields() []field {
	var out []field
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		sec := ct.Field(i)
		if sec.Type.Kind() != reflect.Struct {
			panic(fmt.Sprintf("config: Config.%s is not a section struct", sec.Name))
		}
		out = appendLeaves(out, sec.Tag.Get("koanf"), []int{i}, sec.Type, 1)
	}
	return out
}

// appendLeaves appends the leaves of the section struct t, found at index
// in Config under the dotted prefix; depth counts the sections above them.
func appendLeaves(out []field, prefix string, index []int, t reflect.Type, depth int) []field {
	for j := range t.NumField() {
		leaf := t.Field(j)
		key := prefix + "." + leaf.Tag.Get("koanf")
		at := append(slices.Clone(index), j)
		if leaf.Type.Kind() == reflect.Struct && leaf.Type != durationType {
			if depth > 1 {
				panic(fmt.Sprintf("config: %s nests sections too deep", key))
			}
			out = appendLeaves(out, key, at, leaf.Type, depth+1)
			continue
		}
		if kindOf(leaf.Type) == kindInvalid {
			panic(fmt.Sprintf("config: %s has unsupported type %s", key, leaf.Type))
		}
		out = append(out, field{key: key, env: envName(key), index: at, typ: leaf.Type})
	}
	return out
}

func indexFields(name func(field) string) map[string]field {
	m := make(map[string]field, len(fields))
	for _, f := range fields {
		if _, dup := m[name(f)]; dup {
			panic(fmt.Sprintf("config: two keys map to %s", name(f)))
		}
		m[name(f)] = f
	}
	return m
}

// get returns the value of f in c, typed as the field is.
func (c Config) get(f field) any {
	return reflect.ValueOf(c).FieldByIndex(f.index).Interface()
}

// flat returns c as a flat map from dotted key to typed value.
func (c Config) flat() map[string]any {
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		m[f.key] = c.get(f)
	}
	return m
}

type kind int

const (
	kindInvalid kind = iota
	kindString
	kindBool
	kindInt // int, int64: plain integers, sizes in bytes
	kindDuration
)

var durationType = reflect.TypeFor[time.Duration]()

func kindOf(t reflect.Type) kind {
	switch {
	case t == durationType:
		return kindDuration
	case t.Kind() == reflect.String:
		return kindString
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int64:
		return kindInt
	}
	return kindInvalid
}
