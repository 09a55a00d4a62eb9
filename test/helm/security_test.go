package helm

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// admitted reports which sources a NetworkPolicy's ingress rules admit to
// a container port: anywhere (a rule for the port with no from), and
// else the peers of the rules that list the port.
func admitted(np *networkingv1.NetworkPolicy, port corev1.ContainerPort) (anywhere bool, peers []networkingv1.NetworkPolicyPeer, covered bool) {
	for _, rule := range np.Spec.Ingress {
		match := len(rule.Ports) == 0
		for _, p := range rule.Ports {
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			want := port.Protocol
			if want == "" {
				want = corev1.ProtocolTCP
			}
			if proto == want && p.Port != nil && (p.Port.IntValue() == int(port.ContainerPort) || p.Port.String() == port.Name) {
				match = true
			}
		}
		if !match {
			continue
		}
		covered = true
		if len(rule.From) == 0 {
			anywhere = true
		}
		peers = append(peers, rule.From...)
	}
	return anywhere, peers, covered
}

// TestNetworkPolicy: the remote and gossip ports admit only the chart's
// pods (and the peers given); the HTTP API and the metrics port admit
// everyone unless restricted; nothing else is open.
func TestNetworkPolicy(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		ms := render(t)
		np := one[*networkingv1.NetworkPolicy](t, ms)
		sts := one[*appsv1.StatefulSet](t, ms)
		podLabels := labels.Set(sts.Spec.Template.Labels)
		if !labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels).Matches(podLabels) || len(np.Spec.PodSelector.MatchExpressions) > 0 {
			t.Errorf("podSelector %+v does not select the pods %v", np.Spec.PodSelector, podLabels)
		}
		if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
			t.Errorf("policyTypes %v, want Ingress", np.Spec.PolicyTypes)
		}
		// A pod of another release of the chart in the same namespace.
		other := labels.Set(withLabel(podLabels, "app.kubernetes.io/instance", "other"))
		for _, port := range container(t, sts.Spec.Template.Spec, "dhtd").Ports {
			anywhere, peers, covered := admitted(np, port)
			switch port.Name {
			case "http":
				if !anywhere {
					t.Errorf("port %s: not open to clients", port.Name)
				}
			case "remote", "gossip-tcp", "gossip-udp":
				if anywhere || len(peers) == 0 {
					t.Errorf("port %s (%s): admitted from anywhere %v, peers %+v; want the chart's pods only", port.Name, port.Protocol, anywhere, peers)
				}
				for _, p := range peers {
					if p.NamespaceSelector != nil || p.IPBlock != nil || p.PodSelector == nil {
						t.Errorf("port %s admits %+v: not a pod of this namespace", port.Name, p)
						continue
					}
					sel, err := metav1.LabelSelectorAsSelector(p.PodSelector)
					if err != nil {
						t.Fatal(err)
					}
					if !sel.Matches(podLabels) || sel.Matches(other) {
						t.Errorf("port %s admits pods %v: want this release's pods, and not another's", port.Name, sel)
					}
				}
			default:
				t.Errorf("port %s: not expected", port.Name)
			}
			if !covered {
				t.Errorf("port %s (%d/%s): no rule", port.Name, port.ContainerPort, port.Protocol)
			}
		}
	})

	t.Run("restricted", func(t *testing.T) {
		ms := render(t, valueSets["everything"]...)
		np := one[*networkingv1.NetworkPolicy](t, ms)
		sts := one[*appsv1.StatefulSet](t, ms)
		for _, port := range container(t, sts.Spec.Template.Spec, "dhtd").Ports {
			anywhere, peers, covered := admitted(np, port)
			if !covered || anywhere {
				t.Errorf("port %s: covered %v, from anywhere %v; want restricted", port.Name, covered, anywhere)
				continue
			}
			var got []string
			for _, p := range peers {
				b, _ := json.Marshal(p)
				got = append(got, string(b))
			}
			want := map[string][]string{
				"http":    {`{"namespaceSelector":{"matchLabels":{"team":"apps"}}}`},
				"metrics": {`{"podSelector":{"matchLabels":{"app":"prometheus"}}}`},
			}[port.Name]
			if want == nil {
				want = []string{
					`{"podSelector":{"matchLabels":{"app.kubernetes.io/instance":"dht","app.kubernetes.io/name":"dht"}}}`,
					`{"podSelector":{"matchLabels":{"app.kubernetes.io/instance":"dht-zone-b"}}}`,
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("port %s admits %v, want %v", port.Name, got, want)
			}
		}
	})

	t.Run("disabled", func(t *testing.T) {
		if nps := all[*networkingv1.NetworkPolicy](render(t, "--set", "networkPolicy.enabled=false")); len(nps) != 0 {
			t.Errorf("rendered %d NetworkPolicies with networkPolicy.enabled=false", len(nps))
		}
	})
}

// withLabel returns a copy of m with key set to value.
func withLabel(m labels.Set, key, value string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	out[key] = value
	return out
}

// TestSecret_NeverInConfigMap: secrets given under config are moved into
// the Secret; the ConfigMap (readable by anyone who may read config) never
// holds them.
func TestSecret_NeverInConfigMap(t *testing.T) {
	values := map[string]string{
		"config.cluster.gossip_key":               base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")),
		"config.http.client_token":                "client-token-value",
		"config.http.admin_token":                 "admin-token-value",
		"config.security.context_secret":          "context-secret-value",
		"config.security.previous_context_secret": "previous-context-secret-value",
	}
	var args []string
	for k, v := range values {
		args = append(args, "--set", k+"="+v)
	}
	ms := render(t, args...)
	cfg := renderedConfig(t, ms)
	data := one[*corev1.Secret](t, ms).Data
	for k, v := range values {
		if strings.Contains(cfg, v) {
			t.Errorf("the ConfigMap holds %s", k)
		}
		found := false
		for _, d := range data {
			found = found || string(d) == v
		}
		if !found {
			t.Errorf("the Secret lacks %s", k)
		}
	}
	got := loadPod(t, ms, pod0, t.TempDir())
	if got.Security.ContextSecret != values["config.security.context_secret"] ||
		got.Security.PreviousContextSecret != values["config.security.previous_context_secret"] {
		t.Errorf("dhtd's security = %+v", got.Security)
	}
}

// The call in templates/secret.yaml that reads the release's Secret.
const secretLookup = `lookup "v1" "Secret" .Release.Namespace $name`

// TestSecret_KeptOnUpgrade: on `helm upgrade` the chart reads the
// release's Secret (lookup) and keeps what it generated before. `helm
// template` cannot look up, so the test renders a copy of the chart whose
// lookup returns values.testLookup: the Secret as the cluster holds it.
func TestSecret_KeptOnUpgrade(t *testing.T) {
	tmpl := string(readFile(t, filepath.Join(chartDir, "templates", "secret.yaml")))
	if n := strings.Count(tmpl, secretLookup); n != 1 {
		t.Fatalf("templates/secret.yaml calls %q %d times, want once", secretLookup, n)
	}
	dir := filepath.Join(t.TempDir(), "dht")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "secret.yaml"),
		[]byte(strings.Replace(tmpl, secretLookup, ".Values.testLookup", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	old := map[string]string{
		"gossip-key":              b64(b64("0123456789abcdef0123456789abcdef")),
		"client-token":            b64("old-client-token"),
		"admin-token":             b64("old-admin-token"),
		"context-secret":          b64("old-context-secret-0123"),
		"previous-context-secret": b64("older-context-secret-0123"),
	}
	secretOf := func(t *testing.T, old map[string]string, args ...string) map[string]string {
		t.Helper()
		fixture, err := json.Marshal(map[string]any{"testLookup": map[string]any{"data": old}})
		if err != nil {
			t.Fatal(err)
		}
		values := filepath.Join(t.TempDir(), "lookup.json")
		if err := os.WriteFile(values, fixture, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runHelm(t, append([]string{"template", release, dir, "--namespace", namespace, "-f", values}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := decodeAll(out)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for k, v := range one[*corev1.Secret](t, ms).Data {
			got[k] = string(v)
		}
		return got
	}
	unb64 := func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("kept", func(t *testing.T) {
		got := secretOf(t, old)
		for _, k := range []string{"gossip-key", "client-token", "admin-token", "context-secret"} {
			if got[k] != unb64(old[k]) {
				t.Errorf("%s = %q, want the release's %q", k, got[k], unb64(old[k]))
			}
		}
		// The previous context secret is what values say: none here, which
		// ends a rotation.
		if got["previous-context-secret"] != "" {
			t.Errorf("previous-context-secret = %q kept; want it empty unless given", got["previous-context-secret"])
		}
	})
	t.Run("given values win", func(t *testing.T) {
		got := secretOf(t, old, "--set", "secret.clientToken=new-client-token",
			"--set", "secret.contextSecret=new-context-secret-0123", "--set", "secret.previousContextSecret=old-context-secret-0123")
		want := map[string]string{"client-token": "new-client-token", "admin-token": "old-admin-token",
			"context-secret": "new-context-secret-0123", "previous-context-secret": "old-context-secret-0123"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
	})
	t.Run("upgrade from a Secret without a context secret", func(t *testing.T) {
		older := map[string]string{"gossip-key": old["gossip-key"], "client-token": old["client-token"], "admin-token": old["admin-token"]}
		got := secretOf(t, older)
		if got["client-token"] != "old-client-token" {
			t.Errorf("client-token = %q, want kept", got["client-token"])
		}
		if len(got["context-secret"]) < 32 {
			t.Errorf("context-secret = %q, want one generated", got["context-secret"])
		}
	})
	t.Run("an empty value in the release is generated", func(t *testing.T) {
		got := secretOf(t, map[string]string{"admin-token": ""})
		if len(got["admin-token"]) < 32 {
			t.Errorf("admin-token = %q, want one generated", got["admin-token"])
		}
	})
	t.Run("no Secret yet", func(t *testing.T) {
		got := secretOf(t, map[string]string{})
		for _, k := range []string{"gossip-key", "client-token", "admin-token", "context-secret"} {
			if got[k] == "" {
				t.Errorf("%s not generated", k)
			}
		}
	})
}
