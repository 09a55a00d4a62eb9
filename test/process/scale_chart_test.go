package process_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// The chart of TestScale_GrowShrink: two panels side by side, each a
// figure against cluster size, drawn as plain SVG (no plotting library in
// the server's module).
const (
	chartPanelW, chartPanelH   = 420, 300
	chartMarginL, chartMarginR = 64, 16
	chartMarginT, chartMarginB = 40, 64
)

// chartSeries is one line of a panel: a point per row it has a value for.
type chartSeries struct {
	name   string
	color  string
	dashed bool
	xs, ys []float64
}

// scaleChart draws, against the number of nodes, the time until the ring
// agreed and the transfers settled (left), and the gossip bytes each node
// sent per second (right). Growth steps are solid lines, shrink steps
// dashed.
func scaleChart(rows []scaleRow) string {
	var growAgree, shrinkAgree, growXfer, shrinkXfer chartSeries
	var growRing, growSerf, shrinkRing, shrinkSerf chartSeries
	growAgree = chartSeries{name: "ring agreed, joins", color: "#1f77b4"}
	growXfer = chartSeries{name: "transfers, joins", color: "#ff7f0e"}
	shrinkAgree = chartSeries{name: "ring agreed, decommissions", color: "#1f77b4", dashed: true}
	shrinkXfer = chartSeries{name: "transfers, decommissions", color: "#ff7f0e", dashed: true}
	growRing = chartSeries{name: "ring-state gossip", color: "#2ca02c"}
	growSerf = chartSeries{name: "serf / memberlist", color: "#d62728"}
	shrinkRing = chartSeries{name: "ring-state gossip, after decommissions", color: "#2ca02c", dashed: true}
	shrinkSerf = chartSeries{name: "serf / memberlist, after decommissions", color: "#d62728", dashed: true}
	add := func(s *chartSeries, x, y float64) { s.xs, s.ys = append(s.xs, x), append(s.ys, y) }
	peak := 0
	for i, r := range rows {
		x := float64(r.nodes)
		shrinking := i > 0 && r.nodes < rows[i-1].nodes
		if shrinking {
			if len(shrinkRing.xs) == 0 { // the line starts from the largest size
				p := rows[peak]
				add(&shrinkRing, float64(p.nodes), p.ringBps)
				add(&shrinkSerf, float64(p.nodes), p.serfBps)
			}
			add(&shrinkAgree, x, r.agree.Seconds())
			add(&shrinkXfer, x, r.transfer.Seconds())
			add(&shrinkRing, x, r.ringBps)
			add(&shrinkSerf, x, r.serfBps)
			continue
		}
		peak = i
		if i > 0 { // the start's row has no join batch
			add(&growAgree, x, r.agree.Seconds())
			add(&growXfer, x, r.transfer.Seconds())
		}
		add(&growRing, x, r.ringBps)
		add(&growSerf, x, r.serfBps)
	}
	w := 2 * chartPanelW
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, chartPanelH, w, chartPanelH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, chartPanelH)
	chartPanel(&b, 0, "Time per change (worst batch / sum of batches)", "seconds", []chartSeries{growAgree, growXfer, shrinkAgree, shrinkXfer})
	chartPanel(&b, chartPanelW, "Gossip sent per node, settled", "bytes per second", []chartSeries{growRing, growSerf, shrinkRing, shrinkSerf})
	b.WriteString("</svg>\n")
	return b.String()
}

// chartPanel draws one panel at horizontal offset x0.
func chartPanel(b *strings.Builder, x0 int, title, unit string, series []chartSeries) {
	var xmax, ymax float64
	var sizes []float64 // the x ticks: the sizes measured
	for _, s := range series {
		for i := range s.xs {
			xmax, ymax = math.Max(xmax, s.xs[i]), math.Max(ymax, s.ys[i])
			if !slices.Contains(sizes, s.xs[i]) {
				sizes = append(sizes, s.xs[i])
			}
		}
	}
	xmax, ymax = xmax*1.05, niceCeil(ymax)
	left, right := float64(x0+chartMarginL), float64(x0+chartPanelW-chartMarginR)
	top, bottom := float64(chartMarginT), float64(chartPanelH-chartMarginB)
	px := func(x float64) float64 { return left + (right-left)*x/xmax }
	py := func(y float64) float64 { return bottom - (bottom-top)*y/ymax }

	fmt.Fprintf(b, `<text x="%.0f" y="20" text-anchor="middle" font-size="13">%s</text>`+"\n", (left+right)/2, title)
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(y), right, py(y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-4, py(y)+4, chartNum(y))
	}
	for _, x := range sizes {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(x), bottom, px(x), bottom+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), bottom+15, chartNum(x))
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, bottom, right, bottom)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top, left, bottom)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">nodes</text>`+"\n", (left+right)/2, bottom+28)
	fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", left-44, (top+bottom)/2, unit)
	legend := 0
	for _, s := range series {
		if len(s.xs) == 0 {
			continue
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		pts := make([]string, len(s.xs))
		for i := range s.xs {
			pts[i] = fmt.Sprintf("%.1f,%.1f", px(s.xs[i]), py(s.ys[i]))
			fill := s.color
			if s.dashed {
				fill = "white"
			}
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s" stroke="%s"/>`+"\n", px(s.xs[i]), py(s.ys[i]), fill, s.color)
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"%s/>`+"\n", strings.Join(pts, " "), s.color, dash)
		lx, ly := left+float64(legend%2)*((right-left)/2), bottom+42+float64(legend/2)*13
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"%s/>`+"\n", lx, ly-4, lx+16, ly-4, s.color, dash)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="10">%s</text>`+"\n", lx+20, ly, s.name)
		legend++
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v ≤ 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func chartNum(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func TestScaleChart_Draws(t *testing.T) {
	rows := []scaleRow{
		{nodes: 3, ringBps: 100, serfBps: 300},
		{nodes: 16, agree: 5 * time.Second, transfer: 20 * time.Second, ringBps: 120, serfBps: 400},
		{nodes: 8, agree: 3 * time.Second, transfer: 9 * time.Second, ringBps: 110, serfBps: 350},
	}
	svg := scaleChart(rows)
	for _, want := range []string{"<svg", "</svg>", "ring agreed, joins", "serf / memberlist, after decommissions", "polyline"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if niceCeil(37) != 50 || niceCeil(0.8) != 1 || niceCeil(100) != 100 || niceCeil(0) != 1 {
		t.Errorf("niceCeil: %v %v %v", niceCeil(37), niceCeil(0.8), niceCeil(100))
	}
}
