package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"time"
)

// Kinds of system.
const (
	KindOurs      = "ours"      // this store
	KindReference = "reference" // the store we compare with (etcd)
	KindCeiling   = "ceiling"   // the harness against a no-op server
)

// Results is everything one comparison run measured.
type Results struct {
	Profile   Profile    `json:"profile"`
	Machine   Machine    `json:"machine"`
	Systems   []System   `json:"systems"`
	Workloads []Workload `json:"workloads"`
	Runs      []Run      `json:"runs"`
	Memory    []RSS      `json:"memory,omitempty"`
	Started   time.Time  `json:"started"`
	Finished  time.Time  `json:"finished"`
	// Revision names the source the servers were built from, such as a git
	// commit.
	Revision string `json:"revision,omitempty"`
	// Notes are printed under the tables: how busy the machine was, what
	// could not be measured.
	Notes []string `json:"notes,omitempty"`
	// Comparisons are derived from Runs by Save (Compare), for readers of
	// the JSON; nothing here reads them back. Absent in results from
	// before they were written.
	Comparisons []Comparison `json:"comparisons,omitempty"`
}

// Comparison is one of our systems over a reference or ceiling system on
// one workload, from the medians of Cell.
type Comparison struct {
	System    string `json:"system"`
	Reference string `json:"reference"`
	Workload  string `json:"workload"`
	// OpsPerSec and ReferenceOpsPerSec are the median throughputs, and
	// ThroughputRatio the first over the second: above 1, ours is faster.
	OpsPerSec          float64 `json:"ops_per_sec"`
	ReferenceOpsPerSec float64 `json:"reference_ops_per_sec"`
	ThroughputRatio    float64 `json:"throughput_ratio,omitempty"`
	// ServerCPUUsPerOp and ReferenceServerCPUUsPerOp are the median
	// microseconds of the servers' CPU time per operation, and
	// ServerCPURatio the first over the second: below 1, ours spends less
	// CPU on an operation. ClientCPURatio is the same ratio for the load
	// generator (the binding and its client library). Each is absent where
	// either side's runs did not record CPU times.
	ServerCPUUsPerOp          float64 `json:"server_cpu_us_per_op,omitempty"`
	ReferenceServerCPUUsPerOp float64 `json:"reference_server_cpu_us_per_op,omitempty"`
	ServerCPURatio            float64 `json:"server_cpu_ratio,omitempty"`
	ClientCPURatio            float64 `json:"client_cpu_ratio,omitempty"`
}

// Compare returns, for each of our systems, each reference and ceiling
// system, and each workload both ran, how the first compares with the
// second. Ratios are rounded to three decimals, microseconds to one.
func (r *Results) Compare() []Comparison {
	var out []Comparison
	for _, pair := range r.pairs(KindReference, KindCeiling) {
		for _, w := range r.Workloads {
			a, ok1 := r.Cell(pair[0].ID, w.ID)
			b, ok2 := r.Cell(pair[1].ID, w.ID)
			if !ok1 || !ok2 {
				continue
			}
			c := Comparison{System: pair[0].ID, Reference: pair[1].ID, Workload: w.ID,
				OpsPerSec: round(a.OpsPerSec, 1), ReferenceOpsPerSec: round(b.OpsPerSec, 1),
				ServerCPUUsPerOp: round(a.ServerCPUPerOp*1e6, 1), ReferenceServerCPUUsPerOp: round(b.ServerCPUPerOp*1e6, 1)}
			if v, ok := ratio(a.OpsPerSec, b.OpsPerSec); ok {
				c.ThroughputRatio = round(v, 3)
			}
			if v, ok := ratio(a.ServerCPUPerOp, b.ServerCPUPerOp); ok {
				c.ServerCPURatio = round(v, 3)
			}
			if v, ok := ratio(a.ClientCPUPerOp, b.ClientCPUPerOp); ok {
				c.ClientCPURatio = round(v, 3)
			}
			out = append(out, c)
		}
	}
	return out
}

// pairs returns each of our systems with each system of the given kinds,
// in the order of r.Systems: ours first, then kinds in the order given.
func (r *Results) pairs(kinds ...string) [][2]System {
	var rows [][2]System
	for _, ours := range r.Systems {
		if ours.Kind != KindOurs {
			continue
		}
		for _, kind := range kinds {
			for _, other := range r.Systems {
				if other.Kind == kind {
					rows = append(rows, [2]System{ours, other})
				}
			}
		}
	}
	return rows
}

// ratio is a over b, where both were measured (a zero is a figure the runs
// did not record).
func ratio(a, b float64) (float64, bool) {
	if a <= 0 || b <= 0 {
		return 0, false
	}
	return a / b, true
}

// round rounds x to the given decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}

// Profile is the run's parameters, the same for every system.
type Profile struct {
	Name        string `json:"name"`
	Records     int64  `json:"records"`
	Operations  int64  `json:"operations"`
	Threads     int    `json:"threads"`
	Reps        int    `json:"reps"`
	FieldCount  int    `json:"field_count"`
	FieldLength int    `json:"field_length"`
	// MaxRunSeconds bounds one workload run; a run cut short reports what
	// it completed.
	MaxRunSeconds float64 `json:"max_run_seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model,omitempty"`
	MemBytes   int64  `json:"mem_bytes,omitempty"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel,omitempty"`
	Go         string `json:"go"`
	Etcd       string `json:"etcd,omitempty"`
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
}

// System is one system under test.
type System struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Kind  string `json:"kind"`
	// Setup says how it was configured, for the docs.
	Setup string `json:"setup"`
	// Baseline, when set, is the id of the system this one differs from in
	// one respect (TLS against none; blind updates to an lww bucket against
	// a read for the context and a write): the report then shows what that
	// difference costs, when both ran.
	Baseline string `json:"baseline,omitempty"`
}

// Workload is one YCSB workload, or the load phase (ID "load").
type Workload struct {
	ID           string `json:"id"`
	Label        string `json:"label"`
	Mix          string `json:"mix"`
	Distribution string `json:"distribution,omitempty"`
	// Ops are the operations its latency table shows, in order.
	Ops []string `json:"ops"`
}

// Run is one workload run on one system in one repetition.
type Run struct {
	System   string `json:"system"`
	Workload string `json:"workload"`
	Rep      int    `json:"rep"`
	// Ops counts the YCSB operations completed (a read-modify-write counts
	// once), errors included; Seconds is the wall time they took.
	Ops     int64              `json:"ops"`
	Seconds float64            `json:"seconds"`
	PerOp   map[string]OpStats `json:"per_op"`
	// Errors counts failed operations by operation name.
	Errors map[string]int64 `json:"errors,omitempty"`
	// SiblingReads and SiblingWrites count, for this store, reads that found
	// siblings and writes that left them.
	SiblingReads  int64 `json:"sibling_reads,omitempty"`
	SiblingWrites int64 `json:"sibling_writes,omitempty"`
	// TimedOut is set when the run hit Profile.MaxRunSeconds.
	TimedOut bool `json:"timed_out,omitempty"`
	// ServerCPUSeconds is the CPU time (user and system) the system's
	// server processes used during the run, all of them together;
	// ClientCPUSeconds is the harness's own (the load generator and the
	// binding). Zero in results from before they were recorded, and
	// where /proc is missing.
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds,omitempty"`
}

// ServerCPUPerOp and ClientCPUPerOp are the run's CPU seconds per
// operation; 0 when not recorded.
func (r Run) ServerCPUPerOp() float64 { return perOp(r.ServerCPUSeconds, r.Ops) }
func (r Run) ClientCPUPerOp() float64 { return perOp(r.ClientCPUSeconds, r.Ops) }

func perOp(seconds float64, ops int64) float64 {
	if ops <= 0 {
		return 0
	}
	return seconds / float64(ops)
}

// OpsPerSec is the run's throughput.
func (r Run) OpsPerSec() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Seconds
}

// OpStats is the latency of one operation in one run, in microseconds, as
// go-ycsb's HDR histogram reports it (3 significant digits).
type OpStats struct {
	Count  int64 `json:"count"`
	AvgUs  int64 `json:"avg_us"`
	P50Us  int64 `json:"p50_us"`
	P99Us  int64 `json:"p99_us"`
	P999Us int64 `json:"p999_us"`
}

// RSS is the peak resident set of one server process while it served
// workload A.
type RSS struct {
	System    string `json:"system"`
	Node      string `json:"node"`
	Rep       int    `json:"rep"`
	PeakBytes int64  `json:"peak_bytes"`
	// PeakAnonBytes and PeakFileBytes split the resident set: anonymous
	// memory (heap, stacks) and file-backed pages (memory-mapped files,
	// reclaimable page cache). Each is its own peak. Zero in results from
	// before they were recorded.
	PeakAnonBytes int64 `json:"peak_anon_bytes,omitempty"`
	PeakFileBytes int64 `json:"peak_file_bytes,omitempty"`
}

// Load reads results written by Save.
func Load(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return &r, nil
}

// Save writes r as indented JSON, with Comparisons derived afresh.
func (r *Results) Save(path string) error {
	r.Comparisons = r.Compare()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// System returns the system with the given id.
func (r *Results) System(id string) (System, bool) {
	i := slices.IndexFunc(r.Systems, func(s System) bool { return s.ID == id })
	if i < 0 {
		return System{}, false
	}
	return r.Systems[i], true
}

// Cell is one system's result on one workload over all repetitions:
// medians, and the range of throughput.
type Cell struct {
	Reps         int
	OpsPerSec    float64
	MinOpsPerSec float64
	MaxOpsPerSec float64
	// PerOp holds the median of each statistic, taken separately.
	PerOp map[string]OpStats
	// Errors, SiblingReads and SiblingWrites are summed over repetitions.
	Errors        int64
	SiblingReads  int64
	SiblingWrites int64
	TimedOut      bool
	// ServerCPUPerOp and ClientCPUPerOp are the medians of the runs' CPU
	// seconds per operation, over the runs that recorded it; 0 when none
	// did.
	ServerCPUPerOp float64
	ClientCPUPerOp float64
}

// Cell reduces the runs of system on workload; ok is false when there are
// none.
func (r *Results) Cell(system, workload string) (c Cell, ok bool) {
	var runs []Run
	for _, run := range r.Runs {
		if run.System == system && run.Workload == workload {
			runs = append(runs, run)
		}
	}
	if len(runs) == 0 {
		return Cell{}, false
	}
	c.Reps = len(runs)
	tput := make([]float64, len(runs))
	ops := map[string]bool{}
	var serverCPU, clientCPU []float64
	for i, run := range runs {
		tput[i] = run.OpsPerSec()
		if v := run.ServerCPUPerOp(); v > 0 {
			serverCPU = append(serverCPU, v)
		}
		if v := run.ClientCPUPerOp(); v > 0 {
			clientCPU = append(clientCPU, v)
		}
		for op := range run.PerOp {
			ops[op] = true
		}
		for _, n := range run.Errors {
			c.Errors += n
		}
		c.SiblingReads += run.SiblingReads
		c.SiblingWrites += run.SiblingWrites
		c.TimedOut = c.TimedOut || run.TimedOut
	}
	c.OpsPerSec = median(tput)
	c.ServerCPUPerOp, c.ClientCPUPerOp = median(serverCPU), median(clientCPU)
	c.MinOpsPerSec, c.MaxOpsPerSec = slices.Min(tput), slices.Max(tput)
	c.PerOp = map[string]OpStats{}
	for op := range ops {
		var count, avg, p50, p99, p999 []float64
		for _, run := range runs {
			s, ok := run.PerOp[op]
			if !ok {
				continue
			}
			count = append(count, float64(s.Count))
			avg = append(avg, float64(s.AvgUs))
			p50 = append(p50, float64(s.P50Us))
			p99 = append(p99, float64(s.P99Us))
			p999 = append(p999, float64(s.P999Us))
		}
		c.PerOp[op] = OpStats{
			Count: int64(median(count)), AvgUs: int64(median(avg)),
			P50Us: int64(median(p50)), P99Us: int64(median(p99)), P999Us: int64(median(p999)),
		}
	}
	return c, true
}

// PeakRSS returns the median over repetitions of each node's peak RSS for
// system, in node order of first appearance.
func (r *Results) PeakRSS(system string) (nodes []string, bytes []int64) {
	nodes, peaks := r.PeakRSSParts(system)
	for _, p := range peaks {
		bytes = append(bytes, p.PeakBytes)
	}
	return nodes, bytes
}

// PeakRSSParts is PeakRSS with the anonymous and file-backed parts, each
// the median over repetitions, in RSS values.
func (r *Results) PeakRSSParts(system string) (nodes []string, peaks []RSS) {
	type parts struct{ total, anon, file []float64 }
	by := map[string]*parts{}
	for _, m := range r.Memory {
		if m.System != system {
			continue
		}
		p, ok := by[m.Node]
		if !ok {
			p = &parts{}
			by[m.Node] = p
			nodes = append(nodes, m.Node)
		}
		p.total = append(p.total, float64(m.PeakBytes))
		p.anon = append(p.anon, float64(m.PeakAnonBytes))
		p.file = append(p.file, float64(m.PeakFileBytes))
	}
	for _, n := range nodes {
		p := by[n]
		peaks = append(peaks, RSS{System: system, Node: n, PeakBytes: int64(median(p.total)),
			PeakAnonBytes: int64(median(p.anon)), PeakFileBytes: int64(median(p.file))})
	}
	return nodes, peaks
}

// median returns the median of xs (the mean of the middle two for an even
// count), 0 for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
