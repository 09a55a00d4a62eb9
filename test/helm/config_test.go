package helm

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/dhtkv/dht/config"
)

// The keys of config.yaml that the chart sets itself when rendering.
var chartOwnedKeys = []string{"cluster.gossip_listen", "cluster.remote_listen", "cluster.seeds", "http.listen", "node.data_dir", "node.memory_limit_mib"}

// The keys whose default in values.yaml differs from config.yaml's on
// purpose: node.memory_limit_mib goes with the chart's
// resources.limits.memory, which config.yaml cannot know; http.lame_duck
// gives a Service's endpoints the time to drop a stopping pod, which a
// node outside Kubernetes does not need.
var valuesOwnedKeys = []string{"node.memory_limit_mib", "http.lame_duck"}

// parseAsDhtd parses YAML as dhtd's loader does (koanf's YAML parser, which
// is go.yaml.in/yaml/v3: YAML 1.2, where n is a string).
func parseAsDhtd(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yamlv3.Unmarshal(data, &m); err != nil {
		t.Fatalf("parse YAML: %v\n%s", err, data)
	}
	return m
}

// parseAsHelm parses YAML as Helm reads values files (sigs.k8s.io/yaml:
// YAML 1.1 through JSON, where a bare n is false and numbers are floats).
func parseAsHelm(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("parse YAML: %v", err)
	}
	return m
}

// flatten returns the leaves of a nested map by dotted key, with values
// normalized through JSON (all numbers float64) so that parsers compare.
func flatten(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if sub, ok := v.(map[string]any); ok {
			for k, v := range sub {
				walk(strings.TrimPrefix(prefix+"."+k, "."), v)
			}
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		var n any
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		out[prefix] = n
	}
	walk("", m)
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// configYAML returns the project's config.yaml, flattened.
func configYAML(t *testing.T) map[string]any {
	return flatten(t, parseAsDhtd(t, readFile(t, filepath.Join(repoRoot, "config.yaml"))))
}

func valuesFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfig_SameKeysAsConfigYAML keeps the chart from drifting from dhtd's
// configuration: values.yaml's config, the rendered config.yaml and the
// values schema all have exactly the keys of config.yaml, and values.yaml
// its defaults.
func TestConfig_SameKeysAsConfigYAML(t *testing.T) {
	want := configYAML(t)
	wantKeys := slices.Sorted(maps.Keys(want))
	if keys := slices.Sorted(slices.Values(config.Keys())); !slices.Equal(keys, wantKeys) {
		t.Fatalf("config.yaml keys %v differ from config.Keys() %v", wantKeys, keys)
	}

	t.Run("values.yaml", func(t *testing.T) {
		values := parseAsHelm(t, readFile(t, filepath.Join(chartDir, "values.yaml")))
		cfg, ok := values["config"].(map[string]any)
		if !ok {
			t.Fatal("values.yaml has no config mapping")
		}
		got := flatten(t, cfg)
		compareKeys(t, "values.yaml config", slices.Sorted(maps.Keys(got)), wantKeys)
		for k, v := range want {
			if g, ok := got[k]; ok && !slices.Contains(valuesOwnedKeys, k) && !reflect.DeepEqual(g, v) {
				t.Errorf("values.yaml config.%s = %v, config.yaml has %v", k, g, v)
			}
		}
	})

	t.Run("rendered", func(t *testing.T) {
		for name, args := range map[string][]string{
			"defaults":  nil,
			"overrides": {"--set", "config.replication.n=5", "--set", "config.cluster.seeds=a:1", "--set", "config.cluster.zone=z"},
		} {
			got := flatten(t, parseAsDhtd(t, []byte(renderedConfig(t, render(t, args...)))))
			compareKeys(t, "rendered config.yaml ("+name+")", slices.Sorted(maps.Keys(got)), wantKeys)
			if name != "defaults" {
				continue
			}
			// Apart from the keys the chart owns, the defaults are config.yaml's.
			for k, v := range want {
				if !slices.Contains(chartOwnedKeys, k) && !slices.Contains(valuesOwnedKeys, k) && !reflect.DeepEqual(got[k], v) {
					t.Errorf("rendered %s = %v, config.yaml has %v", k, got[k], v)
				}
			}
		}
	})

	t.Run("values.schema.json", func(t *testing.T) {
		var s struct {
			Properties struct {
				Config map[string]any `json:"config"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(readFile(t, filepath.Join(chartDir, "values.schema.json")), &s); err != nil {
			t.Fatal(err)
		}
		// Every mapping, config's and its sections' (cluster.tls, http.tls
		// too), refuses unknown keys; every leaf is a key of config.yaml, of
		// its default's type.
		var keys []string
		var walk func(prefix string, schema map[string]any)
		walk = func(prefix string, schema map[string]any) {
			if ap, ok := schema["additionalProperties"].(bool); !ok || ap {
				t.Errorf("schema: %s allows additional properties", prefix)
			}
			props, _ := schema["properties"].(map[string]any)
			for k, p := range props {
				prop, _ := p.(map[string]any)
				key := prefix + "." + k
				if _, nested := prop["properties"]; nested {
					walk(key, prop)
					continue
				}
				key = strings.TrimPrefix(key, "config.")
				keys = append(keys, key)
				if def, ok := want[key]; ok {
					if got, want := schemaKind(prop), valueKind(def); got != want {
						t.Errorf("schema: config.%s is %s, config.yaml's default %v is %s", key, got, def, want)
					}
				}
			}
		}
		walk("config", s.Properties.Config)
		slices.Sort(keys)
		compareKeys(t, "values.schema.json config", keys, wantKeys)
	})
}

func compareKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("%s lacks key %s of config.yaml", what, k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			t.Errorf("%s has key %s, which config.yaml does not", what, k)
		}
	}
}

// schemaKind and valueKind name a key's type as "string", "duration",
// "boolean" or "integer", from the schema and from a default value.
func schemaKind(prop map[string]any) string {
	if _, ok := prop["anyOf"]; ok {
		return "duration"
	}
	return fmt.Sprint(prop["type"])
}

var durationText = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$`)

func valueKind(v any) string {
	switch x := v.(type) {
	case string:
		if durationText.MatchString(x) {
			return "duration"
		}
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "integer"
	}
	return fmt.Sprintf("%T", v)
}

// pod is what the test pretends Kubernetes gave a pod of the StatefulSet.
type pod struct {
	name, ip, node string
	labels         map[string]string
}

var pod0 = pod{name: "dht-0", ip: "10.244.1.7", node: "node-1", labels: map[string]string{"topology.kubernetes.io/zone": "zone-b"}}

var (
	envRef   = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	labelRef = regexp.MustCompile(`^metadata\.labels\['(.+)'\]$`)
)

// environ resolves a container's environment as the kubelet would for p:
// downward API fields, Secret keys (a missing optional key sets nothing)
// and $(VAR) references to variables defined before.
func environ(t *testing.T, ms []manifest, c corev1.Container, p pod) []string {
	t.Helper()
	vars := map[string]string{}
	var out []string
	for _, e := range c.Env {
		value := envRef.ReplaceAllStringFunc(e.Value, func(ref string) string {
			if v, ok := vars[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
		if from := e.ValueFrom; from != nil {
			switch {
			case from.FieldRef != nil:
				path := from.FieldRef.FieldPath
				switch {
				case path == "metadata.name":
					value = p.name
				case path == "metadata.namespace":
					value = namespace
				case path == "status.podIP":
					value = p.ip
				case path == "spec.nodeName":
					value = p.node
				case labelRef.MatchString(path):
					value = p.labels[labelRef.FindStringSubmatch(path)[1]]
				default:
					t.Fatalf("%s: downward API field %q not simulated", e.Name, path)
				}
			case from.SecretKeyRef != nil:
				ref := from.SecretKeyRef
				var data []byte
				var found bool
				for _, s := range all[*corev1.Secret](ms) {
					if s.Name == ref.Name {
						data, found = s.Data[ref.Key]
					}
				}
				if !found {
					if ref.Optional == nil || !*ref.Optional {
						t.Fatalf("%s: key %s of Secret %s is missing and not optional", e.Name, ref.Key, ref.Name)
					}
					continue
				}
				value = string(data)
			default:
				t.Fatalf("%s: valueFrom %+v not simulated", e.Name, from)
			}
		}
		vars[e.Name] = value
		out = append(out, e.Name+"="+value)
	}
	return out
}

// mountedFile maps a path inside container c to a file under dir, by the
// volume mounted there: dir/<volume name>/<path below the mount>.
func mountedFile(t *testing.T, c corev1.Container, path, dir string) (file, volume string) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if rest, ok := strings.CutPrefix(path, m.MountPath+"/"); ok {
			return filepath.Join(dir, m.Name, rest), m.Name
		}
	}
	t.Fatalf("container %s: nothing is mounted at %s", c.Name, path)
	return "", ""
}

// loadPod starts dhtd's config loader as the StatefulSet starts dhtd in pod
// p: the container's command line (its --config path mapped to the files
// the pod would see) and the container's environment. The files are under
// dir; a ConfigMap volume is written there from the rendered ConfigMap.
func loadPod(t *testing.T, ms []manifest, p pod, dir string) config.Config {
	t.Helper()
	sts := one[*appsv1.StatefulSet](t, ms)
	c := container(t, sts.Spec.Template.Spec, "dhtd")
	if len(c.Command) == 0 || c.Command[0] != "/dhtd" {
		t.Fatalf("command = %q, want /dhtd ...", c.Command)
	}
	fs := pflag.NewFlagSet("dhtd", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse(c.Command[1:]); err != nil {
		t.Fatalf("dhtd %q: %v", c.Command[1:], err)
	}
	path := fs.Lookup("config").Value.String()
	file, volume := mountedFile(t, c, path, dir)
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == volume && v.ConfigMap != nil {
			cm := named[*corev1.ConfigMap](t, ms, v.ConfigMap.Name)
			data, ok := cm.Data[filepath.Base(file)]
			if !ok {
				t.Fatalf("dhtd reads %s, but ConfigMap %s has no key %s", path, cm.Name, filepath.Base(file))
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := fs.Set("config", file); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := config.Load(fs, environ(t, ms, c, p))
	if err != nil {
		t.Fatalf("dhtd refuses the rendered config: %v\nconfig.yaml:\n%s", err, readFile(t, file))
	}
	if len(warnings) > 0 {
		t.Errorf("dhtd warns: %q", warnings)
	}
	// The data directory must be on the data volume.
	for _, m := range c.VolumeMounts {
		if m.Name == "data" && !strings.HasPrefix(cfg.Node.DataDir+"/", m.MountPath+"/") {
			t.Errorf("node.data_dir %q is not on the data volume at %s", cfg.Node.DataDir, m.MountPath)
		}
	}
	return cfg
}

// chartDefaults is what dhtd runs with in pod0 of the default rendering:
// config.yaml's defaults with the chart's settings.
func chartDefaults(t *testing.T, ms []manifest, got config.Config) config.Config {
	t.Helper()
	secret := one[*corev1.Secret](t, ms)
	want := config.Default()
	want.Node.ID = got.Node.ID // the host name of wherever the test runs
	want.Node.DataDir = "/var/lib/dht/data"
	want.Node.MemoryLimitMiB = 768 // 75% of the chart's 1Gi memory limit
	want.Cluster.Zone = "zone-b"
	want.Cluster.Seeds = "dht-0.dht-headless.dht-test.svc.cluster.local:7946," +
		"dht-1.dht-headless.dht-test.svc.cluster.local:7946," +
		"dht-2.dht-headless.dht-test.svc.cluster.local:7946"
	want.Cluster.GossipListen = "0.0.0.0:7946"
	want.Cluster.GossipAdvertise = "10.244.1.7:7946"
	want.Cluster.GossipKey = string(secret.Data["gossip-key"])
	want.Cluster.RemoteListen = "0.0.0.0:7070"
	want.Cluster.RemoteAdvertise = "10.244.1.7:7070"
	want.Cluster.HTTPAdvertise = "10.244.1.7:8080"
	want.HTTP.Listen = "0.0.0.0:8080"
	want.HTTP.LameDuck = 5 * time.Second
	want.HTTP.ClientToken = string(secret.Data["client-token"])
	want.HTTP.AdminToken = string(secret.Data["admin-token"])
	want.Security.ContextSecret = string(secret.Data["context-secret"])
	return want
}

// TestConfig_LoadsInDhtd renders the chart and loads the result with dhtd's
// own loader (config.Load: strict keys and types, then validation), in the
// environment the pod gets.
func TestConfig_LoadsInDhtd(t *testing.T) {
	ms := render(t)
	got := loadPod(t, ms, pod0, t.TempDir())
	if got.Node.ID == "" {
		t.Error("node.id is empty; dhtd fills it with the host name, the pod name")
	}
	if want := chartDefaults(t, ms, got); got != want {
		t.Errorf("dhtd's config =\n%+v\nwant\n%+v", got, want)
	}
}

// TestConfig_SetReachesConfigYAML: values given with --set reach the
// rendered config.yaml, and dhtd reads them from it.
func TestConfig_SetReachesConfigYAML(t *testing.T) {
	ms := render(t, "--set", "config.replication.n=5", "--set", "config.storage.sync_writes=true")

	// Read back the ConfigMap's config.yaml as YAML.
	doc := parseAsDhtd(t, []byte(renderedConfig(t, ms)))
	replication, _ := doc["replication"].(map[string]any)
	storage, _ := doc["storage"].(map[string]any)
	if n, ok := replication["n"].(int); !ok || n != 5 {
		t.Errorf("config.yaml replication.n = %#v, want 5", replication["n"])
	}
	if s, ok := storage["sync_writes"].(bool); !ok || !s {
		t.Errorf("config.yaml storage.sync_writes = %#v, want true", storage["sync_writes"])
	}

	got := loadPod(t, ms, pod0, t.TempDir())
	want := chartDefaults(t, ms, got)
	want.Replication.N = 5
	want.Storage.SyncWrites = true
	if got != want {
		t.Errorf("dhtd's config =\n%+v\nwant\n%+v", got, want)
	}
}

// TestConfig_Overrides covers more ways values reach dhtd: big integers
// (Helm turns values-file numbers into floats), durations, strings that
// look like numbers, escaped commas, and the keys the chart derives.
func TestConfig_Overrides(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  []string
		p     pod
		check func(c config.Config) string
	}{{
		name: "big integers by --set",
		args: []string{"--set", "config.http.max_body_bytes=67108864", "--set", "config.limits.max_value_bytes=67108864",
			"--set", "config.handoff.max_hint_bytes=1099511627776"},
		check: func(c config.Config) string {
			return expect(c.HTTP.MaxBodyBytes == 64<<20 && c.Limits.MaxValueBytes == 64<<20 && c.Handoff.MaxHintBytes == 1<<40, c.HTTP, c.Limits, c.Handoff)
		},
	}, {
		name: "big integers from a values file",
		args: []string{"-f", "VALUES:config:\n  http:\n    max_body_bytes: 67108864\n  limits:\n    max_value_bytes: 33554432\n  handoff:\n    max_hint_bytes: 1099511627776\n    max_hints: 5000000\n"},
		check: func(c config.Config) string {
			return expect(c.HTTP.MaxBodyBytes == 64<<20 && c.Limits.MaxValueBytes == 32<<20 &&
				c.Handoff.MaxHintBytes == 1<<40 && c.Handoff.MaxHints == 5000000, c.HTTP, c.Limits, c.Handoff)
		},
	}, {
		name: "quoted n in a values file",
		args: []string{"-f", "VALUES:config:\n  replication:\n    \"n\": 5\n    w: 3\n    r: 3\n"},
		check: func(c config.Config) string {
			return expect(c.Replication.N == 5 && c.Replication.W == 3 && c.Replication.R == 3, c.Replication)
		},
	}, {
		name: "durations",
		args: []string{"--set", "config.http.read_timeout=1m30s", "--set", "config.storage.value_log_gc_interval=0",
			"--set", "config.entropy.tombstone_grace=72h"},
		check: func(c config.Config) string {
			return expect(c.HTTP.ReadTimeout == 90*time.Second && c.Storage.ValueLogGCInterval == 0 &&
				c.Entropy.TombstoneGrace == 72*time.Hour, c.HTTP, c.Storage, c.Entropy)
		},
	}, {
		name: "static zone that looks like a number",
		args: []string{"--set-string", "config.cluster.zone=1"},
		check: func(c config.Config) string {
			return expect(c.Cluster.Zone == "1", c.Cluster.Zone)
		},
	}, {
		name: "no zone label on the pod",
		p:    pod{name: "dht-0", ip: "10.0.0.1", node: "node-1"},
		check: func(c config.Config) string {
			return expect(c.Cluster.Zone == "", c.Cluster.Zone)
		},
	}, {
		name: "zone.source none",
		args: []string{"--set", "zone.source=none"},
		check: func(c config.Config) string {
			return expect(c.Cluster.Zone == "", c.Cluster.Zone)
		},
	}, {
		name: "explicit seeds",
		args: []string{"--set", `config.cluster.seeds=a.example:7946\,b.example:7946`},
		check: func(c config.Config) string {
			return expect(slices.Equal(c.SeedList(), []string{"a.example:7946", "b.example:7946"}), c.Cluster.Seeds)
		},
	}, {
		name: "seeds follow replicaCount and the release",
		args: []string{"--set", "replicaCount=2", "--set", "clusterDomain=k8s.example", "--set", "fullnameOverride=kv"},
		check: func(c config.Config) string {
			return expect(c.Cluster.Seeds == "kv-0.kv-headless.dht-test.svc.k8s.example:7946,kv-1.kv-headless.dht-test.svc.k8s.example:7946", c.Cluster.Seeds)
		},
	}, {
		name: "absolute data_dir",
		args: []string{"--set", "config.node.data_dir=/var/lib/dht/store"},
		check: func(c config.Config) string {
			return expect(c.Node.DataDir == "/var/lib/dht/store", c.Node.DataDir)
		},
	}, {
		name: "relative data_dir on another mount path",
		args: []string{"--set", "config.node.data_dir=store/../v1/", "--set", "persistence.mountPath=/data"},
		check: func(c config.Config) string {
			return expect(c.Node.DataDir == "/data/v1", c.Node.DataDir)
		},
	}, {
		name: "IPv6 pod addresses",
		args: []string{"--set", "ipv6=true"},
		p:    pod{name: "dht-0", ip: "fd00:10:244::7", node: "node-1"},
		check: func(c config.Config) string {
			return expect(c.Cluster.GossipAdvertise == "[fd00:10:244::7]:7946" && c.Cluster.HTTPAdvertise == "[fd00:10:244::7]:8080", c.Cluster)
		},
	}, {
		name: "metrics listener",
		args: []string{"--set", "config.http.metrics_listen=127.0.0.1:9090"},
		check: func(c config.Config) string {
			return expect(c.HTTP.MetricsListen == "0.0.0.0:9090" && c.HTTP.Listen == "0.0.0.0:8080", c.HTTP)
		},
	}, {
		name: "new HTTP bounds",
		args: []string{"--set", "config.http.max_header_bytes=32768", "--set", "config.http.idle_timeout=30s", "--set", "config.http.max_connections=0"},
		check: func(c config.Config) string {
			return expect(c.HTTP.MaxHeaderBytes == 32768 && c.HTTP.IdleTimeout == 30*time.Second && c.HTTP.MaxConnections == 0, c.HTTP)
		},
	}, {
		name: "context secrets from the Secret",
		args: []string{"--set", "secret.contextSecret=0123456789abcdefXYZ", "--set", "config.security.previous_context_secret=previous-secret-0123"},
		check: func(c config.Config) string {
			return expect(c.Security.ContextSecret == "0123456789abcdefXYZ" && c.Security.PreviousContextSecret == "previous-secret-0123", c.Security)
		},
	}, {
		name: "everything else",
		args: []string{"--set", "config.storage.engine=memory", "--set", "config.log.level=debug", "--set", "config.log.format=text",
			"--set", "config.ring.partitions=1024", "--set", "config.entropy.enabled=false", "--set", "config.cluster.name=prod"},
		check: func(c config.Config) string {
			return expect(c.Storage.Engine == "memory" && c.Log.Level == "debug" && c.Log.Format == "text" &&
				c.Ring.Partitions == 1024 && !c.Entropy.Enabled && c.Cluster.Name == "prod", c.Storage, c.Log, c.Ring, c.Entropy)
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			args := slices.Clone(tt.args)
			for i, a := range args {
				if content, ok := strings.CutPrefix(a, "VALUES:"); ok {
					args[i] = valuesFile(t, content)
				}
			}
			p := tt.p
			if p.name == "" {
				p = pod0
			}
			c := loadPod(t, render(t, args...), p, t.TempDir())
			if msg := tt.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func expect(ok bool, got ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf("unexpected config: %+v", got)
}

// TestZone_InitContainer runs the zone init container's script (from the
// rendered StatefulSet) with a stand-in kubectl, then loads the config.yaml
// it wrote the way dhtd would, as the pod's containers share it.
func TestZone_InitContainer(t *testing.T) {
	ms := render(t, valueSets["everything"]...)
	spec := one[*appsv1.StatefulSet](t, ms).Spec.Template.Spec
	initC := container(t, spec, "zone")
	if len(initC.Command) != 3 || initC.Command[0] != "/bin/sh" || initC.Command[1] != "-ec" {
		t.Fatalf("init command = %q, want /bin/sh -ec SCRIPT", initC.Command)
	}

	for _, tt := range []struct {
		name, label string
		wantZone    string
		wantErr     bool
	}{
		{name: "labelled node", label: "eu-west-1a", wantZone: "eu-west-1a"},
		{name: "node without the label", label: "", wantZone: ""},
		{name: "not a label value", label: "a zone\" x", wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// The volumes: the ConfigMap template, the shared config dir.
			var mapping []string
			for _, m := range initC.VolumeMounts {
				mapping = append(mapping, m.MountPath+"/", filepath.Join(dir, m.Name)+"/")
				if err := os.MkdirAll(filepath.Join(dir, m.Name), 0o755); err != nil {
					t.Fatal(err)
				}
				for _, v := range spec.Volumes {
					if v.Name == m.Name && v.ConfigMap != nil {
						cm := named[*corev1.ConfigMap](t, ms, v.ConfigMap.Name)
						if err := os.WriteFile(filepath.Join(dir, m.Name, "config.yaml"), []byte(cm.Data["config.yaml"]), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			// One pass, so that a replacement is never replaced again.
			script := strings.NewReplacer(mapping...).Replace(initC.Command[2])
			bin := filepath.Join(dir, "bin")
			kubectl := "#!/bin/sh\nprintf '%s\\n' \"$@\" >\"$KUBECTL_ARGS\"\nprintf '%s' \"$FAKE_ZONE\"\n"
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(kubectl), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-ec", script)
			cmd.Env = append(environ(t, ms, initC, pod0),
				"PATH="+bin+":"+os.Getenv("PATH"),
				"KUBECTL_ARGS="+filepath.Join(dir, "kubectl-args"),
				"FAKE_ZONE="+tt.label)
			out, err := cmd.CombinedOutput()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("the script accepted zone %q:\n%s", tt.label, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("init script: %v\n%s", err, out)
			}
			args := strings.Fields(string(readFile(t, filepath.Join(dir, "kubectl-args"))))
			if want := []string{"get", "node", "node-1", "-o", `jsonpath={.metadata.labels.topology\.kubernetes\.io/zone}`}; !slices.Equal(args, want) {
				t.Errorf("kubectl %q, want %q", args, want)
			}
			c := loadPod(t, ms, pod0, dir)
			if c.Cluster.Zone != tt.wantZone {
				t.Errorf("zone = %q, want %q", c.Cluster.Zone, tt.wantZone)
			}
		})
	}
}

// TestNotes renders NOTES.txt (which `helm template` leaves out) by
// wrapping it into a ConfigMap in a copy of the chart.
func TestNotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dht")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	notes := readFile(t, filepath.Join(chartDir, "templates", "NOTES.txt"))
	wrap := map[string]string{
		"_test_notes.tpl": `{{- define "test.notes" -}}` + string(notes) + `{{- end }}`,
		"test-notes.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n    {{- include \"test.notes\" . | nindent 4 }}\n",
	}
	for name, content := range wrap {
		if err := os.WriteFile(filepath.Join(dir, "templates", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	get := func(args ...string) string {
		out, err := runHelm(t, append([]string{"template", release, dir, "--namespace", namespace, "--show-only", "templates/test-notes.yaml"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := decodeAll(out)
		if err != nil {
			t.Fatal(err)
		}
		return one[*corev1.ConfigMap](t, ms).Data["notes"]
	}
	text := get()
	for _, want := range []string{
		"kubectl -n dht-test port-forward svc/dht 8080:8080",
		"export DHTCTL_ADDR=http://127.0.0.1:8080",
		"get secret dht -o jsonpath='{.data.client-token}'",
		"dhtctl members",
		"kubectl -n dht-test exec dht-0 -- /dhtctl members",
		"http://dht.dht-test.svc.cluster.local:8080",
		"topology.kubernetes.io/zone",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("NOTES lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "WARNING") {
		t.Errorf("NOTES warn with the defaults:\n%s", text)
	}
	if !strings.Contains(text, "TLS: off") || !strings.Contains(text, "NetworkPolicy admits only this release's pods") {
		t.Errorf("NOTES do not say that TLS is off and what guards the remote port:\n%s", text)
	}
	text = get("--set", "tls.existingSecret=dht-tls")
	for _, want := range []string{
		"https://dht.dht-test.svc.cluster.local:8080",
		"export DHTCTL_ADDR=https://127.0.0.1:8080",
		`kubectl -n dht-test get secret dht-tls -o jsonpath='{.data.ca\.crt}' | base64 -d > dht-ca.crt`,
		"export DHTCTL_CACERT=",
		"TLS: mutual TLS between nodes and HTTPS on the API",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("NOTES with TLS lack %q:\n%s", want, text)
		}
	}
	text = get("--set", "replicaCount=2", "--set", "persistence.enabled=false", "--set", "secret.generate.clientToken=false")
	if n := strings.Count(text, "WARNING"); n != 3 {
		t.Errorf("NOTES have %d warnings, want 3 (replicas below n, no persistence, no client token):\n%s", n, text)
	}
}
