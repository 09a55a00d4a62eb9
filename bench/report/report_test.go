package report

import (
	"bytes"
	"os"
	"path/filepath"
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
