package report

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for us, want := range map[int64]string{420: "0.42", 3140: "3.14", 31400: "31.4", 314000: "314", 1234000: "1,234"} {
		if got := ms(us); got != want {
			t.Errorf("ms(%d) = %q, want %q", us, got, want)
		}
	}
	if got := recordBytes(10, 100); got != 1081 {
		t.Errorf("recordBytes(10, 100) = %d, want 1081", got)
	}
}

// sample is two systems and a ceiling over two repetitions of one workload.
func sample() *Results {
	op := func(p50, p99 int64) map[string]OpStats {
		return map[string]OpStats{"READ": {Count: 100, P50Us: p50, P99Us: p99, P999Us: 2 * p99}, TotalOp: {Count: 100, P50Us: p50, P99Us: p99}}
	}
	return &Results{
		Profile: Profile{Name: "test", Records: 10, Operations: 100, Threads: 2, Reps: 3, FieldCount: 10, FieldLength: 100},
		Machine: Machine{CPUs: 2, OS: "linux/amd64", Go: "go1.26.8", LoadBefore: "1.00, 1.00, 1.00"},
		Started: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Systems: []System{
			{ID: "ours", Label: "ours", Kind: KindOurs},
			{ID: "ref", Label: "ref", Kind: KindReference},
			{ID: "ceil", Label: "ceil", Kind: KindCeiling},
		},
		Workloads: []Workload{{ID: "c", Label: "C", Mix: "100 % read", Ops: []string{"READ"}}},
		Runs: []Run{
			{System: "ours", Workload: "c", Rep: 1, Ops: 100, Seconds: 1, PerOp: op(1000, 5000)},
			{System: "ours", Workload: "c", Rep: 2, Ops: 300, Seconds: 1, PerOp: op(3000, 9000), Errors: map[string]int64{"READ": 2}},
			{System: "ours", Workload: "c", Rep: 3, Ops: 200, Seconds: 1, PerOp: op(2000, 7000), Errors: map[string]int64{"READ": 1}},
			{System: "ref", Workload: "c", Rep: 1, Ops: 400, Seconds: 1, PerOp: op(500, 1000)},
			{System: "ceil", Workload: "c", Rep: 1, Ops: 800, Seconds: 1, PerOp: op(100, 200)},
		},
		Memory: []RSS{
			{System: "ours", Node: "node1", Rep: 1, PeakBytes: 100 << 20},
			{System: "ours", Node: "node1", Rep: 2, PeakBytes: 300 << 20},
			{System: "ours", Node: "node1", Rep: 3, PeakBytes: 200 << 20},
		},
	}
}

func TestResults_Cell(t *testing.T) {
	r := sample()
	c, ok := r.Cell("ours", "c")
	if !ok {
		t.Fatal("no cell")
	}
	if c.OpsPerSec != 200 || c.MinOpsPerSec != 100 || c.MaxOpsPerSec != 300 || c.Reps != 3 {
		t.Errorf("throughput %+v, want median 200 in 100..300 over 3", c)
	}
	if s := c.PerOp["READ"]; s.P50Us != 2000 || s.P99Us != 7000 {
		t.Errorf("READ %+v, want the median of each statistic (p50 2000, p99 7000)", s)
	}
	if c.Errors != 3 {
		t.Errorf("errors %d, want 3 (summed)", c.Errors)
	}
	if _, ok := r.Cell("ours", "a"); ok {
		t.Error("a cell for a workload never run")
	}
	nodes, bytes := r.PeakRSS("ours")
	if len(nodes) != 1 || bytes[0] != 200<<20 {
		t.Errorf("peak RSS %v %v, want node1 at the median 200 MiB", nodes, bytes)
	}
}

func TestMarkdown(t *testing.T) {
	md := Markdown(sample(), "ycsb/ycsb.png")
	for _, want := range []string{
		"### Latest run: test profile, 2026-11-25",
		"**Machine:** 2 CPUs, linux/amd64, go1.26.8.",
		"| ours | 200 ±50% |",
		"| ours ÷ ref | 0.50 |",  // 200 / 400
		"| ours ÷ ceil | 0.25 |", // 200 / 800
		"| ours | 200 | 2.00 / 7.00 / 14.0 | 3 |",
		"| ours | node1 | 200 MiB |",
		"![Throughput and p99 latency of every operation, per system and workload](ycsb/ycsb.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

func TestSplice(t *testing.T) {
	doc := "# Title\n\nintro\n\n" + BeginMarker + "\nold\n" + EndMarker + "\n\nrest\n"
	got, err := Splice(doc, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Title\n\nintro\n\n" + BeginMarker + "\nnew\n" + EndMarker + "\n\nrest\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := Splice("no markers", "x"); err != ErrNoMarkers {
		t.Errorf("err = %v, want ErrNoMarkers", err)
	}
}

func TestResults_SaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := sample().Save(path); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Cell("ours", "c"); c.OpsPerSec != 200 {
		t.Errorf("after a round trip the median is %v, want 200", c.OpsPerSec)
	}
}

func TestWriteChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := WriteChart(sample(), path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG", path)
	}
}

// withVariant adds to sample a system that differs from "ours" by one
// setting, and CPU times to both.
func withVariant() *Results {
	r := sample()
	r.Systems = append(r.Systems, System{ID: "ours-tls", Label: "ours, TLS", Kind: KindOurs, Baseline: "ours"})
	total := func(p50, p99 int64) map[string]OpStats {
		return map[string]OpStats{"READ": {Count: 100, P50Us: p50, P99Us: p99}, TotalOp: {Count: 100, P50Us: p50, P99Us: p99}}
	}
	// ours: 200 ops/s, p50 2000, p99 7000 (medians); CPU 1 ms, 2 ms, 3 ms
	// per op of the servers (median 2 ms), half that of the harness.
	for i, cpu := range []float64{0.1, 0.6, 0.6} {
		r.Runs[i].ServerCPUSeconds, r.Runs[i].ClientCPUSeconds = cpu, cpu/2
	}
	r.Runs = append(r.Runs,
		Run{System: "ours-tls", Workload: "c", Rep: 1, Ops: 150, Seconds: 1, PerOp: total(2200, 7700), ServerCPUSeconds: 0.375, ClientCPUSeconds: 0.225},
		Run{System: "ours-tls", Workload: "c", Rep: 2, Ops: 170, Seconds: 1, PerOp: total(2500, 8400), ServerCPUSeconds: 0.425, ClientCPUSeconds: 0.255},
		Run{System: "ours-tls", Workload: "c", Rep: 3, Ops: 160, Seconds: 1, PerOp: total(2400, 8400), ServerCPUSeconds: 0.4, ClientCPUSeconds: 0.24},
	)
	return r
}

func TestResults_CellCPU(t *testing.T) {
	r := withVariant()
	c, _ := r.Cell("ours", "c")
	// Per run: 0.1/100, 0.6/300, 0.6/200 s per op.
	if c.ServerCPUPerOp != 0.002 || c.ClientCPUPerOp != 0.001 {
		t.Errorf("CPU per op: server %v, client %v, want the medians 0.002 and 0.001", c.ServerCPUPerOp, c.ClientCPUPerOp)
	}
	// Runs without CPU times (older results) give none.
	if c, _ := sample().Cell("ours", "c"); c.ServerCPUPerOp != 0 || c.ClientCPUPerOp != 0 {
		t.Errorf("CPU per op without CPU times: %+v", c)
	}
}

func TestMarkdown_Baseline(t *testing.T) {
	md := Markdown(withVariant(), "")
	for _, want := range []string{
		"#### Against a baseline",
		"**ours, TLS ÷ ours**",
		"| throughput | 0.80 |",                       // 160 / 200
		"| p50, every operation | 1.20 |",             // 2400 / 2000
		"| p99, every operation | 1.20 |",             // 8400 / 7000
		"| server CPU per operation | 1.25 |",         // 2.5 ms / 2 ms
		"| load generator CPU per operation | 1.50 |", // 1.5 ms / 1 ms
		"#### CPU per operation",
		"| ours | 2000 / 1000 |",
		"| ours, TLS | 2500 / 1500 |",
		"| ref | — |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	// Without the baseline's runs, or without CPU times, those parts are
	// left out rather than shown empty.
	md = Markdown(sample(), "")
	for _, unwanted := range []string{"Against a baseline", "CPU per operation"} {
		if strings.Contains(md, unwanted) {
			t.Errorf("a report without variants or CPU times has %q:\n%s", unwanted, md)
		}
	}
}

// withReference is withVariant with CPU times for the reference (5 ms per
// operation of its servers, 1 ms of the harness) and a workload A that
// only "ours" ran.
func withReference() *Results {
	r := withVariant()
	for i, run := range r.Runs {
		if run.System == "ref" {
			r.Runs[i].ServerCPUSeconds, r.Runs[i].ClientCPUSeconds = 2, 0.4 // of 400 ops
		}
	}
	r.Workloads = append(r.Workloads, Workload{ID: "a", Label: "A", Mix: "50 % read, 50 % update", Ops: []string{"READ", "UPDATE"}})
	r.Runs = append(r.Runs, Run{System: "ours", Workload: "a", Rep: 1, Ops: 100, Seconds: 1, ServerCPUSeconds: 0.3, ClientCPUSeconds: 0.1})
	return r
}

// section returns the part of md from the line that starts with start to
// the next heading.
func section(t *testing.T, md, start string) string {
	t.Helper()
	i := strings.Index(md, start)
	if i < 0 {
		t.Fatalf("the report has no %q:\n%s", start, md)
	}
	rest := md[i+len(start):]
	if j := strings.Index(rest, "\n#### "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestMarkdown_CPURatio(t *testing.T) {
	md := Markdown(withReference(), "")
	got := section(t, md, "**Server CPU per operation.**")
	for _, want := range []string{
		"| server CPU ratio | C | A |",
		"| ours ÷ ref | 0.40 | — |",      // 2 ms / 5 ms; ref did not run A
		"| ours, TLS ÷ ref | 0.50 | — |", // 2.5 ms / 5 ms
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the server CPU ratios lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ceil") {
		t.Errorf("the server CPU ratios compare with the ceiling:\n%s", got)
	}
	// The throughput ratios stay, ceiling included.
	for _, want := range []string{"| ours ÷ ref | 0.50 | — |", "| ours ÷ ceil | 0.25 | — |"} {
		if !strings.Contains(section(t, md, "#### Ratios"), want) {
			t.Errorf("the throughput ratios lack %q:\n%s", want, md)
		}
	}

	// A reference without CPU times gives dashes, not a ratio.
	r := withVariant()
	got = section(t, Markdown(r, ""), "**Server CPU per operation.**")
	if !strings.Contains(got, "| ours ÷ ref | — |") {
		t.Errorf("without the reference's CPU times the ratio is not a dash:\n%s", got)
	}
	// Without any CPU times, or without a reference, there is no table.
	if md := Markdown(sample(), ""); strings.Contains(md, "Server CPU per operation") {
		t.Errorf("a report without CPU times has server CPU ratios:\n%s", md)
	}
	r.Systems = slices.DeleteFunc(r.Systems, func(s System) bool { return s.Kind == KindReference })
	if md := Markdown(r, ""); strings.Contains(md, "Server CPU per operation") {
		t.Errorf("a report without a reference has server CPU ratios:\n%s", md)
	}
}

func TestResults_Compare(t *testing.T) {
	got := withReference().Compare()
	want := []Comparison{
		{System: "ours", Reference: "ref", Workload: "c", OpsPerSec: 200, ReferenceOpsPerSec: 400, ThroughputRatio: 0.5,
			ServerCPUUsPerOp: 2000, ReferenceServerCPUUsPerOp: 5000, ServerCPURatio: 0.4, ClientCPURatio: 1},
		// The ceiling recorded no CPU times: throughput only.
		{System: "ours", Reference: "ceil", Workload: "c", OpsPerSec: 200, ReferenceOpsPerSec: 800, ThroughputRatio: 0.25,
			ServerCPUUsPerOp: 2000},
		{System: "ours-tls", Reference: "ref", Workload: "c", OpsPerSec: 160, ReferenceOpsPerSec: 400, ThroughputRatio: 0.4,
			ServerCPUUsPerOp: 2500, ReferenceServerCPUUsPerOp: 5000, ServerCPURatio: 0.5, ClientCPURatio: 1.5},
		{System: "ours-tls", Reference: "ceil", Workload: "c", OpsPerSec: 160, ReferenceOpsPerSec: 800, ThroughputRatio: 0.2,
			ServerCPUUsPerOp: 2500},
		// Workload A, which only ours ran, has none.
	}
	if !slices.Equal(got, want) {
		gb, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("Compare() =\n%s\nwant %+v", gb, want)
	}
}

func TestResults_SaveWritesComparisons(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	r := withReference()
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Comparisons []map[string]any `json:"comparisons"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Comparisons) != 4 {
		t.Fatalf("%d comparisons in the file, want 4:\n%s", len(raw.Comparisons), b)
	}
	first := raw.Comparisons[0]
	if first["system"] != "ours" || first["reference"] != "ref" || first["workload"] != "c" ||
		first["throughput_ratio"] != 0.5 || first["server_cpu_ratio"] != 0.4 {
		t.Errorf("first comparison %v, want ours over ref on c: throughput 0.5, server CPU 0.4", first)
	}
	if _, ok := raw.Comparisons[1]["server_cpu_ratio"]; ok {
		t.Errorf("a comparison with a system without CPU times has a CPU ratio: %v", raw.Comparisons[1])
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(loaded.Comparisons, r.Compare()) {
		t.Errorf("the comparisons do not survive a round trip: %+v", loaded.Comparisons)
	}
}

// oldResults is a results file as written before CPU times, the split of
// RSS and the comparisons were recorded.
const oldResults = `{
  "profile": {"name": "short", "records": 2000, "operations": 10000, "threads": 16, "reps": 1, "field_count": 10, "field_length": 100, "max_run_seconds": 30},
  "machine": {"cpus": 2, "os": "linux/amd64", "go": "go1.24.0"},
  "systems": [
    {"id": "dht-n3", "label": "dht N=3, sync off", "kind": "ours", "setup": "3 dhtd processes"},
    {"id": "etcd", "label": "etcd, 3 members", "kind": "reference", "setup": "3 members"}
  ],
  "workloads": [{"id": "c", "label": "C", "mix": "100 % read", "distribution": "zipfian", "ops": ["READ"]}],
  "runs": [
    {"system": "dht-n3", "workload": "c", "rep": 1, "ops": 10000, "seconds": 2, "per_op": {"READ": {"count": 10000, "avg_us": 900, "p50_us": 800, "p99_us": 3000, "p999_us": 6000}, "TOTAL": {"count": 10000, "avg_us": 900, "p50_us": 800, "p99_us": 3000, "p999_us": 6000}}},
    {"system": "etcd", "workload": "c", "rep": 1, "ops": 10000, "seconds": 4, "per_op": {"READ": {"count": 10000, "avg_us": 1800, "p50_us": 1600, "p99_us": 6000, "p999_us": 9000}}}
  ],
  "memory": [{"system": "dht-n3", "node": "node1", "rep": 1, "peak_bytes": 104857600}],
  "started": "2025-06-01T12:00:00Z",
  "finished": "2025-06-01T12:10:00Z"
}`

func TestLoad_OldResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(path, []byte(oldResults), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path)
	if err != nil {
		t.Fatalf("an older results file does not load: %v", err)
	}
	c, ok := r.Cell("dht-n3", "c")
	if !ok || c.OpsPerSec != 5000 || c.ServerCPUPerOp != 0 || c.PerOp["READ"].P99Us != 3000 {
		t.Errorf("cell %+v, want 5000 ops/s, p99 3 ms and no CPU times", c)
	}
	if r.Comparisons != nil {
		t.Errorf("comparisons %v read from a file that has none", r.Comparisons)
	}
	md := Markdown(r, "ycsb.png")
	for _, want := range []string{"| dht N=3, sync off ÷ etcd, 3 members | 2.00 |", "| dht N=3, sync off | node1 | 100 MiB | — | — |",
		"![Throughput and p99 latency of every operation, per system and workload](ycsb.png)"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report of an older file lacks %q:\n%s", want, md)
		}
	}
	for _, unwanted := range []string{"Server CPU per operation", "#### CPU per operation"} {
		if strings.Contains(md, unwanted) {
			t.Errorf("the report of a file without CPU times has %q", unwanted)
		}
	}
	// Comparisons are derived again when it is saved.
	if got := r.Compare(); len(got) != 1 || got[0].ThroughputRatio != 2 || got[0].ServerCPURatio != 0 {
		t.Errorf("Compare() of an older file = %+v, want one throughput ratio of 2 and no CPU ratio", got)
	}
}

func TestChartPanels(t *testing.T) {
	if ps := chartPanels(sample()); len(ps) != 2 {
		t.Errorf("%d panels without CPU times, want 2 (throughput, p99)", len(ps))
	}
	r := withVariant()
	ps := chartPanels(r)
	if len(ps) != 3 || !strings.Contains(ps[2].title, "CPU") || ps[2].unit != "microseconds" {
		t.Fatalf("panels with CPU times: %+v, want throughput, p99 and server CPU in microseconds", ps)
	}
	for id, want := range map[string]float64{"ours": 2000, "ours-tls": 2500} {
		c, _ := r.Cell(id, "c")
		if got := ps[2].value(c); math.Abs(got-want) > 1e-9 {
			t.Errorf("the CPU panel's bar of %s is %v µs, want %v", id, got, want)
		}
	}
	if got := Markdown(r, "x.png"); !strings.Contains(got, "![Throughput, p99 latency of every operation and server CPU time per operation, per system and workload](x.png)") {
		t.Errorf("the chart's text does not name the CPU panel:\n%s", got)
	}
}

func TestWriteChart_Panels(t *testing.T) {
	height := func(r *Results) int {
		path := filepath.Join(t.TempDir(), "chart.png")
		if err := WriteChart(r, path); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg, err := png.DecodeConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Height
	}
	two, three := height(sample()), height(withVariant())
	// Within a pixel of rounding.
	if d := three*2 - two*3; d < -2 || d > 2 {
		t.Errorf("chart heights %d without CPU times and %d with: want the third panel as tall as each other", two, three)
	}
}
