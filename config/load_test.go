package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// flags returns a FlagSet with the config flags registered and args parsed.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("dhtd", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return fs
}

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	return h
}

// writeYAML writes body to a file in a fresh directory and returns its path.
func writeYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad_Precedence(t *testing.T) {
	const file = "testdata/layers.yaml"
	// fromFile is Default overlaid with testdata/layers.yaml.
	fromFile := func() Config {
		c := Default()
		c.Node = Node{ID: "node-from-file", DataDir: "/var/lib/dht"}
		c.HTTP.Listen = "0.0.0.0:9090"
		c.HTTP.ReadTimeout = time.Minute
		c.Replication.N, c.Replication.R, c.Replication.W = 5, 3, 3
		c.Storage.Engine = "memory"
		c.Storage.SyncWrites = true
		c.Log.Level = "debug"
		return c
	}
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    func() Config
	}{
		{
			name: "defaults only, id from host name",
			want: func() Config {
				c := Default()
				c.Node.ID = hostname(t)
				return c
			},
		},
		{
			name: "file over defaults",
			args: []string{"--config", file},
			want: fromFile,
		},
		{
			name: "env over file",
			args: []string{"--config", file},
			environ: []string{
				"DHT_REPLICATION_N=7",
				"DHT_STORAGE_SYNC_WRITES=false",
				"DHT_HTTP_READ_TIMEOUT=2m",
				"DHT_LIMITS_MAX_SIBLINGS=8",
			},
			want: func() Config {
				c := fromFile()
				c.Replication.N = 7
				c.Storage.SyncWrites = false
				c.HTTP.ReadTimeout = 2 * time.Minute
				c.Limits.MaxSiblings = 8
				return c
			},
		},
		{
			name:    "flag over env over file",
			args:    []string{"--config", file, "--replication.n=4", "--storage.sync_writes", "--http.max_body_bytes=3000000"},
			environ: []string{"DHT_REPLICATION_N=7", "DHT_STORAGE_SYNC_WRITES=false", "DHT_LOG_FORMAT=text"},
			want: func() Config {
				c := fromFile()
				c.Replication.N = 4
				c.Storage.SyncWrites = true
				c.HTTP.MaxBodyBytes = 3000000
				c.Log.Format = "text"
				return c
			},
		},
		{
			// A flag set to its default value was still set by the user, so
			// it wins; an unset flag never does.
			name:    "flag set to its default still overrides",
			args:    []string{"--config", file, "--replication.n=3", "--storage.engine=badger"},
			environ: []string{"DHT_REPLICATION_N=7"},
			want: func() Config {
				c := fromFile()
				c.Replication.N = 3
				c.Storage.Engine = "badger"
				return c
			},
		},
		{
			name:    "env without file",
			environ: []string{"DHT_NODE_ID=n1", "DHT_STORAGE_ENGINE=memory", "DHT_NODE_DATA_DIR=", "DHT_HTTP_CLIENT_TOKEN=a=b"},
			want: func() Config {
				c := Default()
				c.Node.ID = "n1"
				c.HTTP.ClientToken = "a=b"
				c.Node.DataDir = ""
				c.Storage.Engine = "memory"
				return c
			},
		},
		{
			name:    "later duplicate env entry wins",
			environ: []string{"DHT_NODE_ID=first", "DHT_NODE_ID=second"},
			want: func() Config {
				c := Default()
				c.Node.ID = "second"
				return c
			},
		},
		{
			name: "file with empty sections keeps defaults",
			args: []string{"--config", "testdata/empty_sections.yaml", "--node.id=n1"},
			want: func() Config {
				c := Default()
				c.Node.ID = "n1"
				return c
			},
		},
		{
			name: "integral floats from helm and bare zero duration",
			args: []string{"--config", "testdata/helm_floats.yaml", "--node.id=n1"},
			want: func() Config {
				c := Default()
				c.Node.ID = "n1"
				c.HTTP.MaxBodyBytes = 4 << 20
				c.Limits.MaxValueBytes = 2 << 20
				c.Storage.ValueLogGCInterval = 0
				return c
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := Load(flags(t, tt.args...), tt.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings = %q, want none", warnings)
			}
			if want := tt.want(); got != want {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoad_FlagsOnlyWhenSet(t *testing.T) {
	// Every config flag is registered with Default's value; none is set, so
	// none may mask the file or the environment.
	fs := flags(t, "--config", "testdata/layers.yaml")
	got, _, err := Load(fs, []string{"DHT_LOG_FORMAT=text"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Replication.N != 5 || got.Log.Format != "text" || got.Storage.Engine != "memory" {
		t.Errorf("unset flags overrode lower layers: %+v", got)
	}
}

func TestLoad_ForeignFlagsIgnored(t *testing.T) {
	fs := pflag.NewFlagSet("dhtd", pflag.ContinueOnError)
	RegisterFlags(fs)
	fs.Bool("version", false, "print the version")
	fs.String("replication", "", "not a key, though it looks like a section")
	if err := fs.Parse([]string{"--version", "--replication=x", "--node.id=n1"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := Load(fs, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Node.ID != "n1" {
		t.Errorf("Node.ID = %q, want n1", got.Node.ID)
	}
}

func TestLoad_NilFlagSet(t *testing.T) {
	got, _, err := Load(nil, []string{"DHT_REPLICATION_N=5"})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Node.ID = hostname(t)
	want.Replication.N = 5
	if got != want {
		t.Errorf("Load(nil) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoad_FileErrors(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		wants []string // substrings of the error, in order
	}{
		{
			name: "unknown key",
			path: "testdata/unknown_key.yaml",
			wants: []string{
				`testdata/unknown_key.yaml: unknown key "gossip.key"`,
				`testdata/unknown_key.yaml: unknown key "storage.sync_write"`,
			},
		},
		{
			name:  "wrong type",
			path:  "testdata/wrong_type.yaml",
			wants: []string{`testdata/wrong_type.yaml: storage.sync_writes: want true or false, got string "yes"`},
		},
		{
			name:  "syntax error names the file",
			path:  "testdata/bad_syntax.yaml",
			wants: []string{"testdata/bad_syntax.yaml: ", "line 3"},
		},
		{
			name:  "missing file",
			path:  "testdata/no_such_file.yaml",
			wants: []string{"testdata/no_such_file.yaml", "no such file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(flags(t, "--config", tt.path), nil)
			assertErr(t, err, tt.wants...)
		})
	}
}

func TestLoad_WrongTypeInYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"bool as string", "storage:\n  sync_writes: \"true\"\n",
			`storage.sync_writes: want true or false, got string "true"`},
		{"int as string", "replication:\n  n: \"3\"\n",
			`replication.n: want an integer, got string "3"`},
		{"int with fraction", "limits:\n  max_key_bytes: 1.5\n",
			"limits.max_key_bytes: want an integer, got float64 1.5"},
		{"int out of range", "http:\n  max_body_bytes: 18446744073709551615\n",
			"http.max_body_bytes: want an integer, got uint64 18446744073709551615"},
		{"bare number as duration", "http:\n  read_timeout: 30\n",
			`http.read_timeout: want a duration such as "30s" or "5m", got int 30`},
		{"bad duration", "replication:\n  request_timeout: soon\n",
			`replication.request_timeout: want a duration such as "30s" or "5m", got "soon"`},
		{"days are not Go syntax", "storage:\n  value_log_gc_interval: 1d\n",
			`storage.value_log_gc_interval: want a duration such as "30s" or "5m", got "1d"`},
		{"number as string key", "node:\n  id: 123\n",
			"node.id: want a string, got int 123 (quote it)"},
		{"list as string key", "storage:\n  engine: [badger]\n",
			"storage.engine: want a string, got a list"},
		{"mapping as string key", "storage:\n  engine: {}\n",
			"storage.engine: want a string, got a mapping"},
		{"section as scalar", "storage: badger\n",
			`storage: want a mapping of keys, got string "badger"`},
		{"leaf given a mapping", "log:\n  level:\n    name: info\n",
			`unknown key "log.level.name"`},
		{"dotted key misspelt", "storage.sync_write: true\n",
			`unknown key "storage.sync_write"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeYAML(t, tt.yaml)
			_, _, err := Load(flags(t, "--config", path), nil)
			assertErr(t, err, path+": "+tt.want)
		})
	}
}

func TestLoad_AllFileErrorsAtOnce(t *testing.T) {
	path := writeYAML(t, "replication:\n  n: three\n  r: 1.5\nlog:\n  levle: info\n")
	_, _, err := Load(flags(t, "--config", path), nil)
	assertErr(t, err,
		`log.levle`,
		`replication.n: want an integer`,
		`replication.r: want an integer`,
	)
}

func TestLoad_WrongTypeInEnvAndFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    string
	}{
		{"env int", nil, []string{"DHT_REPLICATION_N=three"},
			`DHT_REPLICATION_N: replication.n: want an integer, got "three"`},
		{"env empty int", nil, []string{"DHT_REPLICATION_N="},
			`DHT_REPLICATION_N: replication.n: want an integer, got ""`},
		{"env int overflow", nil, []string{"DHT_HTTP_MAX_BODY_BYTES=99999999999999999999"},
			`DHT_HTTP_MAX_BODY_BYTES: http.max_body_bytes: want an integer`},
		{"env bool", nil, []string{"DHT_STORAGE_SYNC_WRITES=yes"},
			`DHT_STORAGE_SYNC_WRITES: storage.sync_writes: want true or false, got "yes"`},
		{"env duration", nil, []string{"DHT_HTTP_READ_TIMEOUT=30"},
			`DHT_HTTP_READ_TIMEOUT: http.read_timeout: want a duration such as "30s" or "5m", got "30"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(flags(t, tt.args...), tt.environ)
			assertErr(t, err, tt.want)
		})
	}
}

func TestLoad_HandRegisteredFlagOfWrongType(t *testing.T) {
	// dhtd could register a key's flag itself; its text is still checked
	// against the key's type.
	fs := pflag.NewFlagSet("dhtd", pflag.ContinueOnError)
	fs.String("replication.n", "", "")
	if err := fs.Parse([]string{"--replication.n=many"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(fs, nil)
	assertErr(t, err, `flag --replication.n: want an integer, got "many"`)
}

func TestLoad_EnvWarnings(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"DHT_SERVICE_PORT=8080",
		"DHT_SERVICE_HOST=10.0.0.1",
		"DHT_PORT_8080_TCP=tcp://10.0.0.1:8080",
		"DHT_SERVICE_HOST=10.0.0.1", // duplicates warn once
		"dht_replication_n=9",       // not our prefix: not even a warning
		"DHT_REPLICATION_N=5",
		"MALFORMED",
	}
	got, warnings, err := Load(nil, environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{
		"ignoring environment variable DHT_PORT_8080_TCP: not a config key",
		"ignoring environment variable DHT_SERVICE_HOST: not a config key",
		"ignoring environment variable DHT_SERVICE_PORT: not a config key",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings =\n%q\nwant\n%q", warnings, want)
	}
	if got.Replication.N != 5 {
		t.Errorf("Replication.N = %d, want 5", got.Replication.N)
	}
}

func TestLoad_WarningsSurviveErrors(t *testing.T) {
	// A misspelt variable is the likely reason for the validation error,
	// so the warning must reach the operator with it.
	_, warnings, err := Load(nil, []string{"DHT_REPLICATON_N=5", "DHT_REPLICATION_R=5"})
	assertErr(t, err, "replication.r: must be between 1 and replication.n (3), got 5")
	if len(warnings) != 1 || !strings.Contains(warnings[0], "DHT_REPLICATON_N") {
		t.Errorf("warnings = %q, want one naming DHT_REPLICATON_N", warnings)
	}
}

func TestLoad_Validates(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    string
	}{
		{"from env", nil, []string{"DHT_RING_PARTITIONS=100"},
			"ring.partitions: must be a power of two from 8 to 65536, got 100"},
		{"from flag", []string{"--replication.w=0"}, nil,
			"replication.w: must be between 1 and replication.n (3), got 0"},
		{"across layers", []string{"--limits.max_value_bytes=4194304"}, nil,
			"http.max_body_bytes: must be at least limits.max_value_bytes (4194304), got 2097152"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Load(flags(t, tt.args...), tt.environ)
			assertErr(t, err, tt.want)
			if cfg != (Config{}) {
				t.Errorf("cfg = %+v on error, want the zero Config", cfg)
			}
		})
	}
}

func TestRegisterFlags_Usage(t *testing.T) {
	fs := flags(t)
	if f := fs.Lookup("config"); f == nil || f.DefValue != "" {
		t.Errorf("--config flag = %+v, want one with an empty default", f)
	}
	d := Default()
	for _, key := range Keys() {
		t.Run(key, func(t *testing.T) {
			f := fs.Lookup(key)
			if f == nil {
				t.Fatalf("no flag --%s", key)
			}
			field := fieldByKey[key]
			if want := fmt.Sprint(d.get(field)); f.DefValue != want {
				t.Errorf("default shown as %q, want %q", f.DefValue, want)
			}
			if help[key] == "" {
				t.Error("no help text")
			}
			if !strings.Contains(f.Usage, field.env) {
				t.Errorf("usage %q does not name %s", f.Usage, field.env)
			}
		})
	}
	for key := range help {
		if _, ok := fieldByKey[key]; !ok {
			t.Errorf("help for unknown key %q", key)
		}
	}
}

func TestDecode_NamesKey(t *testing.T) {
	// decode is a backstop behind the per-layer checks; feed it what those
	// checks would have caught to see that mapstructure's errors still name
	// the dotted key.
	tests := []struct {
		name string
		set  map[string]any
		want string
	}{
		{"unknown key in section", map[string]any{"storage.sync_write": true},
			`unknown key "storage.sync_write"`},
		{"unknown section", map[string]any{"gossip.key": "x"},
			`unknown key "gossip"`},
		{"wrong type", map[string]any{"storage.sync_writes": "yes"},
			"storage.sync_writes: expected type 'bool'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ko := koanf.New(".")
			if err := ko.Load(flatMap(Default().flat()), nil); err != nil {
				t.Fatal(err)
			}
			if err := ko.Load(flatMap(tt.set), nil); err != nil {
				t.Fatal(err)
			}
			_, err := decode(ko)
			assertErr(t, err, tt.want)
		})
	}
}

// assertErr fails unless err's text contains each of wants, in order.
func assertErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want one containing %q", wants)
	}
	msg := err.Error()
	rest := msg
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("error\n%s\ndoes not contain (in order) %q", msg, w)
		}
		rest = rest[i+len(w):]
	}
}

// TestLoad_SubSections covers the keys one level deeper (cluster.tls.*,
// http.tls.*) through every layer: nested YAML, DHT_CLUSTER_TLS_… variables
// and dotted flags, each over the one before.
func TestLoad_SubSections(t *testing.T) {
	fs := flags(t, "--config", "testdata/tls.yaml", "--http.tls.client_ca_file=/flag/ca.pem")
	got, _, err := Load(fs, []string{"DHT_CLUSTER_TLS_KEY_FILE=/env/tls.key", "DHT_SECURITY_CONTEXT_SECRET=0123456789abcdef-secret"})
	if err != nil {
		t.Fatal(err)
	}
	want := ClusterTLS{CAFile: "/etc/dht/tls/ca.crt", CertFile: "/etc/dht/tls/tls.crt", KeyFile: "/env/tls.key"}
	if got.Cluster.TLS != want {
		t.Errorf("Cluster.TLS = %+v, want %+v", got.Cluster.TLS, want)
	}
	wantHTTP := HTTPTLS{CertFile: "/etc/dht/http/tls.crt", KeyFile: "/etc/dht/http/tls.key", ClientCAFile: "/flag/ca.pem"}
	if got.HTTP.TLS != wantHTTP {
		t.Errorf("HTTP.TLS = %+v, want %+v", got.HTTP.TLS, wantHTTP)
	}
	if got.Security.ContextSecret != "0123456789abcdef-secret" {
		t.Errorf("Security.ContextSecret = %q", got.Security.ContextSecret)
	}

	_, _, err = Load(flags(t, "--config", "testdata/tls_scalar.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "cluster.tls: want a mapping") {
		t.Errorf("a scalar sub-section: err = %v, want one naming cluster.tls", err)
	}
}
