package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/magiconair/properties"
	ycsbclient "github.com/pingcap/go-ycsb/pkg/client"
	"github.com/pingcap/go-ycsb/pkg/measurement"
	"github.com/pingcap/go-ycsb/pkg/prop"
	_ "github.com/pingcap/go-ycsb/pkg/workload" // registers the "core" workload
	"github.com/pingcap/go-ycsb/pkg/ycsb"

	"github.com/dhtkv/dht/bench/report"
)

// RunWorkload runs one go-ycsb phase (load when props say
// dotransactions=false) against db and returns what it measured. It stops
// early when ctx ends or after maxRun (0: no limit), and reports what was
// done by then. progress, when set, is called with the operations done so
// far, every interval, from another goroutine. scratch is a directory for
// go-ycsb's measurement output.
//
// go-ycsb's measurement is global: RunWorkload must not run concurrently
// with itself.
func RunWorkload(ctx context.Context, db ycsb.DB, props map[string]string, maxRun time.Duration, scratch string, progress func(done int64)) (report.Run, error) {
	out := filepath.Join(scratch, "measurement.json")
	p := properties.LoadMap(props)
	for k, v := range map[string]string{
		prop.MeasurementType:          "histogram",
		prop.OutputStyle:              "json",
		prop.MeasurementRawOutputFile: out,
		// go-ycsb prints a summary every interval; the caller's progress
		// display replaces it.
		prop.LogInterval: "86400",
	} {
		if _, _, err := p.Set(k, v); err != nil {
			return report.Run{}, err
		}
	}
	threads := p.GetInt(prop.ThreadCount, 1)
	total := p.GetInt64(prop.OperationCount, 0)
	if !p.GetBool(prop.DoTransactions, true) {
		total = p.GetInt64(prop.RecordCount, 0)
	}
	if total < int64(threads) {
		// go-ycsb's worker would exit the process.
		return report.Run{}, fmt.Errorf("harness: %d operations for %d threads: need at least one per thread", total, threads)
	}

	measurement.InitMeasure(p)
	creator := ycsb.GetWorkloadCreator(p.GetString(prop.Workload, "core"))
	if creator == nil {
		return report.Run{}, fmt.Errorf("harness: no workload %q", p.GetString(prop.Workload, "core"))
	}
	wl, err := createQuietly(creator, p)
	if err != nil {
		return report.Run{}, err
	}
	defer wl.Close()
	counted := &countingWorkload{Workload: wl}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if maxRun > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, maxRun)
		defer cancel()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if progress == nil {
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				progress(counted.n.Load())
			}
		}
	}()

	start := time.Now()
	ycsbclient.NewClient(p, counted, ycsbclient.DbWrapper{DB: db}).Run(runCtx)
	elapsed := time.Since(start)
	close(stopProgress)
	<-progressDone

	run := report.Run{
		Ops:      counted.n.Load(),
		Seconds:  elapsed.Seconds(),
		TimedOut: runCtx.Err() != nil && ctx.Err() == nil,
		PerOp:    map[string]report.OpStats{},
		Errors:   map[string]int64{},
	}
	if err := ctx.Err(); err != nil {
		return run, err
	}
	measurement.Output()
	stats, err := readMeasurement(out)
	if err != nil {
		return run, err
	}
	for op, s := range stats {
		if name, ok := strings.CutSuffix(op, "_ERROR"); ok {
			run.Errors[name] += s.Count
			continue
		}
		run.PerOp[op] = s
	}
	return run, nil
}

// readMeasurement parses go-ycsb's JSON output: one object per operation,
// every value a string.
func readMeasurement(path string) (map[string]report.OpStats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("harness: reading go-ycsb's measurements: %w", err)
	}
	out := map[string]report.OpStats{}
	if len(strings.TrimSpace(string(b))) == 0 {
		return out, nil // nothing was measured
	}
	var rows []map[string]string
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("harness: go-ycsb's measurements %s: %w", path, err)
	}
	num := func(row map[string]string, k string) (int64, error) {
		v, ok := row[k]
		if !ok {
			return 0, fmt.Errorf("harness: go-ycsb's measurements lack %q", k)
		}
		n, err := strconv.ParseFloat(v, 64)
		return int64(n), err
	}
	for _, row := range rows {
		var s report.OpStats
		var errs [5]error
		s.Count, errs[0] = num(row, "Count")
		s.AvgUs, errs[1] = num(row, "Avg(us)")
		s.P50Us, errs[2] = num(row, "50th(us)")
		s.P99Us, errs[3] = num(row, "99th(us)")
		s.P999Us, errs[4] = num(row, "99.9th(us)")
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		out[row["Operation"]] = s
	}
	return out, nil
}

// countingWorkload counts the operations (transactions and inserts) done,
// for the progress display and the throughput: a read-modify-write counts
// once, as YCSB counts it.
type countingWorkload struct {
	ycsb.Workload
	n atomic.Int64
}

func (w *countingWorkload) DoTransaction(ctx context.Context, db ycsb.DB) error {
	err := w.Workload.DoTransaction(ctx, db)
	w.n.Add(1)
	return err
}

func (w *countingWorkload) DoInsert(ctx context.Context, db ycsb.DB) error {
	err := w.Workload.DoInsert(ctx, db)
	w.n.Add(1)
	return err
}

// createQuietly creates the workload with os.Stdout pointed at /dev/null:
// go-ycsb's core workload prints its key range there, which would break
// the progress display. Nothing else runs while it does (RunWorkload is
// not concurrent with itself, and its goroutines have not started).
func createQuietly(c ycsb.WorkloadCreator, p *properties.Properties) (ycsb.Workload, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return c.Create(p)
	}
	stdout := os.Stdout
	os.Stdout = null
	defer func() {
		os.Stdout = stdout
		_ = null.Close()
	}()
	return c.Create(p)
}
