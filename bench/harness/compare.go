package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"

	"github.com/dhtkv/dht/bench/report"
	"github.com/dhtkv/dht/bench/ycsbdb"
)

// Profiles are the named parameter sets of a comparison. short is bounded
// for CI-like runs (a few minutes on 2 cores); full is the documented one.
var Profiles = map[string]report.Profile{
	"short": {Name: "short", Records: 2000, Operations: 10000, Threads: 16, Reps: 3, FieldCount: 10, FieldLength: 100, MaxRunSeconds: 30},
	"full":  {Name: "full", Records: 50000, Operations: 50000, Threads: 32, Reps: 3, FieldCount: 10, FieldLength: 100, MaxRunSeconds: 180},
}

// Config is what Compare runs.
type Config struct {
	Profile   report.Profile
	Systems   []string // ids, in report order
	Workloads []string // ids; the load phase always runs first
	Binaries  Binaries
	// WorkDir holds the servers' data and logs, one directory per system
	// and repetition, removed once the system has stopped unless Keep.
	WorkDir string
	Keep    bool
	// ProfileDir, when set, receives a CPU profile of node1 of the first
	// replicated dht system, taken over ProfileSeconds of workload A in the
	// first repetition. dhtd then runs with http.pprof on.
	ProfileDir     string
	ProfileSeconds int
	// Out receives progress; TTY makes the progress line rewrite itself.
	Out io.Writer
	TTY bool
}

// Compare runs every workload on every system, Profile.Reps times, and
// returns the results. On an error it returns what it measured so far with
// the error. Repetitions are interleaved: each starts every system afresh,
// so slow drift of a shared machine spreads over all systems.
func Compare(ctx context.Context, cfg Config) (*report.Results, error) {
	pr := cfg.Profile
	res := &report.Results{Profile: pr, Machine: DescribeMachine(cfg.Binaries.Etcd), Started: time.Now()}
	defer func() {
		res.Finished = time.Now()
		res.Machine.LoadAfter = loadAverage()
	}()

	var systems []System
	for _, id := range cfg.Systems {
		s, err := NewSystem(id, cfg.Binaries, pr.FieldCount, pr.FieldLength, cfg.ProfileDir != "")
		if err != nil {
			return res, err
		}
		systems = append(systems, s)
		res.Systems = append(res.Systems, s.Info())
	}
	phases := []string{LoadID}
	for _, w := range workloadDefs[1:] {
		if slices.Contains(cfg.Workloads, w.info.ID) {
			phases = append(phases, w.info.ID)
		}
	}
	if len(phases) != len(cfg.Workloads)+1 {
		for _, id := range cfg.Workloads {
			if _, err := lookupWorkload(id); err != nil {
				return res, err
			}
		}
	}
	for _, id := range phases {
		w, _ := lookupWorkload(id)
		res.Workloads = append(res.Workloads, w.info)
	}

	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	prog := NewProgress(out, cfg.TTY)
	profiled := cfg.ProfileDir == ""
	totalRuns := pr.Reps * len(systems) * len(phases)
	runNo := 0
	for rep := 1; rep <= pr.Reps; rep++ {
		for _, sys := range systems {
			info := sys.Info()
			dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("%s-rep%d", info.ID, rep))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return res, err
			}
			fmt.Fprintf(out, "== rep %d/%d: %s: starting\n", rep, pr.Reps, info.Label)
			t0 := time.Now()
			if err := sys.Start(ctx, dir); err != nil {
				_ = sys.Stop()
				return res, fmt.Errorf("%s: %w", info.ID, err)
			}
			fmt.Fprintf(out, "   ready in %s\n", time.Since(t0).Round(100*time.Millisecond))
			err := func() error {
				dbName, bindingProps := sys.Binding()
				base, err := Props(LoadID, pr)
				if err != nil {
					return err
				}
				maps.Copy(base, bindingProps)
				db, err := newDB(dbName, base)
				if err != nil {
					return err
				}
				defer db.Close()
				for _, phase := range phases {
					runNo++
					props, err := Props(phase, pr)
					if err != nil {
						return err
					}
					maps.Copy(props, bindingProps)
					total := pr.Operations
					if phase == LoadID {
						total = pr.Records
					}
					label := fmt.Sprintf("[%d/%d] %s %s", runNo, totalRuns, info.Label, phase)
					var sampler *rssSampler
					profileDone := make(chan error, 1)
					if phase == "a" {
						sampler = sampleRSS(sys.Procs(), 200*time.Millisecond)
						if d, ok := sys.(*dhtSystem); ok && !profiled && d.nodes > 1 {
							profiled = true
							path := filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-node1-workload-a.cpu.pprof", info.ID))
							go func() { profileDone <- captureProfile(ctx, d.hc, d.PprofURL(cfg.ProfileSeconds), path) }()
							fmt.Fprintf(out, "   capturing a %ds CPU profile of node1 into %s\n", cfg.ProfileSeconds, path)
						} else {
							profileDone <- nil
						}
					} else {
						profileDone <- nil
					}
					before := dhtStats(db)
					limit := time.Duration(pr.MaxRunSeconds * float64(time.Second))
					prog.Begin(label, total, limit)
					meter := startCPU(sys.Procs())
					run, err := RunWorkload(ctx, db, props, limit, dir, prog.Update)
					run.ServerCPUSeconds, run.ClientCPUSeconds = meter.Stop()
					prog.End()
					if sampler != nil {
						peaks := sampler.Stop()
						for _, name := range slices.Sorted(maps.Keys(peaks)) {
							pk := peaks[name]
							res.Memory = append(res.Memory, report.RSS{System: info.ID, Node: name, Rep: rep,
								PeakBytes: pk.total, PeakAnonBytes: pk.anon, PeakFileBytes: pk.file})
						}
					}
					if err != nil {
						return err
					}
					if perr := <-profileDone; perr != nil {
						res.Notes = append(res.Notes, fmt.Sprintf("No CPU profile of %s: %v.", info.Label, perr))
						fmt.Fprintf(out, "   no CPU profile: %v\n", perr)
					}
					after := dhtStats(db)
					run.System, run.Workload, run.Rep = info.ID, phase, rep
					run.SiblingReads = after.SiblingReads - before.SiblingReads
					run.SiblingWrites = after.SiblingUpdates - before.SiblingUpdates
					res.Runs = append(res.Runs, run)
					fmt.Fprintf(out, "%s\n", runLine(label, run))
				}
				return nil
			}()
			if stopErr := sys.Stop(); stopErr != nil {
				fmt.Fprintf(out, "   stopping: %v\n", stopErr)
			}
			if err != nil {
				return res, fmt.Errorf("%s, rep %d: %w", info.ID, rep, err)
			}
			if !cfg.Keep {
				_ = os.RemoveAll(dir)
			}
		}
	}
	return res, nil
}

// runLine is the one-line summary of a finished run.
func runLine(label string, run report.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d ops in %.1fs = %.0f ops/s", label, run.Ops, run.Seconds, run.OpsPerSec())
	for _, op := range slices.Sorted(maps.Keys(run.PerOp)) {
		if op == report.TotalOp {
			continue
		}
		s := run.PerOp[op]
		fmt.Fprintf(&b, "; %s p50 %s p99 %s", op, time.Duration(s.P50Us)*time.Microsecond, time.Duration(s.P99Us)*time.Microsecond)
	}
	if run.ServerCPUSeconds > 0 {
		fmt.Fprintf(&b, "; CPU per op: servers %s, harness %s",
			time.Duration(run.ServerCPUPerOp()*float64(time.Second)).Round(time.Microsecond),
			time.Duration(run.ClientCPUPerOp()*float64(time.Second)).Round(time.Microsecond))
	}
	var errs int64
	for _, n := range run.Errors {
		errs += n
	}
	if errs > 0 {
		fmt.Fprintf(&b, "; %d errors", errs)
	}
	if run.TimedOut {
		b.WriteString(" (cut at the time limit)")
	}
	return b.String()
}

// newDB builds the named binding.
func newDB(name string, props map[string]string) (ycsb.DB, error) {
	p := properties.LoadMap(props)
	switch name {
	case "dht":
		return ycsbdb.NewDHT(p)
	case "etcd":
		return ycsbdb.NewEtcd(p)
	}
	c := ycsb.GetDBCreator(name)
	if c == nil {
		return nil, errors.New("harness: no binding " + strconv.Quote(name))
	}
	return c.Create(p)
}

// dhtStats returns the dht binding's counters, zero for other bindings.
func dhtStats(db ycsb.DB) ycsbdb.DHTStats {
	if d, ok := db.(*ycsbdb.DHT); ok {
		return d.Stats()
	}
	return ycsbdb.DHTStats{}
}
