package flame

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

// DefaultModule is the module whose packages Options.Module colours as
// the project's own when it is empty.
const DefaultModule = "github.com/dhtkv/dht"

// Options says how to draw a graph. The zero value draws a 1200-pixel
// wide graph without a title.
type Options struct {
	// Title is the line at the top, such as what was profiled and under
	// which load.
	Title string
	// Width is the SVG's width in pixels (0: 1200; at least 200).
	Width int
	// MinWidth is the narrowest frame drawn, in pixels (0: 1). A narrower
	// frame, and every frame above it, is left out; its time stays in its
	// caller's width. flamegraph.pl's --minwidth.
	MinWidth float64
	// Module is the module path whose packages are coloured as the
	// project's own (empty: DefaultModule).
	Module string
}

const (
	defaultWidth    = 1200
	minWidth        = 200
	defaultMinWidth = 1.0

	pad         = 10 // left and right margin
	top         = 56 // below the title and the total
	frameHeight = 16 // one row of frames, gap included
	legendGap   = 10 // between the root row and the legend
	legendRow   = 24
	charWidth   = 7 // an estimate, for 12px Verdana
	textPad     = 3 // between a frame's edge and its label
)

// rootColor is the root frame's fill: it is no function's.
const rootColor = "rgb(200,200,200)"

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Width == 0:
		o.Width = defaultWidth
	case o.Width < minWidth:
		return o, fmt.Errorf("flame: Options.Width %d: want 0 (%d) or at least %d", o.Width, defaultWidth, minWidth)
	}
	switch {
	case o.MinWidth == 0:
		o.MinWidth = defaultMinWidth
	case o.MinWidth < 0 || math.IsNaN(o.MinWidth) || math.IsInf(o.MinWidth, 0):
		return o, fmt.Errorf("flame: Options.MinWidth %v: want 0 (%v) or a positive number of pixels", o.MinWidth, defaultMinWidth)
	}
	if o.Module == "" {
		o.Module = DefaultModule
	}
	return o, nil
}

// WriteSVG folds p (see Fold) and draws it (see Graph.WriteSVG).
func WriteSVG(w io.Writer, p *profile.Profile, o Options) error {
	g, err := Fold(p)
	if err != nil {
		return err
	}
	return g.WriteSVG(w, o)
}

// box is a frame as drawn.
type box struct {
	n     *Node
	x, w  float64
	depth int
}

// layout places every frame at least minW pixels wide: children from
// their parent's left edge, in order, each as wide as its share of the
// total. It returns the boxes root first, depth first, and how many
// frames it left out.
func layout(root *Node, width int, minW float64) (boxes []box, dropped int) {
	if root.Value <= 0 {
		return nil, 0
	}
	scale := float64(width-2*pad) / float64(root.Value)
	var walk func(n *Node, offset int64, depth int)
	walk = func(n *Node, offset int64, depth int) {
		w := float64(n.Value) * scale
		if w < minW {
			dropped += count(n)
			return
		}
		boxes = append(boxes, box{n: n, x: pad + float64(offset)*scale, w: w, depth: depth})
		for _, c := range n.Children {
			walk(c, offset, depth+1)
			offset += c.Value
		}
	}
	walk(root, 0, 0)
	return boxes, dropped
}

func count(n *Node) int {
	c := 1
	for _, ch := range n.Children {
		c += count(ch)
	}
	return c
}

// WriteSVG draws the graph into w as one SVG document: the title, the
// total, the frames (the root at the bottom) and a legend of the colours.
// Each frame is a <g> holding a <title> (its full name, time and share of
// the total, which a browser shows on hover), a <rect> and, where it
// fits, a <text> label.
func (g *Graph) WriteSVG(w io.Writer, o Options) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	if g == nil || g.Root == nil {
		return errors.New("flame: no graph")
	}
	boxes, dropped := layout(g.Root, o.Width, o.MinWidth)
	depth := 0
	for _, b := range boxes {
		depth = max(depth, b.depth)
	}
	legendY := top + (depth+1)*frameHeight + legendGap
	height := legendY + legendRow

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Verdana, sans-serif" font-size="12">
<style>g.f:hover rect { stroke: #000; stroke-width: 0.5 }</style>
<rect x="0" y="0" width="%d" height="%d" fill="rgb(250,250,245)"/>
`, o.Width, height, o.Width, height, o.Width, height)
	mid := o.Width / 2
	fmt.Fprintf(bw, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"17\">%s</text>\n", mid, esc(o.Title))
	fmt.Fprintf(bw, "<text x=\"%d\" y=\"44\" text-anchor=\"middle\" fill=\"rgb(70,70,70)\">%s</text>\n", mid, esc(g.subtitle()))

	total := g.Root.Value
	for _, b := range boxes {
		fill := rootColor
		if b.n != g.Root {
			fill = color(b.n.Name, classify(b.n.Name, o.Module))
		}
		y := top + (depth-b.depth)*frameHeight
		title := fmt.Sprintf("%s (%s, %.2f%%)", b.n.Name, g.format(b.n.Value), 100*float64(b.n.Value)/float64(total))
		fmt.Fprintf(bw, `<g class="f"><title>%s</title><rect x="%s" y="%d" width="%s" height="%d" fill="%s"/>`,
			esc(title), num(b.x), y, num(b.w), frameHeight-1, fill)
		if label := fit(shortName(b.n.Name), b.w); label != "" {
			fmt.Fprintf(bw, `<text x="%s" y="%d">%s</text>`, num(b.x+textPad), y+frameHeight-4, esc(label))
		}
		bw.WriteString("</g>\n")
	}
	if len(boxes) == 0 {
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no samples</text>\n", mid, top+frameHeight-4)
	}

	x := pad
	for _, e := range []struct {
		f     family
		label string
	}{
		{famProject, o.Module},
		{famRuntime, "Go runtime"},
		{famSyscall, "system calls"},
		{famOther, "other"},
	} {
		fmt.Fprintf(bw, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
			x, legendY, familyColor(e.f, 0.5, 0.5, 0.5), x+16, legendY+11, esc(e.label))
		x += 16 + len(e.label)*charWidth + 20
	}
	if dropped > 0 {
		frames := "frames"
		if dropped == 1 {
			frames = "frame"
		}
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"rgb(70,70,70)\">%d %s narrower than %spx not drawn</text>\n",
			o.Width-pad, legendY+11, dropped, frames, num(o.MinWidth))
	}
	bw.WriteString("</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flame: %w", err)
	}
	return nil
}

// subtitle is the line under the title: the total, and the profile's
// duration when known, with the CPUs busy on average for a CPU profile.
func (g *Graph) subtitle() string {
	s := "total: " + g.format(g.Root.Value)
	if g.SampleType != "" && g.Unit != "count" {
		s += " " + g.SampleType
	}
	if g.DurationNanos > 0 {
		s += " over " + duration(g.DurationNanos)
		if g.Unit == "nanoseconds" && g.SampleType == "cpu" {
			s += fmt.Sprintf(" (%.2f CPUs)", float64(g.Root.Value)/float64(g.DurationNanos))
		}
	}
	return s
}

// format writes a value in the graph's unit.
func (g *Graph) format(v int64) string {
	switch g.Unit {
	case "nanoseconds":
		return duration(v)
	case "count":
		if g.SampleType != "" {
			return fmt.Sprintf("%d %s", v, g.SampleType)
		}
	}
	if g.Unit == "" {
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("%d %s", v, g.Unit)
}

// duration writes nanoseconds with two decimals of the largest unit that
// is at least 1.
func duration(ns int64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2fs", float64(ns)/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", float64(ns)/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2fµs", float64(ns)/1e3)
	}
	return fmt.Sprintf("%dns", ns)
}

// num writes a coordinate with at most two decimals and no trailing
// zeros: 10, 10.5, 10.25.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// esc escapes s for XML text and attribute values, replacing characters
// XML cannot hold.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}
