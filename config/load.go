package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	kmaps "github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// configFlag names the flag that holds the path of the YAML file. It is not
// a config key: the file cannot name itself.
const configFlag = "config"

// help is the flag usage of each key. TestRegisterFlags_Usage keeps it in
// step with Keys.
var help = map[string]string{
	"node.id":                          `unique, stable node id ("" = the host name)`,
	"node.data_dir":                    "directory of the storage engine's files (required by the badger and pebble engines)",
	"node.memory_limit_mib":            "soft limit on the Go runtime's memory in MiB; the GC works harder near it (0 = none, or GOMEMLIMIT)",
	"cluster.name":                     "cluster name; peers announcing another name are refused",
	"cluster.zone":                     `failure zone of this node ("" = none); replicas go to distinct zones`,
	"cluster.seeds":                    "comma-separated gossip addresses (host:port) to join at start; empty starts a new cluster",
	"cluster.gossip_listen":            "host:port for serf gossip (TCP and UDP)",
	"cluster.gossip_advertise":         `host:port peers gossip to ("" = cluster.gossip_listen)`,
	"cluster.gossip_key":               `base64 key (16, 24 or 32 bytes) encrypting gossip ("" = none); prefer the environment`,
	"cluster.remote_listen":            "host:port of the actor remote (gRPC) server for requests between nodes",
	"cluster.remote_advertise":         `host:port peers use to reach cluster.remote_listen ("" = the same)`,
	"cluster.http_advertise":           `host:port of this node's HTTP API told to peers ("" = http.listen)`,
	"cluster.ready_agreement_wait":     "how long /readyz, and each partition transfer into this node, wait for every live peer to announce this node's ring before going ahead anyway (readiness logs why)",
	"cluster.tls.ca_file":              `PEM file of the cluster CA; with cert_file and key_file, mutual TLS between nodes ("" = plaintext)`,
	"cluster.tls.cert_file":            "PEM file of this node's certificate, its node id as CN, signed by the cluster CA",
	"cluster.tls.key_file":             "PEM file of the private key of cluster.tls.cert_file",
	"http.listen":                      "host:port of the HTTP listener (client API, admin API, metrics, probes)",
	"http.max_body_bytes":              "largest request body in bytes; at least limits.max_value_bytes",
	"http.read_timeout":                "time limit for reading a whole request",
	"http.write_timeout":               "time limit for writing a response",
	"http.shutdown_timeout":            "time limit for draining open requests at shutdown",
	"http.lame_duck":                   "how long to keep serving after SIGTERM with /readyz 503, before leaving gossip and draining",
	"http.client_token":                `bearer token required on /v1/kv ("" = none); prefer the environment, flags show in ps`,
	"http.admin_token":                 `bearer token required on /admin ("" = none); prefer the environment, flags show in ps`,
	"http.pprof":                       "serve Go's profiler under /debug/pprof/, guarded by the admin token",
	"http.listing_for_clients":         "let the client token list keys (GET /v1/kv?prefix=); otherwise listing takes the admin token",
	"http.max_header_bytes":            "largest request header block in bytes, 16384..1048576",
	"http.idle_timeout":                "close a keep-alive connection idle for this long",
	"http.max_connections":             "most open HTTP connections; more wait in the listen backlog (0 = no bound)",
	"http.metrics_listen":              `host:port serving /metrics and the probes apart from the API ("" = on http.listen)`,
	"http.tls.cert_file":               `PEM file of the HTTP API's server certificate ("" = plain HTTP)`,
	"http.tls.key_file":                "PEM file of the private key of http.tls.cert_file",
	"http.tls.client_ca_file":          `PEM file of a CA whose client certificates the HTTP API requires ("" = none required)`,
	"ring.partitions":                  "number of partitions Q, a power of two from 8 to 65536; fixed after the first start",
	"replication.n":                    "replicas of each key",
	"replication.r":                    "default read quorum, 1..replication.n",
	"replication.w":                    "default write quorum, 1..replication.n",
	"replication.pr":                   "default primary replicas among the read quorum, 0..replication.r",
	"replication.pw":                   "default primary replicas among the write quorum, 0..replication.w",
	"replication.request_timeout":      "time limit for a coordinated request",
	"replication.coordinate_timeout":   "wait for the coordinating replica's answer before a write goes to the next owner; below replication.request_timeout",
	"storage.engine":                   "storage engine: badger, pebble or memory (docs/engines.md compares them)",
	"storage.sync_writes":              "fsync every write, so acknowledged writes survive a machine crash",
	"storage.profile":                  "on-disk engine's memory profile: small or default (the engine's own defaults)",
	"storage.value_log_gc_interval":    "interval of badger value-log garbage collection (0 disables)",
	"handoff.hints":                    "keep writes for down replicas as hints and deliver them when they return",
	"handoff.max_hints":                "most hints this node keeps; past it a hint is refused and not counted toward w",
	"handoff.max_hint_bytes":           "most bytes of hints this node keeps",
	"handoff.deliver_interval":         "how often pending hints are offered to targets that are alive again",
	"handoff.transfer_concurrency":     "most partition transfers (receive or drain) this node runs at once",
	"handoff.transfer_batch_keys":      "most keys in one batch of a partition transfer",
	"handoff.transfer_batch_bytes":     "most bytes in one batch of a partition transfer",
	"handoff.drop_delay":               "wait before a node hands back and drops a partition it no longer has a part in",
	"entropy.enabled":                  "run active anti-entropy (Merkle tree exchanges between replicas)",
	"entropy.interval":                 "rate limit: least pause between the starts of two anti-entropy exchanges this node runs, repairs included",
	"entropy.sweep_interval":           "bound: every partition is exchanged with each live co-owner at least this often; at least interval × partitions × (n-1)",
	"entropy.max_keys_per_exchange":    "most keys one anti-entropy exchange repairs",
	"entropy.tombstone_grace":          "least time a delete's tombstone is kept before it may be reaped",
	"limits.max_key_bytes":             "longest key in bytes, 1..65535",
	"limits.max_value_bytes":           "largest value in bytes, 1..67108864 (64 MiB)",
	"limits.max_siblings":              "most siblings a key may hold; a write that would leave more gets 409",
	"security.context_secret":          `secret (16+ characters, the same on every node) keying the MAC of causal-context tokens ("" = forgeable tokens); prefer the environment`,
	"security.previous_context_secret": "the context secret before a rotation, still accepted on tokens clients send back",
	"resolution.default":               `resolver of keys in no bucket: siblings (the client resolves), lww (lossy), or one registered in Go`,
	"resolution.on_write":              "also resolve siblings at the vnode coordinating a write, and store the resolution",
	"resolution.buckets":               `resolvers by key prefix, comma-separated prefix=resolver ("carts/=cart,sessions/=lww"); longest prefix wins`,
	"log.level":                        "log level: debug, info, warn or error",
	"log.format":                       "log format: json or text",
}

// RegisterFlags adds to fs one flag per key, named by the dotted key
// ("--storage.sync_writes") with Default's value shown in the usage, and
// "--config", the path of the YAML file ("" = none). Load reads them back
// from the same set, once it has been parsed. Calling it twice on one set
// panics, as pflag does for any redefined flag.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(configFlag, "", `path of the YAML config file ("" = none)`)
	d := Default()
	for _, f := range fields {
		usage := help[f.key] + " (env " + f.env + ")"
		switch v := d.get(f).(type) {
		case string:
			fs.String(f.key, v, usage)
		case bool:
			fs.Bool(f.key, v, usage)
		case int:
			fs.Int(f.key, v, usage)
		case int64:
			fs.Int64(f.key, v, usage)
		case time.Duration:
			fs.Duration(f.key, v, usage)
		default:
			panic(fmt.Sprintf("config: no flag type for %s (%T)", f.key, v))
		}
	}
}

// Load builds the node's configuration from four layers, each overriding
// the one before:
//
//  1. Default();
//  2. the YAML file named by the --config flag, if set;
//  3. the DHT_ variables in environ (normally os.Environ());
//  4. the flags of fs that were set on the command line.
//
// It then fills an empty Node.ID with the host name and validates.
//
// A layer that names an unknown key, or gives a value of the wrong type,
// is an error naming its source and the key; all such errors are reported
// together. An unknown DHT_ variable is only a warning, since Kubernetes
// injects DHT_SERVICE_HOST and the like for a service named dht. Warnings
// are returned even when err is not nil, because a misspelt variable is
// often why validation failed. On error cfg is the zero Config.
//
// fs may be nil, meaning no file and no flags; flags of fs that are not
// config keys are ignored, so the caller may add its own.
func Load(fs *pflag.FlagSet, environ []string) (cfg Config, warnings []string, err error) {
	ko := koanf.New(".")
	if err := ko.Load(flatMap(Default().flat()), nil); err != nil {
		return Config{}, nil, err
	}

	var errs []error
	if path := configPath(fs); path != "" {
		m, err := readFile(path)
		if err != nil {
			errs = append(errs, err)
		} else if err := ko.Load(flatMap(m), nil); err != nil {
			errs = append(errs, err)
		}
	}

	m, warnings, err := readEnv(environ)
	if err != nil {
		errs = append(errs, err)
	} else if err := ko.Load(flatMap(m), nil); err != nil {
		errs = append(errs, err)
	}

	if fs != nil {
		if err := loadFlags(ko, fs); err != nil {
			errs = append(errs, err)
		}
	}

	if err := errors.Join(errs...); err != nil {
		return Config{}, warnings, err
	}

	cfg, err = decode(ko)
	if err != nil {
		return Config{}, warnings, err
	}
	if cfg.Node.ID == "" {
		// The host name is stable for a StatefulSet pod (dht-0, dht-1, …),
		// which is what the ring needs from a node id.
		host, err := os.Hostname()
		if err != nil {
			return Config{}, warnings, fmt.Errorf("node.id: empty, and the host name is unavailable: %w", err)
		}
		if host == "" {
			return Config{}, warnings, errors.New("node.id: empty, and so is the host name")
		}
		cfg.Node.ID = host
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, warnings, err
	}
	return cfg, warnings, nil
}

func configPath(fs *pflag.FlagSet) string {
	if fs == nil {
		return ""
	}
	if f := fs.Lookup(configFlag); f != nil {
		return f.Value.String()
	}
	return ""
}

// readFile reads the YAML file at path into a flat map from key to a value
// of the key's Go type. A null value ("key:" with nothing after it) counts
// as unset and leaves the default, as it does in Helm values.
func readFile(path string) (map[string]any, error) {
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		return nil, err // an *os.PathError, which names the file
	}
	return parseYAML(path, b)
}

// parseYAML is readFile after the I/O; source names the file in errors.
func parseYAML(source string, b []byte) (map[string]any, error) {
	fk := koanf.New(".")
	if err := fk.Load(rawBytes(b), yaml.Parser()); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}

	raw := fk.All()
	out := make(map[string]any, len(raw))
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		f, known := fieldByKey[k]
		switch {
		case known && v == nil:
			// Unset: keep the lower layer's value.
		case known:
			tv, err := fromYAML(f, v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", source, k, err))
				continue
			}
			out[k] = tv
		case sections[k]:
			// A section left empty, or with all its keys commented out,
			// is fine; one given a scalar is not.
			if m, ok := v.(map[string]any); v == nil || (ok && len(m) == 0) {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: %s: want a mapping of keys, got %s", source, k, describe(v)))
		default:
			errs = append(errs, fmt.Errorf("%s: unknown key %q", source, k))
		}
	}
	return out, errors.Join(errs...)
}

// readEnv picks the DHT_ variables out of environ. Variables are matched
// whole against the key table rather than split on "_", because keys
// contain underscores (DHT_STORAGE_SYNC_WRITES is storage.sync_writes).
func readEnv(environ []string) (map[string]any, []string, error) {
	out := map[string]any{}
	var warnings []string
	var errs []error
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		f, ok := fieldByEnv[name]
		if !ok {
			warnings = append(warnings, fmt.Sprintf("ignoring environment variable %s: not a config key", name))
			continue
		}
		v, err := fromString(f, val)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", name, f.key, err))
			continue
		}
		out[f.key] = v
	}
	slices.Sort(warnings)
	return out, slices.Compact(warnings), errors.Join(errs...)
}

// loadFlags merges the config-key flags that were set on the command line.
// Unchanged flags must not override: their value is Default's, which would
// otherwise mask the file and the environment.
func loadFlags(ko *koanf.Koanf, fs *pflag.FlagSet) error {
	var errs []error
	p := posflag.ProviderWithFlag(fs, ".", nil, func(fl *pflag.Flag) (string, any) {
		f, ok := fieldByKey[fl.Name]
		if !ok || !fl.Changed {
			return "", nil
		}
		// Parse the flag's text rather than trust its pflag type, so that
		// a caller who registered a key's flag by hand cannot smuggle a
		// value of another type past the checks.
		v, err := fromString(f, fl.Value.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("flag --%s: %w", fl.Name, err))
			return "", nil
		}
		return f.key, v
	})
	if err := ko.Load(p, nil); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// decode turns the merged layers into a Config. Every layer has already
// been checked key by key, so this is a backstop: it decodes strictly, with
// no weak typing, and treats a leftover key as an error, so that a slip in
// the layers above surfaces as an error naming the key, not as a silently
// ignored setting.
func decode(ko *koanf.Koanf) (Config, error) {
	var c Config
	err := ko.UnmarshalWithConf("", &c, koanf.UnmarshalConf{
		DecoderConfig: &mapstructure.DecoderConfig{
			TagName:     "koanf",
			ErrorUnused: true,
		},
	})
	if err != nil {
		return Config{}, namedDecodeErrors(err)
	}
	return c, nil
}

// namedDecodeErrors rewrites mapstructure's errors so that each starts with
// the dotted key it concerns, like every other error of this package.
// mapstructure names the enclosing struct of an unused key ("'storage' has
// invalid keys: sync_write"), not the key itself.
func namedDecodeErrors(err error) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if de, ok := e.(*mapstructure.DecodeError); ok {
			msg := de.Unwrap().Error()
			if rest, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
				for k := range strings.SplitSeq(rest, ", ") {
					if de.Name() != "" && de.Name() != reflect.TypeFor[Config]().String() {
						k = de.Name() + "." + k
					}
					out = append(out, fmt.Errorf("unknown key %q", k))
				}
				return
			}
			out = append(out, fmt.Errorf("%s: %s", de.Name(), msg))
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			out = append(out, e)
		}
	}
	walk(err)
	return errors.Join(out...)
}

// fromYAML checks a YAML value against the field's type and converts it.
// It is strict: YAML has native booleans and integers, so a quoted "true"
// or an unquoted 0123 for a string key is more likely a mistake than an
// intent, and weak typing would hide it.
func fromYAML(f field, v any) (any, error) {
	switch kindOf(f.typ) {
	case kindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("want a string, got %s (quote it)", describe(v))
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %s", describe(v))
	case kindInt:
		n, ok := yamlInt(v)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %s", describe(v))
		}
		return convertInt(f, n)
	case kindDuration:
		switch x := v.(type) {
		case string:
			return parseDuration(f, x)
		case int:
			// Zero is zero in any unit, and is how one disables
			// storage.value_log_gc_interval.
			if x == 0 {
				return time.Duration(0), nil
			}
		}
		// A bare number would decode as nanoseconds: "read_timeout: 30"
		// would mean 30ns and pass validation.
		return nil, fmt.Errorf(`want a duration such as "30s" or "5m", got %s`, describe(v))
	}
	panic("config: unreachable: unsupported kind for " + f.key)
}

// yamlInt accepts what the YAML parser yields for an integer, plus floats
// with no fractional part: Helm renders big numbers from values files as
// floats (2.097152e+06), and refusing them would break the chart.
func yamlInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// fromString parses the text of an environment variable or a flag.
func fromString(f field, s string) (any, error) {
	switch kindOf(f.typ) {
	case kindString:
		return s, nil
	case kindBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", s)
		}
		return b, nil
	case kindInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %q", s)
		}
		return convertInt(f, n)
	case kindDuration:
		return parseDuration(f, s)
	}
	panic("config: unreachable: unsupported kind for " + f.key)
}

// convertInt returns n as the field's own integer type.
func convertInt(f field, n int64) (any, error) {
	if reflect.New(f.typ).Elem().OverflowInt(n) {
		return nil, fmt.Errorf("%d is out of range", n)
	}
	return reflect.ValueOf(n).Convert(f.typ).Interface(), nil
}

func parseDuration(f field, s string) (any, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf(`want a duration such as "30s" or "5m", got %q`, s)
	}
	return reflect.ValueOf(d).Convert(f.typ).Interface(), nil
}

// describe renders a decoded YAML value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}

// flatMap is a koanf.Provider over a flat map from dotted key to value. The
// koanf env provider cannot serve here, as it reads os.Environ itself while
// Load takes environ as an argument, which keeps tests hermetic.
type flatMap map[string]any

// Read returns the map nested by key component, as koanf merges it.
func (m flatMap) Read() (map[string]any, error) {
	return kmaps.Unflatten(m, "."), nil
}

// ReadBytes is not supported: the map is already parsed.
func (m flatMap) ReadBytes() ([]byte, error) {
	return nil, errors.New("config: flatMap provides no bytes")
}

// rawBytes is a koanf.Provider of YAML already read into memory.
type rawBytes []byte

// ReadBytes returns the bytes for the parser.
func (b rawBytes) ReadBytes() ([]byte, error) { return b, nil }

// Read is not supported: the bytes need a parser.
func (b rawBytes) Read() (map[string]any, error) {
	return nil, errors.New("config: rawBytes must be parsed")
}
