package scenario

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/dhtkv/dht/test/chaos/checker"
	"github.com/dhtkv/dht/test/chaos/harness"
	"github.com/dhtkv/dht/test/chaos/history"
	"github.com/dhtkv/dht/test/chaos/workload"
)

// Options configure one run of a scenario.
type Options struct {
	// Binary is dhtd built with -tags chaos.
	Binary string
	// Dir is where the run keeps its nodes, logs, history.jsonl,
	// final.json and report.txt.
	Dir string
	// Seed is the run's seed; the scenario's own is derived from it and its
	// name (ScenarioSeed).
	Seed uint64
	// Faults is how long faults are injected.
	Faults time.Duration
	// Warmup is how long the workload runs before the first fault.
	Warmup time.Duration
	// SettleTimeout bounds the wait for convergence after healing.
	SettleTimeout time.Duration
	Nodes         int
	Short         bool
	// NodeArgs are extra dhtd flags for every node, such as
	// --storage.sync_writes=true to put the fsync path under the faults.
	NodeArgs []string
	// TLS runs the nodes with mutual TLS between them and a context secret.
	TLS      bool
	Workload workload.Config
	Logf     func(format string, args ...any)
}

// Result is the outcome of one scenario.
type Result struct {
	Name   string
	Seed   uint64
	Dir    string
	Report checker.Report
	// NoFalseNotFound is the scenario's: a read that found nothing for an
	// acknowledged key fails it (Verdict).
	NoFalseNotFound bool
	// Err is a failure of the harness itself (the cluster did not start, a
	// fault could not be injected); the report may then be partial.
	Err error
	// TeardownErr is a failure to remove the cluster's processes,
	// namespaces or links after the checker ran. It never changes the
	// verdict: the next run's start removes what was left.
	TeardownErr error
	Elapsed     time.Duration
	// Logs lists every node's log files, for a failure report.
	Logs map[string][]string
	// Crashes quotes panics, fatal errors and data races found in the
	// nodes' logs.
	Crashes []string
}

func orOK(err error) any {
	if err == nil {
		return "exit status 0"
	}
	return err
}

// ScenarioSeed derives a scenario's seed from the run's, so that one
// scenario of a run replays alone with the run's -seed.
func ScenarioSeed(seed uint64, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return seed ^ h.Sum64()
}

// Run runs one scenario: a fresh cluster, the workload, the faults, then
// the heal, the wait for convergence, the final reads and the checker. The
// cluster is always torn down before it returns. ctx ends the run early
// (the cluster is still healed, read and torn down, quickly).
func Run(ctx context.Context, sc Scenario, o Options) (res Result) {
	started := time.Now()
	seed := ScenarioSeed(o.Seed, sc.Name)
	res = Result{Name: sc.Name, Seed: seed, Dir: o.Dir, Logs: map[string][]string{}, NoFalseNotFound: sc.NoFalseNotFound}
	defer func() { res.Elapsed = time.Since(started) }()
	logf := func(format string, args ...any) {
		o.Logf("[%s %6.1fs] "+format, append([]any{sc.Name, time.Since(started).Seconds()}, args...)...)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		res.Err = err
		return res
	}
	hf, err := os.Create(filepath.Join(o.Dir, "history.jsonl"))
	if err != nil {
		res.Err = err
		return res
	}
	defer hf.Close()
	rec := workload.NewRecorder(hf, started)

	logf("seed %d: starting %d nodes", seed, o.Nodes)
	c, err := harness.Start(ctx, harness.Options{Binary: o.Binary, Dir: o.Dir, Nodes: o.Nodes, Args: o.NodeArgs, TLS: o.TLS, Logf: logf})
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		// A teardown failure is the harness's, not the store's: it is
		// reported apart from the verdict, and the next scenario's start
		// cleans whatever it left (harness.CleanLeftovers).
		res.TeardownErr = c.Close()
		for _, n := range c.Nodes() {
			res.Logs[n.ID] = n.Logs()
			for _, path := range n.Logs() {
				for _, line := range harness.Crashes(path) {
					res.Crashes = append(res.Crashes, fmt.Sprintf("%s: %s", filepath.Base(path), line))
				}
			}
		}
	}()

	wl := o.Workload
	wl.Seed = seed
	if sc.ReadR != 0 {
		wl.ReadR = sc.ReadR
	}
	if sc.ColdKeys != 0 {
		wl.ColdKeys = sc.ColdKeys
	}
	stop, stopWorkload := context.WithCancel(context.Background())
	defer stopWorkload()
	done := make(chan struct{})
	go func() {
		defer close(done)
		workload.Run(stop, wl, c.Targets, rec)
	}()
	wait(ctx, o.Warmup)

	logf("faults for %v: %s", o.Faults, sc.About)
	env := &Env{C: c, Rng: rand.New(rand.NewPCG(seed, 0x6368616f73)), Rec: rec, Short: o.Short, Keys: wl.Keys(), Logf: logf}
	fctx, cancel := context.WithTimeout(ctx, o.Faults)
	ferr := sc.Faults(fctx, env)
	cancel()
	if ferr != nil {
		res.Err = fmt.Errorf("injecting faults: %w", ferr)
		logf("fault injection failed: %v", ferr)
	}

	// The clients stop first (each finishes the operation in flight), so
	// convergence is timed from the heal on a quiet cluster.
	stopWorkload()
	<-done
	rec.Nemesis("", "workload stopped")
	logf("workload stopped after %d history lines; healing: partitions removed, paused nodes resumed, stopped nodes restarted", len(rec.Ops()))
	if ctx.Err() != nil {
		res.Err = errors.Join(res.Err, fmt.Errorf("interrupted: %w", ctx.Err()))
		_ = rec.Flush()
		return res
	}
	rec.Nemesis("", "restore: heal, resume, restart")
	healStart := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.Restore(rctx); err != nil {
		logf("restore: %v", err)
		res.Err = errors.Join(res.Err, fmt.Errorf("restore: %w", err))
	}
	_, serr := c.Settle(ctx, o.SettleTimeout)
	took := time.Since(healStart)
	if serr != nil {
		logf("did not converge: %v", serr)
	} else {
		logf("converged %v after the heal", took.Round(time.Millisecond))
	}
	for _, n := range c.Nodes() {
		if err, exited := n.ExitErr(); n.Retired() && exited {
			logf("decommissioned %s exited by itself (%v)", n.ID, orOK(err))
			if err != nil {
				res.Err = errors.Join(res.Err, fmt.Errorf("decommissioned %s exited with %w", n.ID, err))
			}
		}
	}
	rec.Nemesis("", fmt.Sprintf("converged=%v after %v", serr == nil, took.Round(time.Millisecond)))
	logHandovers(ctx, c, logf)
	final := c.FinalState(ctx, wl.Keys(), serr, took)
	if err := writeFinal(filepath.Join(o.Dir, "final.json"), final); err != nil {
		res.Err = errors.Join(res.Err, err)
	}
	if err := rec.Flush(); err != nil {
		res.Err = errors.Join(res.Err, fmt.Errorf("writing the history: %w", err))
	}
	// The final reads keep every sibling, whatever the clients' resolver:
	// the checker judges what the cluster holds, so a loss it reports is
	// the clients' (or the store's), never the harness's.
	res.Report = checker.Check(rec.Ops(), final)
	return res
}

func writeFinal(path string, f history.Final) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := history.EncodeFinal(out, f); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// logHandovers logs how many writes the members running now handed from a
// late coordinating replica to the next owner
// (replication.coordinate_timeout): counted since each process last
// started, so a lower bound for the scenario.
func logHandovers(ctx context.Context, c *harness.Cluster, logf func(string, ...any)) {
	total, counted := 0.0, 0
	for _, n := range c.Members() {
		if !n.Running() {
			continue
		}
		v, err := n.Counter(ctx, "dht_coordinator_handovers_total")
		if err != nil {
			logf("handovers: %v", err)
			continue
		}
		total += v
		counted++
	}
	logf("writes handed over to the next owner: %.0f (counted on the %d members running at the end, since each last started)", total, counted)
}
