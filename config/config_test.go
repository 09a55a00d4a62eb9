package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/persistence"
)

func TestDefault_Validates(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	// Default must stay pure: the host name is Load's business.
	if d.Node.ID != "" {
		t.Errorf("Default().Node.ID = %q, want empty", d.Node.ID)
	}
}

func TestKeys_StableOrder(t *testing.T) {
	want := []string{
		"node.id", "node.data_dir", "node.memory_limit_mib",
		"cluster.name", "cluster.zone", "cluster.seeds", "cluster.gossip_listen", "cluster.gossip_advertise",
		"cluster.gossip_key", "cluster.remote_listen", "cluster.remote_advertise", "cluster.http_advertise",
		"cluster.ready_agreement_wait",
		"cluster.tls.ca_file", "cluster.tls.cert_file", "cluster.tls.key_file",
		"http.listen", "http.max_body_bytes", "http.read_timeout", "http.write_timeout",
		"http.shutdown_timeout", "http.lame_duck", "http.client_token", "http.admin_token", "http.pprof", "http.listing_for_clients",
		"http.max_header_bytes", "http.idle_timeout", "http.max_connections", "http.metrics_listen",
		"http.tls.cert_file", "http.tls.key_file", "http.tls.client_ca_file",
		"ring.partitions",
		"replication.n", "replication.r", "replication.w", "replication.pr", "replication.pw",
		"replication.request_timeout", "replication.coordinate_timeout",
		"storage.engine", "storage.sync_writes", "storage.profile", "storage.value_log_gc_interval",
		"handoff.hints", "handoff.max_hints", "handoff.max_hint_bytes", "handoff.deliver_interval",
		"handoff.transfer_concurrency", "handoff.transfer_batch_keys", "handoff.transfer_batch_bytes", "handoff.drop_delay",
		"entropy.enabled", "entropy.interval", "entropy.sweep_interval", "entropy.max_keys_per_exchange", "entropy.tombstone_grace",
		"limits.max_key_bytes", "limits.max_value_bytes", "limits.max_siblings",
		"security.context_secret", "security.previous_context_secret",
		"resolution.default", "resolution.on_write", "resolution.buckets",
		"log.level", "log.format",
	}
	got := Keys()
	if !slices.Equal(got, want) {
		t.Fatalf("Keys() =\n%q\nwant\n%q", got, want)
	}
	got[0] = "mutated"
	if Keys()[0] != "node.id" {
		t.Error("Keys() shares its slice with the caller")
	}
}

func TestKeys_EnvNames(t *testing.T) {
	tests := []struct{ key, env string }{
		{"storage.sync_writes", "DHT_STORAGE_SYNC_WRITES"},
		{"replication.n", "DHT_REPLICATION_N"},
		{"storage.value_log_gc_interval", "DHT_STORAGE_VALUE_LOG_GC_INTERVAL"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			f, ok := fieldByEnv[tt.env]
			if !ok || f.key != tt.key {
				t.Errorf("fieldByEnv[%s] = %q, %v; want %q", tt.env, f.key, ok, tt.key)
			}
		})
	}
}

func TestValidate_InvalidValues(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		// wantKeys are the keys the errors name, in order: one mistake
		// should give one message.
		wantKeys []string
	}{
		{"data_dir empty with badger", func(c *Config) { c.Node.DataDir = "" }, []string{"node.data_dir"}},
		{"data_dir empty with pebble", func(c *Config) { c.Storage.Engine = "pebble"; c.Node.DataDir = "" }, []string{"node.data_dir"}},
		{"memory limit negative", func(c *Config) { c.Node.MemoryLimitMiB = -1 }, []string{"node.memory_limit_mib"}},
		{"memory limit too small to run", func(c *Config) { c.Node.MemoryLimitMiB = 10 }, []string{"node.memory_limit_mib"}},

		{"cluster name empty", func(c *Config) { c.Cluster.Name = "" }, []string{"cluster.name"}},
		{"seed without port", func(c *Config) { c.Cluster.Seeds = "a:7946, b" }, []string{"cluster.seeds"}},
		{"gossip listen bad", func(c *Config) { c.Cluster.GossipListen = "7946" }, []string{"cluster.gossip_listen"}},
		{"remote listen bad", func(c *Config) { c.Cluster.RemoteListen = "x:y" }, []string{"cluster.remote_listen"}},
		{"only one listener empty", func(c *Config) { c.Cluster.RemoteListen = "" }, []string{"cluster.remote_listen"}},
		{"standalone with seeds", func(c *Config) {
			c.Cluster.RemoteListen, c.Cluster.GossipListen, c.Cluster.Seeds = "", "", "a:1"
		}, []string{"cluster.seeds"}},
		{"advertise without host", func(c *Config) { c.Cluster.RemoteAdvertise = ":7070" }, []string{"cluster.remote_advertise"}},
		{"gossip key not base64", func(c *Config) { c.Cluster.GossipKey = "not base64!" }, []string{"cluster.gossip_key"}},
		{"gossip key wrong length", func(c *Config) { c.Cluster.GossipKey = "AAAA" }, []string{"cluster.gossip_key"}},

		{"cluster tls without key", func(c *Config) { c.Cluster.TLS = ClusterTLS{CAFile: "ca.pem", CertFile: "n.pem"} }, []string{"cluster.tls.key_file"}},
		{"cluster tls only a ca", func(c *Config) { c.Cluster.TLS.CAFile = "ca.pem" }, []string{"cluster.tls.cert_file", "cluster.tls.key_file"}},
		{"cluster tls standalone", func(c *Config) {
			c.Cluster.TLS = ClusterTLS{CAFile: "ca.pem", CertFile: "n.pem", KeyFile: "n.key"}
			c.Cluster.RemoteListen, c.Cluster.GossipListen = "", ""
		}, []string{"cluster.tls.ca_file"}},
		{"http tls cert without key", func(c *Config) { c.HTTP.TLS.CertFile = "s.pem" }, []string{"http.tls.key_file"}},
		{"http tls client ca alone", func(c *Config) { c.HTTP.TLS.ClientCAFile = "ca.pem" }, []string{"http.tls.cert_file", "http.tls.key_file"}},
		{"max_header_bytes too small for a context", func(c *Config) { c.HTTP.MaxHeaderBytes = 4096 }, []string{"http.max_header_bytes"}},
		{"idle_timeout zero", func(c *Config) { c.HTTP.IdleTimeout = 0 }, []string{"http.idle_timeout"}},
		{"max_connections negative", func(c *Config) { c.HTTP.MaxConnections = -1 }, []string{"http.max_connections"}},
		{"max_connections tiny", func(c *Config) { c.HTTP.MaxConnections = 2 }, []string{"http.max_connections"}},
		{"metrics_listen bad", func(c *Config) { c.HTTP.MetricsListen = "9090" }, []string{"http.metrics_listen"}},
		{"metrics_listen same as listen", func(c *Config) { c.HTTP.MetricsListen = c.HTTP.Listen }, []string{"http.metrics_listen"}},
		{"context secret short", func(c *Config) { c.Security.ContextSecret = "short" }, []string{"security.context_secret"}},
		{"context secret trailing newline", func(c *Config) { c.Security.ContextSecret = "0123456789abcdefXYZ\n" }, []string{"security.context_secret"}},
		{"previous secret without a current one", func(c *Config) { c.Security.PreviousContextSecret = "0123456789abcdefXYZ" }, []string{"security.previous_context_secret"}},
		{"previous secret same as current", func(c *Config) {
			c.Security.ContextSecret, c.Security.PreviousContextSecret = "0123456789abcdefXYZ", "0123456789abcdefXYZ"
		}, []string{"security.previous_context_secret"}},

		{"listen without port", func(c *Config) { c.HTTP.Listen = "127.0.0.1" }, []string{"http.listen"}},
		{"listen port only number", func(c *Config) { c.HTTP.Listen = "8080" }, []string{"http.listen"}},
		{"listen empty", func(c *Config) { c.HTTP.Listen = "" }, []string{"http.listen"}},
		{"listen named port", func(c *Config) { c.HTTP.Listen = "localhost:http" }, []string{"http.listen"}},
		{"listen port too big", func(c *Config) { c.HTTP.Listen = "localhost:65536" }, []string{"http.listen"}},
		{"max_body_bytes zero", func(c *Config) { c.HTTP.MaxBodyBytes = 0 }, []string{"http.max_body_bytes"}},
		{"max_body_bytes below max_value_bytes", func(c *Config) { c.HTTP.MaxBodyBytes = 1<<20 - 1 }, []string{"http.max_body_bytes"}},
		{"read_timeout zero", func(c *Config) { c.HTTP.ReadTimeout = 0 }, []string{"http.read_timeout"}},
		{"write_timeout negative", func(c *Config) { c.HTTP.WriteTimeout = -time.Second }, []string{"http.write_timeout"}},
		{"shutdown_timeout zero", func(c *Config) { c.HTTP.ShutdownTimeout = 0 }, []string{"http.shutdown_timeout"}},
		{"lame_duck negative", func(c *Config) { c.HTTP.LameDuck = -time.Second }, []string{"http.lame_duck"}},
		{"lame_duck an hour", func(c *Config) { c.HTTP.LameDuck = time.Hour }, []string{"http.lame_duck"}},
		{"client_token trailing newline", func(c *Config) { c.HTTP.ClientToken = "s3cret\n" }, []string{"http.client_token"}},
		{"admin_token leading space", func(c *Config) { c.HTTP.AdminToken = " s3cret" }, []string{"http.admin_token"}},

		{"entropy sweep zero", func(c *Config) { c.Entropy.SweepInterval = 0 }, []string{"entropy.sweep_interval"}},
		{"entropy interval too slow for the sweep", func(c *Config) { c.Entropy.Interval = 2 * time.Second }, []string{"entropy.sweep_interval"}},
		{"entropy sweep too short for the pairs", func(c *Config) { c.Ring.Partitions = 4096 }, []string{"entropy.sweep_interval"}},

		{"partitions zero", func(c *Config) { c.Ring.Partitions = 0 }, []string{"ring.partitions"}},
		{"partitions below 8", func(c *Config) { c.Ring.Partitions = 4 }, []string{"ring.partitions"}},
		{"partitions not power of two", func(c *Config) { c.Ring.Partitions = 100 }, []string{"ring.partitions"}},
		{"partitions above 65536", func(c *Config) { c.Ring.Partitions = 131072 }, []string{"ring.partitions"}},

		{"n zero", func(c *Config) { c.Replication.N = 0 }, []string{"replication.n"}},
		{"r zero", func(c *Config) { c.Replication.R = 0 }, []string{"replication.r"}},
		{"r above n", func(c *Config) { c.Replication.R = 4 }, []string{"replication.r"}},
		{"w zero", func(c *Config) { c.Replication.W = 0 }, []string{"replication.w"}},
		{"w above n", func(c *Config) { c.Replication.W = 5 }, []string{"replication.w"}},
		{"pr negative", func(c *Config) { c.Replication.PR = -1 }, []string{"replication.pr"}},
		{"pr above r", func(c *Config) { c.Replication.PR = 3 }, []string{"replication.pr"}},
		{"pw negative", func(c *Config) { c.Replication.PW = -1 }, []string{"replication.pw"}},
		{"pw above w", func(c *Config) { c.Replication.PW = 3 }, []string{"replication.pw"}},
		{"request_timeout zero", func(c *Config) { c.Replication.RequestTimeout = 0 }, []string{"replication.request_timeout"}},
		{"coordinate_timeout negative", func(c *Config) { c.Replication.CoordinateTimeout = -time.Second }, []string{"replication.coordinate_timeout"}},
		{"coordinate_timeout equal to request_timeout", func(c *Config) { c.Replication.CoordinateTimeout = c.Replication.RequestTimeout }, []string{"replication.coordinate_timeout"}},
		{"coordinate_timeout above request_timeout", func(c *Config) { c.Replication.CoordinateTimeout = time.Minute }, []string{"replication.coordinate_timeout"}},

		{"engine unknown", func(c *Config) { c.Storage.Engine = "rocksdb" }, []string{"storage.engine"}},
		{"engine wrong case", func(c *Config) { c.Storage.Engine = "Badger" }, []string{"storage.engine"}},
		{"pebble wrong case", func(c *Config) { c.Storage.Engine = "Pebble" }, []string{"storage.engine"}},
		{"profile unknown", func(c *Config) { c.Storage.Profile = "large" }, []string{"storage.profile"}},
		{"gc interval negative", func(c *Config) { c.Storage.ValueLogGCInterval = -time.Minute }, []string{"storage.value_log_gc_interval"}},

		{"max_key_bytes zero", func(c *Config) { c.Limits.MaxKeyBytes = 0 }, []string{"limits.max_key_bytes"}},
		{"max_key_bytes above 65535", func(c *Config) { c.Limits.MaxKeyBytes = 65536 }, []string{"limits.max_key_bytes"}},
		{"max_value_bytes zero", func(c *Config) { c.Limits.MaxValueBytes = 0 }, []string{"limits.max_value_bytes"}},
		{"max_value_bytes above 64 MiB", func(c *Config) {
			c.Limits.MaxValueBytes = 64<<20 + 1
			c.HTTP.MaxBodyBytes = 128 << 20
		}, []string{"limits.max_value_bytes"}},
		{"max_siblings zero", func(c *Config) { c.Limits.MaxSiblings = 0 }, []string{"limits.max_siblings"}},

		{"resolution default empty", func(c *Config) { c.Resolution.Default = "" }, []string{"resolution.default"}},
		{"resolution default not a name", func(c *Config) { c.Resolution.Default = "last write" }, []string{"resolution.default"}},
		{"resolution bucket without resolver", func(c *Config) { c.Resolution.Buckets = "carts/" }, []string{"resolution.buckets"}},
		{"resolution bucket empty prefix", func(c *Config) { c.Resolution.Buckets = "=lww" }, []string{"resolution.buckets"}},
		{"resolution bucket empty resolver", func(c *Config) { c.Resolution.Buckets = "carts/=" }, []string{"resolution.buckets"}},
		{"resolution bucket given twice", func(c *Config) { c.Resolution.Buckets = "a/=lww, a/=siblings" }, []string{"resolution.buckets"}},
		{"resolution bucket not UTF-8", func(c *Config) { c.Resolution.Buckets = "\xff=lww" }, []string{"resolution.buckets"}},

		{"log level unknown", func(c *Config) { c.Log.Level = "trace" }, []string{"log.level"}},
		{"log level upper case", func(c *Config) { c.Log.Level = "INFO" }, []string{"log.level"}},
		{"log format unknown", func(c *Config) { c.Log.Format = "xml" }, []string{"log.format"}},

		{"all problems reported at once", func(c *Config) {
			c.Replication.N = 0
			c.Log.Level = ""
			c.Storage.Engine = ""
		}, []string{"replication.n", "storage.engine", "log.level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			if got := errorKeys(err); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("Validate() names keys %q, want %q; error:\n%v", got, tt.wantKeys, err)
			}
		})
	}
}

func TestValidate_ValidEdges(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"memory engine needs no data_dir", func(c *Config) { c.Storage.Engine = "memory"; c.Node.DataDir = "" }},
		{"pebble engine", func(c *Config) { c.Storage.Engine = "pebble" }},
		{"pebble with the default profile and sync writes", func(c *Config) {
			c.Storage.Engine, c.Storage.Profile, c.Storage.SyncWrites = "pebble", "default", true
		}},
		{"listen any interface", func(c *Config) { c.HTTP.Listen = ":8080" }},
		{"listen free port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:0" }},
		{"listen ipv6", func(c *Config) { c.HTTP.Listen = "[::1]:8080" }},
		{"listen highest port", func(c *Config) { c.HTTP.Listen = "localhost:65535" }},
		{"max_body_bytes equal to max_value_bytes", func(c *Config) { c.HTTP.MaxBodyBytes = 1 << 20 }},
		{"largest value", func(c *Config) { c.Limits.MaxValueBytes = 64 << 20; c.HTTP.MaxBodyBytes = 64 << 20 }},
		{"smallest limits", func(c *Config) { c.Limits = Limits{MaxKeyBytes: 1, MaxValueBytes: 1, MaxSiblings: 1} }},
		{"largest key", func(c *Config) { c.Limits.MaxKeyBytes = 65535 }},
		{"partitions 8", func(c *Config) { c.Ring.Partitions = 8 }},
		{"partitions 65536, with a sweep that fits them", func(c *Config) { c.Ring.Partitions = 65536; c.Entropy.SweepInterval = 8 * time.Hour }},
		{"sweep just fits the rate limit", func(c *Config) { c.Entropy.Interval = 1171875 * time.Microsecond }},
		{"single replica", func(c *Config) {
			c.Replication = Replication{N: 1, R: 1, W: 1, PR: 1, PW: 1, RequestTimeout: time.Second, CoordinateTimeout: 500 * time.Millisecond}
		}},
		{"pr equal r and pw equal w", func(c *Config) { c.Replication.PR = 2; c.Replication.PW = 2 }},
		{"quorums equal n", func(c *Config) { c.Replication.R = 3; c.Replication.W = 3 }},
		{"coordinate_timeout off", func(c *Config) { c.Replication.CoordinateTimeout = 0 }},
		{"coordinate_timeout just below request_timeout", func(c *Config) {
			c.Replication.RequestTimeout, c.Replication.CoordinateTimeout = time.Second, time.Second-time.Millisecond
		}},
		{"gc disabled", func(c *Config) { c.Storage.ValueLogGCInterval = 0 }},
		{"default profile", func(c *Config) { c.Storage.Profile = "default" }},
		{"tokens set", func(c *Config) { c.HTTP.ClientToken = "a b"; c.HTTP.AdminToken = "x" }},
		{"text debug log", func(c *Config) { c.Log = Log{Level: "debug", Format: "text"} }},
		{"lww everywhere, on write", func(c *Config) { c.Resolution = Resolution{Default: "lww", OnWrite: true} }},
		{"custom resolver names", func(c *Config) {
			c.Resolution = Resolution{Default: "my-cart.v2", Buckets: " carts/ = cart_union , sessions/=lww,, a=b/=lww,"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidate_MessageFormat(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"quorum names the bound", func(c *Config) { c.Replication.R = 5 },
			"replication.r: must be between 1 and replication.n (3), got 5"},
		{"body names the value limit", func(c *Config) { c.HTTP.MaxBodyBytes = 1000 },
			"http.max_body_bytes: must be at least limits.max_value_bytes (1048576), got 1000"},
		{"enum lists the choices", func(c *Config) { c.Storage.Engine = "rocksdb" },
			`storage.engine: must be one of "badger", "memory", "pebble", got "rocksdb"`},
		{"data_dir names the engine", func(c *Config) { c.Storage.Engine = "pebble"; c.Node.DataDir = "" },
			`node.data_dir: must not be empty when storage.engine is "pebble"`},
		{"coordinate_timeout names request_timeout", func(c *Config) { c.Replication.CoordinateTimeout = 6 * time.Second },
			"replication.coordinate_timeout: must be less than replication.request_timeout (5s), got 6s: the write is handed to the next owner within the request's time (lower it, or 0 turns the handover off)"},
		{"data_dir names badger", func(c *Config) { c.Node.DataDir = "" },
			`node.data_dir: must not be empty when storage.engine is "badger"`},
		{"sweep names the rate limit and the pairs", func(c *Config) { c.Entropy.Interval = 2 * time.Second },
			"entropy.sweep_interval: must be at least entropy.interval (2s) × 512 (partition, peer) pairs (ring.partitions 256 × (replication.n 3 − 1)) = 17m4s, got 10m0s: lower entropy.interval to 1.171875s or less, or raise entropy.sweep_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			if err := c.Validate(); err == nil || err.Error() != tt.want {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// errorKeys returns the key each joined error starts with.
func errorKeys(err error) []string {
	var keys []string
	for _, e := range unjoin(err) {
		key, _, _ := strings.Cut(e.Error(), ":")
		keys = append(keys, key)
	}
	return keys
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestConfig_ResolutionBuckets(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"carts/=cart", map[string]string{"carts/": "cart"}},
		{" carts/ = cart , sessions/=lww,", map[string]string{"carts/": "cart", "sessions/": "lww"}},
		// Split at the last '=': resolver names hold none, prefixes may.
		{"k=v/=lww", map[string]string{"k=v/": "lww"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c := Default()
			c.Resolution.Buckets = tt.in
			got, err := c.ResolutionBuckets()
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("ResolutionBuckets() = %v, want %v", got, tt.want)
			}
		})
	}
	c := Default()
	c.Resolution.Buckets = "carts/=cart,users/"
	if err := c.Validate(); err == nil || err.Error() != `resolution.buckets: "users/" is not prefix=resolver` {
		t.Errorf("Validate() = %v, want the bad pair named", err)
	}
}

// The engines config accepts are exactly the ones persistence opens, so
// that a value Validate passes never fails at start-up, and a new engine
// cannot be left out of the config.
func TestEngines_MatchPersistence(t *testing.T) {
	for _, engine := range engines {
		opts := persistence.Options{Engine: engine, Dir: "/d"}
		if err := opts.Validate(); err != nil {
			t.Errorf("config accepts storage.engine %q, persistence refuses it: %v", engine, err)
		}
		wantDisk := opts.Validate() == nil && (persistence.Options{Engine: engine}).Validate() != nil
		if got := slices.Contains(diskEngines, engine); got != wantDisk {
			t.Errorf("engine %q: in diskEngines = %v, but persistence requires a Dir: %v", engine, got, wantDisk)
		}
	}
	for _, engine := range []string{persistence.EngineBadger, persistence.EngineMemory, persistence.EnginePebble} {
		if !slices.Contains(engines, engine) {
			t.Errorf("persistence offers engine %q, config does not accept it", engine)
		}
	}
}
