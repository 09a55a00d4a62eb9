// Command dhtbench is the load tool of issue 8: YCSB workloads, through
// go-ycsb's client, workload and measurement packages, against this store,
// etcd, and a no-op server.
//
//	dhtbench compare [flags]     start each system, run the workloads, write the report (make bench)
//	dhtbench ycsb [flags]        one phase of one workload against servers already running
//	dhtbench render [flags]      rewrite the report and chart from a results file
//	dhtbench flame [flags] PROF  draw a pprof profile as a flame graph (SVG)
//	dhtbench noop-server [flags] the no-op HTTP server behind the harness's ceiling
//
// Run `dhtbench <command> -h` for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"

	"github.com/dhtkv/dht/bench/flame"
	"github.com/dhtkv/dht/bench/harness"
	"github.com/dhtkv/dht/bench/noop"
	"github.com/dhtkv/dht/bench/report"
	_ "github.com/dhtkv/dht/bench/ycsbdb" // registers the dht and etcd bindings
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "compare":
		err = compare(ctx, os.Args[2:])
	case "ycsb":
		err = runYCSB(ctx, os.Args[2:])
	case "render":
		err = render(os.Args[2:])
	case "flame":
		err = flameGraph(os.Args[2:])
	case "noop-server":
		err = noopServer(ctx, os.Args[2:])
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dhtbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: dhtbench <command> [flags]

  compare      start each system, run YCSB load, A, B, C, F, D on it, write the report (make bench)
  ycsb         one phase of one workload against servers already running
  render       rewrite the report and chart from a results file
  flame        draw a pprof profile as a flame graph (SVG), e.g. make bench-profile's
  noop-server  the no-op HTTP server that measures the harness's ceiling
`)
}

// listFlag collects a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// repeatFlag collects every use of a flag.
type repeatFlag []string

func (r *repeatFlag) String() string     { return strings.Join(*r, "; ") }
func (r *repeatFlag) Set(s string) error { *r = append(*r, s); return nil }

// outputs are where a report goes.
type outputs struct{ json, docs, chart string }

func (o *outputs) register(fs *flag.FlagSet) {
	fs.StringVar(&o.json, "json", "docs/ycsb/results.json", "write the results as JSON here (empty: don't)")
	fs.StringVar(&o.docs, "docs", "docs/benchmarks.md", "splice the report into this Markdown file, between "+report.BeginMarker+" and "+report.EndMarker+" (created if missing; empty: print it)")
	fs.StringVar(&o.chart, "chart", "docs/ycsb/ycsb.png", "draw the chart into this PNG (empty: don't)")
}

func (o *outputs) write(r *report.Results) error {
	for _, p := range []string{o.json, o.chart} {
		if p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
	}
	if o.json != "" {
		if err := r.Save(o.json); err != nil {
			return err
		}
		fmt.Println("results:", o.json)
	}
	chartRef := ""
	if o.chart != "" {
		if err := report.WriteChart(r, o.chart); err != nil {
			return err
		}
		fmt.Println("chart:", o.chart)
		chartRef = o.chart
		if o.docs != "" {
			if rel, err := filepath.Rel(filepath.Dir(o.docs), o.chart); err == nil {
				chartRef = filepath.ToSlash(rel)
			}
		}
	}
	md := report.Markdown(r, chartRef)
	if o.docs == "" {
		fmt.Println(md)
		return nil
	}
	doc, err := os.ReadFile(o.docs)
	if errors.Is(err, os.ErrNotExist) {
		// A new file: just the section, between the markers.
		doc, err = []byte(report.BeginMarker+"\n"+report.EndMarker+"\n"), nil
	}
	if err != nil {
		return err
	}
	out, err := report.Splice(string(doc), md)
	if err != nil {
		return fmt.Errorf("%s: %w", o.docs, err)
	}
	if err := os.WriteFile(o.docs, []byte(out), 0o644); err != nil {
		return err
	}
	fmt.Println("report:", o.docs)
	return nil
}

func compare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	profile := fs.String("profile", "short", "parameter set: short (a few minutes, for CI-like runs) or full (the documented one)")
	records := fs.Int64("records", 0, "records to load (0: the profile's)")
	ops := fs.Int64("ops", 0, "operations per workload (0: the profile's)")
	threads := fs.Int("threads", 0, "YCSB threads (0: the profile's)")
	reps := fs.Int("reps", 0, "repetitions (0: the profile's)")
	maxRun := fs.Duration("max-run", 0, "cut a workload run after this long (0: the profile's)")
	systems := listFlag(harness.SystemIDs)
	fs.Var(&systems, "systems", "systems to run, comma-separated (also: "+strings.Join(harness.ExtraSystemIDs, ", ")+")")
	workloads := listFlag(harness.WorkloadIDs())
	fs.Var(&workloads, "workloads", "workloads to run after the load, comma-separated")
	var bin harness.Binaries
	fs.StringVar(&bin.DHTD, "dhtd", "bin/dhtd", "the dhtd binary")
	fs.StringVar(&bin.Etcd, "etcd", "etcd", "the etcd binary")
	workDir := fs.String("workdir", "", "directory for the servers' data and logs (empty: a new temporary one)")
	keep := fs.Bool("keep", false, "keep the servers' data and logs")
	cpuProfile := fs.String("cpuprofile", "", "capture a CPU profile of node1 of the first replicated dht system during workload A into this directory (runs dhtd with --http.pprof)")
	cpuSeconds := fs.Int("cpuprofile-seconds", 10, "length of that profile; make workload A last at least this long")
	revision := fs.String("revision", "", "what the servers were built from, for the report (scripts/bench.sh passes the git commit)")
	var notes repeatFlag
	fs.Var(&notes, "note", "a note to print under the tables (repeatable), such as how busy the machine was")
	var out outputs
	out.register(fs)
	_ = fs.Parse(args)

	pr, ok := harness.Profiles[*profile]
	if !ok {
		return fmt.Errorf("unknown profile %q (known: %s)", *profile, strings.Join(slices.Sorted(maps.Keys(harness.Profiles)), ", "))
	}
	if *records > 0 {
		pr.Records = *records
	}
	if *ops > 0 {
		pr.Operations = *ops
	}
	if *threads > 0 {
		pr.Threads = *threads
	}
	if *reps > 0 {
		pr.Reps = *reps
	}
	if *maxRun > 0 {
		pr.MaxRunSeconds = maxRun.Seconds()
	}
	if *records > 0 || *ops > 0 || *threads > 0 || *reps > 0 || *maxRun > 0 {
		pr.Name += " (modified)"
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin.Self = self
	for _, id := range systems {
		switch {
		case strings.HasPrefix(id, "dht"):
			if _, err := os.Stat(bin.DHTD); err != nil {
				return fmt.Errorf("dhtd: %w (build it with `make build`)", err)
			}
		case id == "etcd":
			if bin.Etcd == "" {
				return errors.New("no etcd binary: pass -etcd (scripts/bench.sh fetches Debian's)")
			}
		}
	}
	dir := *workDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dhtbench-"); err != nil {
			return err
		}
		if !*keep {
			defer os.RemoveAll(dir)
		}
	}
	if *cpuProfile != "" {
		if err := os.MkdirAll(*cpuProfile, 0o755); err != nil {
			return err
		}
	}
	fmt.Printf("dhtbench compare: %s profile: %d records, %d operations per workload, %d threads, %d repetitions; systems %s; workloads load,%s; data under %s\n",
		pr.Name, pr.Records, pr.Operations, pr.Threads, pr.Reps, systems.String(), workloads.String(), dir)
	res, err := harness.Compare(ctx, harness.Config{
		Profile: pr, Systems: systems, Workloads: workloads, Binaries: bin,
		WorkDir: dir, Keep: *keep, ProfileDir: *cpuProfile, ProfileSeconds: *cpuSeconds,
		Out: os.Stdout, TTY: harness.IsTerminal(os.Stdout),
	})
	res.Notes = append(slices.Clone(notes), res.Notes...)
	res.Revision = *revision
	if err != nil {
		if len(res.Runs) > 0 && out.json != "" {
			partial := strings.TrimSuffix(out.json, ".json") + ".partial.json"
			if serr := res.Save(partial); serr == nil {
				fmt.Fprintln(os.Stderr, "dhtbench: partial results in", partial)
			}
		}
		return err
	}
	return out.write(res)
}

func render(args []string) error {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	in := fs.String("in", "docs/ycsb/results.json", "results written by compare")
	var out outputs
	out.register(fs)
	_ = fs.Parse(args)
	r, err := report.Load(*in)
	if err != nil {
		return err
	}
	out.json = "" // it is the input
	return out.write(r)
}

// flameGraph draws a profile, such as the one make bench-profile takes of
// a node, as a flame graph.
func flameGraph(args []string) error {
	fs := flag.NewFlagSet("flame", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: dhtbench flame [flags] profile.pprof")
		fs.PrintDefaults()
	}
	title := fs.String("title", "", "the title line (empty: the profile's file name)")
	out := fs.String("o", "", "write the SVG here (empty: beside the profile, its .pprof replaced by .svg; -: standard output)")
	var o flame.Options
	fs.IntVar(&o.Width, "width", 1200, "width in pixels")
	fs.Float64Var(&o.MinWidth, "minwidth", 1, "leave out frames narrower than this many pixels")
	fs.StringVar(&o.Module, "module", flame.DefaultModule, "the module whose packages are coloured as the project's own")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("flame: want one profile")
	}
	in := fs.Arg(0)
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	o.Title = *title
	if o.Title == "" {
		o.Title = filepath.Base(in)
	}
	var svg strings.Builder
	if err := flame.WriteSVG(&svg, p, o); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	switch *out {
	case "-":
		_, err := os.Stdout.WriteString(svg.String())
		return err
	case "":
		*out = in
		for _, ext := range []string{".pprof", ".pb.gz", ".prof"} {
			if strings.HasSuffix(in, ext) {
				*out = strings.TrimSuffix(in, ext)
				break
			}
		}
		*out += ".svg"
	}
	if err := os.WriteFile(*out, []byte(svg.String()), 0o644); err != nil {
		return err
	}
	fmt.Println("flame graph:", *out)
	return nil
}

func runYCSB(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ycsb", flag.ExitOnError)
	db := fs.String("db", "dht", "binding: dht or etcd")
	workload := fs.String("workload", "a", "workload: a, b, c, d or f")
	phase := fs.String("phase", "run", "load (insert the records) or run (the workload's operations)")
	pr := harness.Profiles["short"]
	fs.Int64Var(&pr.Records, "records", pr.Records, "records")
	fs.Int64Var(&pr.Operations, "ops", pr.Operations, "operations of a run")
	fs.IntVar(&pr.Threads, "threads", pr.Threads, "YCSB threads")
	maxRun := fs.Duration("max-run", 0, "stop after this long (0: when done)")
	var extra repeatFlag
	fs.Var(&extra, "p", "a go-ycsb property key=value (repeatable), e.g. -p dht.endpoints=http://127.0.0.1:8080,http://127.0.0.1:8081, -p dht.cacert=ca.pem for https:// endpoints, -p dht.blind_updates=true for updates that are one blind PUT (an lww bucket), or -p etcd.endpoints=http://127.0.0.1:2379")
	_ = fs.Parse(args)

	id := *workload
	switch *phase {
	case "load":
		id = harness.LoadID
	case "run":
	default:
		return fmt.Errorf("-phase %q: want load or run", *phase)
	}
	props, err := harness.Props(id, pr)
	if err != nil {
		return err
	}
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("-p %q: want key=value", kv)
		}
		props[k] = v
	}
	creator := ycsb.GetDBCreator(*db)
	if creator == nil {
		return fmt.Errorf("-db %q: want dht or etcd", *db)
	}
	d, err := creator.Create(properties.LoadMap(props))
	if err != nil {
		return err
	}
	defer d.Close()
	scratch, err := os.MkdirTemp("", "dhtbench-ycsb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	total := pr.Operations
	if id == harness.LoadID {
		total = pr.Records
	}
	prog := harness.NewProgress(os.Stderr, harness.IsTerminal(os.Stderr))
	prog.Begin(*db+" "+id, total, *maxRun)
	run, err := harness.RunWorkload(ctx, d, props, *maxRun, scratch, prog.Update)
	prog.End()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s: %d operations in %.2fs: %.0f ops/s\n", *db, id, run.Ops, run.Seconds, run.OpsPerSec())
	fmt.Printf("%-18s %9s %9s %9s %9s %9s\n", "operation", "count", "avg µs", "p50 µs", "p99 µs", "p99.9 µs")
	for _, op := range slices.Sorted(maps.Keys(run.PerOp)) {
		s := run.PerOp[op]
		fmt.Printf("%-18s %9d %9d %9d %9d %9d\n", op, s.Count, s.AvgUs, s.P50Us, s.P99Us, s.P999Us)
	}
	for _, op := range slices.Sorted(maps.Keys(run.Errors)) {
		fmt.Printf("%-18s %9d errors\n", op, run.Errors[op])
	}
	return nil
}

func noopServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("noop-server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	fields := fs.Int("fields", 10, "fields of the record every GET returns")
	length := fs.Int("field-length", 100, "bytes of each field")
	_ = fs.Parse(args)
	srv := &http.Server{Addr: *listen, Handler: noop.New(*fields, *length), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}
