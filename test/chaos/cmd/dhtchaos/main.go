// Command dhtchaos is the fault-injection suite behind `make chaos` and
// `make chaos-short`. It builds dhtd with the chaos tag, then for each
// scenario starts a 5-node cluster in network namespaces, runs the
// recorded workload while injecting the scenario's faults, heals, waits for
// convergence, reads everything back and checks the history. It prints a
// table, explains every failure, and exits 1 if any scenario lost,
// invented or resurrected data, diverged, could not be run, or (where the
// scenario allows none: wipe-rebuild) answered a read with not-found for a
// key acknowledged before the read began.
//
// Usage (as root):
//
//	dhtchaos [-short] [-seed N] [-scenarios partition,kill,…] [-dir DIR] [-keep]
//	dhtchaos -resolver lww -scenarios partition   # the checker must catch the lossy resolver
//	dhtchaos -check DIR                            # re-check a recorded run; no root needed
//
// By default a last-write-wins self-test runs after the scenarios: the
// partition scenario with clients that resolve siblings by keeping only the
// latest one, and shared registers that all clients read and overwrite. It
// passes only if the checker reports both lost set elements and lost
// register writes, and nothing else: the final reads keep every sibling, so
// what is lost is what the clients lost.
//
// SIGINT or SIGTERM stops the run early; the cluster is still torn down
// (processes, namespaces, bridge, iptables rules). Whatever a crashed run
// left behind is removed at the start of the next.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dhtkv/dht/test/chaos/checker"
	"github.com/dhtkv/dht/test/chaos/harness"
	"github.com/dhtkv/dht/test/chaos/history"
	"github.com/dhtkv/dht/test/chaos/scenario"
	"github.com/dhtkv/dht/test/chaos/workload"
)

func main() {
	os.Exit(run())
}

type flags struct {
	seed       uint64
	short      bool
	scenarios  string
	resolver   string
	nodeArgs   string
	tls        bool
	selftest   bool
	dir        string
	keep       bool
	dhtd       string
	race       bool
	faults     time.Duration
	clients    int
	sharedRegs int
	settle     time.Duration
	check      string
}

func parseFlags() flags {
	var f flags
	flag.Uint64Var(&f.seed, "seed", 0, "seed of the run (0: a random one, printed)")
	flag.BoolVar(&f.short, "short", false, "the short version (CI): shorter fault phases")
	flag.StringVar(&f.scenarios, "scenarios", "", "comma-separated scenarios to run (default: all; -short skips the long-only ones)")
	flag.StringVar(&f.resolver, "resolver", "union", "how clients merge siblings: union, or lww (lossy; the run passes only if the checker reports losses)")
	flag.BoolVar(&f.selftest, "selftest", true, "after the scenarios, run the partition scenario with the lww resolver and shared registers, and require the checker to report lost set elements and lost register writes")
	flag.StringVar(&f.dir, "dir", "", "directory for data, logs and histories (default: a new temporary one)")
	flag.BoolVar(&f.keep, "keep", false, "keep the directory even when every scenario passes")
	flag.StringVar(&f.dhtd, "dhtd", "", "dhtd binary built with -tags chaos (default: build one)")
	flag.BoolVar(&f.race, "race", false, "build dhtd with the race detector")
	flag.DurationVar(&f.faults, "faults", 0, "how long each scenario injects faults (default 20s with -short, 90s without)")
	flag.IntVar(&f.clients, "clients", 8, "concurrent clients")
	flag.IntVar(&f.sharedRegs, "shared-registers", 0, "register keys every client reads and overwrites (read-modify-write), besides its own; the self-test uses at least 2")
	flag.StringVar(&f.nodeArgs, "dhtd-args", "", "extra dhtd flags for every node, space-separated (e.g. --storage.sync_writes=true)")
	flag.BoolVar(&f.tls, "tls", false, "run the nodes with mutual TLS between them (a CA of the run's own) and a context secret")
	flag.DurationVar(&f.settle, "settle", 3*time.Minute, "how long to wait for the healed cluster to converge")
	flag.StringVar(&f.check, "check", "", "re-check the recorded run in this scenario directory (history.jsonl, final.json) and exit")
	flag.Parse()
	return f
}

func run() int {
	f := parseFlags()
	if f.check != "" {
		return recheck(f.check)
	}
	if f.resolver != string(workload.Union) && f.resolver != string(workload.LWW) {
		fmt.Fprintf(os.Stderr, "dhtchaos: -resolver must be union or lww, not %q\n", f.resolver)
		return 2
	}
	if err := harness.CheckTools(); err != nil {
		fmt.Fprintln(os.Stderr, "dhtchaos:", err)
		return 2
	}
	// One run at a time: a second would remove the first's network as a
	// crashed run's leftovers. The kernel drops the lock when we exit.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "dhtchaos.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dhtchaos: another run holds %s (%v)\n", lock.Name(), err)
		return 2
	}
	defer lock.Close()
	var list []scenario.Scenario
	if f.scenarios == "" {
		for _, s := range scenario.All() {
			if !(f.short && s.LongOnly) {
				list = append(list, s)
			}
		}
	} else {
		for _, name := range strings.Split(f.scenarios, ",") {
			s, ok := scenario.ByName(strings.TrimSpace(name))
			if !ok {
				fmt.Fprintf(os.Stderr, "dhtchaos: no scenario %q\n", name)
				return 2
			}
			list = append(list, s)
		}
	}
	if f.seed == 0 {
		f.seed = rand.Uint64() >> 1 // fits any flag parser
	}
	if f.faults == 0 {
		f.faults = 90 * time.Second
		if f.short {
			f.faults = 20 * time.Second
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal the run winds down and tears the cluster
		// down; a second one kills the harness at once (the kernel then
		// kills the nodes, and the next run removes the network).
		<-ctx.Done()
		stop()
	}()

	dir := f.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "dhtchaos-"); err != nil {
			fmt.Fprintln(os.Stderr, "dhtchaos:", err)
			return 2
		}
	}
	logf := func(format string, args ...any) {
		fmt.Printf(time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	logf("dhtchaos: seed %d (replay with -seed %d), %d scenarios, faults %v each, resolver %s, directory %s",
		f.seed, f.seed, len(list), f.faults, f.resolver, dir)
	// Leftovers of a crashed run go before anything else.
	if err := harness.CleanLeftovers(ctx); err != nil {
		logf("cleaning leftovers: %v", err)
	}
	bin := f.dhtd
	if bin == "" {
		var err error
		if bin, err = build(ctx, dir, f.race); err != nil {
			fmt.Fprintln(os.Stderr, "dhtchaos:", err)
			return 2
		}
	}

	wl := workload.Config{Clients: f.clients, SetKeys: 6, Registers: 3, SharedRegisters: f.sharedRegs, Think: 40 * time.Millisecond,
		OpTimeout: 5 * time.Second, Resolver: workload.Resolver(f.resolver), MaxOps: 1_000_000}
	opts := func(name string, res workload.Resolver) scenario.Options {
		w := wl
		w.Resolver = res
		return scenario.Options{Binary: bin, Dir: filepath.Join(dir, name), Seed: f.seed, Faults: f.faults,
			Warmup: 2 * time.Second, SettleTimeout: f.settle, Nodes: 5, Short: f.short, NodeArgs: strings.Fields(f.nodeArgs), TLS: f.tls,
			Workload: w, Logf: logf}
	}

	var results []scenario.Result
	failed := false
	lww := workload.Resolver(f.resolver) == workload.LWW
	for _, sc := range list {
		if ctx.Err() != nil {
			break
		}
		res := scenario.Run(ctx, sc, opts(sc.Name, workload.Resolver(f.resolver)))
		results = append(results, res)
		bad := scenario.Verdict(res) != "ok"
		if lww {
			// The lossy resolver must be caught.
			bad = res.Err != nil || len(res.Crashes) > 0 || len(res.Report.Lost) == 0
		}
		if bad {
			failed = true
			if ctx.Err() == nil {
				explain(res)
			}
		}
		logf("%s: %s in %v", sc.Name, scenario.Verdict(res), res.Elapsed.Round(time.Second))
		reportTeardown(logf, res)
	}

	var self *scenario.Result
	if f.selftest && !lww && ctx.Err() == nil {
		sc, _ := scenario.ByName("partition")
		sc.Name = "selftest-lww"
		o := opts(sc.Name, workload.LWW)
		o.Faults = min(f.faults, 20*time.Second)
		o.Workload.SharedRegisters = max(o.Workload.SharedRegisters, 2)
		logf("self-test: the partition scenario with clients resolving by last-write-wins and %d shared registers; the checker must report lost set elements and lost register writes",
			o.Workload.SharedRegisters)
		res := scenario.Run(ctx, sc, o)
		self = &res
		if err := selftestVerdict(res); err != nil {
			failed = true
			explain(res)
			logf("self-test FAILED: %v", err)
		} else {
			sets, regs := res.Report.LostByKind()
			logf("self-test passed: last-write-wins lost %d acknowledged set elements and %d acknowledged register writes, and the checker caught them, e.g. %s and %s",
				sets, regs, firstLost(res.Report, history.KindSet), firstLost(res.Report, history.KindRegister))
		}
		reportTeardown(logf, res)
	}

	// Each scenario's start removes what the one before left, so a
	// teardown error never changes a verdict. What the last one left must
	// not outlive the run, though: a failure to remove it fails the run as
	// the harness's own failure, named as such.
	cleanupErr := harness.CleanLeftovers(context.Background())
	if cleanupErr != nil {
		logf("harness cleanup FAILED (not a verdict on the store): %v", cleanupErr)
	}

	fmt.Printf("\nseed %d, faults %v per scenario, resolver %s, dhtd args %q, tls %v\n\n%s\n", f.seed, f.faults, f.resolver, f.nodeArgs, f.tls, scenario.TableHeader)
	for _, r := range results {
		fmt.Println(scenario.Row(r))
	}
	if self != nil {
		// The self-test's verdict is FAIL when the checker caught the loss.
		fmt.Println(strings.Replace(scenario.Row(*self), "| FAIL |", "| FAIL, as it must |", 1))
	}
	fmt.Println()
	switch {
	case ctx.Err() != nil:
		fmt.Printf("interrupted; files kept in %s\n", dir)
		return 130
	case failed:
		fmt.Printf("FAILED; replay with -seed %d; files kept in %s\n", f.seed, dir)
		return 1
	case cleanupErr != nil:
		fmt.Printf("every verdict passed, but the harness could not remove its network: %v\n", cleanupErr)
		return 1
	case f.keep:
		fmt.Printf("PASSED; files kept in %s\n", dir)
	default:
		fmt.Println("PASSED")
		_ = os.RemoveAll(dir)
	}
	return 0
}

// selftestVerdict says why the self-test failed, or nil. Its clients lose
// writes on purpose; the checker must report lost set elements and lost
// register writes, each kind by its own rule, and nothing else, since the
// final reads keep every sibling: a loss is the clients'.
func selftestVerdict(res scenario.Result) error {
	sets, regs := res.Report.LostByKind()
	switch {
	case res.Err != nil:
		return fmt.Errorf("the harness failed: %w", res.Err)
	case len(res.Crashes) > 0:
		return fmt.Errorf("%d crashes in the nodes' logs", len(res.Crashes))
	case sets == 0 || regs == 0:
		return fmt.Errorf("the checker did not catch the lossy resolver: lost set elements %d, lost register writes %d (want both > 0)", sets, regs)
	case !res.Report.CleanButLost():
		return fmt.Errorf("findings besides the clients' losses: unexpected %d, stale %d, divergent %d, sibling excess %d, converged %v",
			len(res.Report.Unexpected), len(res.Report.Stale), len(res.Report.Divergent), len(res.Report.SiblingExcess), res.Report.Converged)
	}
	return nil
}

// firstLost returns the first lost finding on a key of kind k.
func firstLost(r checker.Report, k history.Kind) string {
	for _, f := range r.Lost {
		if history.KindOf(f.Key) == k {
			return f.String()
		}
	}
	return "none"
}

// reportTeardown prints a scenario's teardown failure, apart from its
// verdict: it says nothing about the store.
func reportTeardown(logf func(string, ...any), res scenario.Result) {
	if res.TeardownErr != nil {
		logf("%s: teardown (harness, not a verdict): %v", res.Name, res.TeardownErr)
	}
}

// explain prints a failed result's findings, the history around them and
// the tails of the nodes' logs.
func explain(res scenario.Result) {
	ops, _ := readHistory(filepath.Join(res.Dir, "history.jsonl"))
	scenario.Explain(os.Stdout, res, ops)
	for id, logs := range res.Logs {
		for _, path := range logs {
			fmt.Printf("--- tail of %s (%s)\n%s\n", filepath.Base(path), id, tail(path, 30))
		}
	}
}

func readHistory(path string) ([]history.Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return history.Decode(f)
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// recheck runs the checker on a recorded scenario directory. The final
// reads hold every sibling, so no resolver is applied: what the clients
// lost shows as lost.
func recheck(dir string) int {
	ops, err := readHistory(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dhtchaos:", err)
		return 2
	}
	ff, err := os.Open(filepath.Join(dir, "final.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dhtchaos:", err)
		return 2
	}
	final, err := history.DecodeFinal(ff)
	ff.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dhtchaos: final.json:", err)
		return 2
	}
	// The directory is named after its scenario, whose rules the verdict
	// follows; a renamed one is judged by the checker's alone.
	sc, _ := scenario.ByName(filepath.Base(dir))
	res := scenario.Result{Name: filepath.Base(dir), Dir: dir, Report: checker.Check(ops, final), NoFalseNotFound: sc.NoFalseNotFound}
	fmt.Printf("%s\n%s\n", scenario.TableHeader, scenario.Row(res))
	if scenario.Verdict(res) != "ok" {
		scenario.Explain(os.Stdout, res, ops)
		return 1
	}
	return 0
}

// build compiles dhtd with the chaos tag (its data clock reads the skew
// file) into dir.
func build(ctx context.Context, dir string, race bool) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/dhtkv/dht").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module (run from inside it): %w", err)
	}
	root := strings.TrimSpace(string(out))
	bin := filepath.Join(dir, "dhtd")
	args := []string{"build", "-tags", "chaos", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/dhtd")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.Join(fmt.Errorf("go %s: %w", strings.Join(args, " "), err), errors.New(string(b)))
	}
	return bin, nil
}
