package helm

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// promtool returns the command that runs promtool ($PROMTOOL, or
// scripts/promtool.sh, which takes it from Debian's prometheus package).
// Outside CI a machine that cannot get it skips the test; in CI it fails.
func promtool(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PROMTOOL")
	if bin == "" {
		bin = filepath.Join(repoRoot, "scripts", "promtool.sh")
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot run promtool (%s): %v\n%s", bin, err, out)
		}
		t.Skipf("no promtool (%s): %v", bin, err)
	}
	return bin
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	} else {
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// rulesFile writes the groups of the rendered PrometheusRule as a
// Prometheus rules file in dir.
func rulesFile(t *testing.T, dir string, args ...string) (string, *monitoringv1.PrometheusRule) {
	t.Helper()
	rule := one[*monitoringv1.PrometheusRule](t, render(t, append([]string{"--set", "metrics.prometheusRule.enabled=true"}, args...)...))
	out, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dht-rules.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, rule
}

// TestAlerts_Promtool: the chart's alert rules pass promtool's check (valid
// PromQL, templates, durations) and its unit tests
// (testdata/alerts_test.yaml: each alert fires on the series that mean
// trouble and stays quiet on a healthy cluster), and every alert links
// an existing runbook section of docs/operations.md.
func TestAlerts_Promtool(t *testing.T) {
	dir := t.TempDir()
	_, rule := rulesFile(t, dir)
	runPromtool(t, dir, "check", "rules", "dht-rules.yaml")
	tests, err := os.ReadFile(filepath.Join("testdata", "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "test", "rules", "alerts_test.yaml")

	ops, err := os.ReadFile(filepath.Join(repoRoot, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(ops))
	want := []string{"DhtNodeDown", "DhtNodeMissing", "DhtPartitionsUnderReplicated", "DhtHintsGrowing", "DhtTransferStalled",
		"DhtAntiEntropySweepOverdue", "DhtLatencyHigh", "DhtRingDisagreement", "DhtDiskNearlyFull"}
	var got []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Alert)
			url := r.Annotations["runbook_url"]
			_, anchor, ok := strings.Cut(url, "#")
			if !ok || !strings.HasSuffix(strings.TrimSuffix(url, "#"+anchor), "docs/operations.md") || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q names no section of docs/operations.md", r.Alert, url)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want a severity, a summary and a description", r.Alert)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts = %v, want %v", got, want)
	}
	// Another selector and thresholds reach the expressions.
	path, _ := rulesFile(t, dir, "--set", `metrics.prometheusRule.selector=job="kv"`, "--set", "config.entropy.sweep_interval=20m")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `dht_members{job="kv", status="down"}`) || !strings.Contains(string(b), "> 1800") {
		t.Errorf("the selector or the sweep interval did not reach the rules:\n%s", b)
	}
	runPromtool(t, dir, "check", "rules", "dht-rules.yaml")
}

// markdownAnchors returns the anchors GitHub gives the headings of md.
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestGrafanaDashboard: the dashboard ConfigMap carries the sidecar's label
// and a valid dashboard: unique panel ids, every panel with a query, and
// every query valid PromQL (promtool checks them as recording rules, with
// Grafana's variables replaced).
func TestGrafanaDashboard(t *testing.T) {
	ms := render(t, "--set", "grafana.dashboard.enabled=true")
	cm := named[*corev1.ConfigMap](t, ms, release+"-dashboard")
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard: \"1\"", cm.Labels)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(strings.NewReader(cm.Data["dht.json"]))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("dht.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) < 10 {
		t.Fatalf("dashboard uid %q, title %q, %d panels: want a uid, a title and the panels", dash.UID, dash.Title, len(dash.Panels))
	}
	ids := map[int]bool{}
	type recording struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []recording
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, q := range p.Targets {
			expr := strings.NewReplacer(`$__rate_interval`, "5m", `$job`, ".*").Replace(q.Expr)
			rules = append(rules, recording{Record: fmt.Sprintf("dashboard:panel%d_%d", p.ID, i), Expr: expr})
		}
	}
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard-rules.yaml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "check", "rules", "dashboard-rules.yaml")
}
