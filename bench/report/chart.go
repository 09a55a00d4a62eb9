package report

import (
	"fmt"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart size: the width, and the height of one panel.
const (
	chartWidth  = 26 * vg.Centimeter
	panelHeight = 11 * vg.Centimeter
)

// panel is one panel of the chart: a value of each system's Cell on each
// workload.
type panel struct {
	title, unit string
	value       func(Cell) float64
}

// chartPanels are the chart's panels, top to bottom: median throughput,
// the median p99 latency of every database operation (go-ycsb's TOTAL),
// and, where the runs recorded it, the servers' median CPU time per
// operation.
func chartPanels(r *Results) []panel {
	of := fmt.Sprintf("median of %d, %s profile", r.Profile.Reps, r.Profile.Name)
	ps := []panel{
		{"Throughput (" + of + ")", "operations per second", func(c Cell) float64 { return c.OpsPerSec }},
		{"p99 latency of every operation (" + of + ")", "milliseconds", func(c Cell) float64 { return float64(c.PerOp[TotalOp].P99Us) / 1000 }},
	}
	if cpuRecorded(r) {
		ps = append(ps, panel{"Server CPU time per operation, all server processes (" + of + ")", "microseconds",
			func(c Cell) float64 { return c.ServerCPUPerOp * 1e6 }})
	}
	return ps
}

// chartAlt is the chart's alternative text in the report.
func chartAlt(r *Results) string {
	if cpuRecorded(r) {
		return "Throughput, p99 latency of every operation and server CPU time per operation, per system and workload"
	}
	return "Throughput and p99 latency of every operation, per system and workload"
}

// WriteChart draws the panels of chartPanels, each of grouped bars (a
// group per workload, a bar per system), into a PNG at path.
func WriteChart(r *Results, path string) error {
	ps := chartPanels(r)
	var plots [][]*plot.Plot
	for _, pn := range ps {
		p, err := bars(r, pn.title, pn.unit, pn.value)
		if err != nil {
			return err
		}
		plots = append(plots, []*plot.Plot{p})
	}
	img := vgimg.New(chartWidth, panelHeight*vg.Length(len(ps)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(ps), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10), PadY: vg.Points(18)}
	canvases := plot.Align(plots, tiles, dc)
	for i, row := range plots {
		row[0].Draw(canvases[i][0])
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("report: chart %s: %w", path, err)
	}
	return f.Close()
}

// bars is one panel: a group per workload, a bar per system.
func bars(r *Results, title, unit string, value func(Cell) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.Padding = vg.Points(2)
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)

	n := len(r.Systems)
	width := vg.Points(60) / vg.Length(max(n, 1))
	top := 0.0
	for i, s := range r.Systems {
		vals := make(plotter.Values, len(r.Workloads))
		for j, w := range r.Workloads {
			if c, ok := r.Cell(s.ID, w.ID); ok {
				vals[j] = value(c)
				top = max(top, vals[j])
			}
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("report: chart %q: %w", title, err)
		}
		b.LineStyle.Width = 0
		b.Color = plotutil.Color(i)
		b.Offset = vg.Length(float64(i)-float64(n-1)/2) * width
		p.Add(b)
		p.Legend.Add(s.Label, b)
	}
	labels := make([]string, len(r.Workloads))
	for i, w := range r.Workloads {
		labels[i] = w.Label
	}
	p.NominalX(labels...)
	// Room above the bars for the legend.
	p.Y.Min = 0
	p.Y.Max = top * 1.45
	return p, nil
}
