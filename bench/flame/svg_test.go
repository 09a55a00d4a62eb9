package flame

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// builder makes a CPU profile in code, as the runtime writes one: two
// sample types (samples/count, cpu/nanoseconds), one function and one
// location per name unless loc is given several.
type builder struct {
	p    *profile.Profile
	fns  map[string]*profile.Function
	locs map[string]*profile.Location
}

func newBuilder() *builder {
	return &builder{
		p: &profile.Profile{
			SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
			PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
			Period:        10_000_000,
			DurationNanos: 20e9,
		},
		fns:  map[string]*profile.Function{},
		locs: map[string]*profile.Location{},
	}
}

func (b *builder) fn(name string) *profile.Function {
	f := b.fns[name]
	if f == nil {
		f = &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: name, SystemName: name}
		b.fns[name] = f
		b.p.Function = append(b.p.Function, f)
	}
	return f
}

// loc is the location of names, innermost first: more than one name is a
// call inlined into the next.
func (b *builder) loc(names ...string) *profile.Location {
	key := strings.Join(names, "\x00")
	l := b.locs[key]
	if l == nil {
		l = &profile.Location{ID: uint64(len(b.p.Location) + 1), Address: uint64(0x1000 + 16*len(b.p.Location))}
		for _, n := range names {
			l.Line = append(l.Line, profile.Line{Function: b.fn(n), Line: 1})
		}
		b.locs[key] = l
		b.p.Location = append(b.p.Location, l)
	}
	return l
}

// sample adds one sample of cpu nanoseconds whose stack is stack, root
// first; a name of the form "a|b" is b inlined into a.
func (b *builder) sample(cpu int64, stack ...string) {
	var locs []*profile.Location
	for _, s := range slices.Backward(stack) {
		names := strings.Split(s, "|")
		slices.Reverse(names)
		locs = append(locs, b.loc(names...))
	}
	b.p.Sample = append(b.p.Sample, &profile.Sample{Location: locs, Value: []int64{1, cpu}})
}

const (
	mainMain = "main.main"
	work     = "github.com/dhtkv/dht/x.work"
	malloc   = "runtime.mallocgc"
	alpha    = "example.com/alpha.a"
	odd      = "example.com/odd.f<T>&g"
	tiny     = "example.com/tiny.t"
	zeta     = "example.com/zeta.z"
)

// sampleProfile: work spends 3000 of its 4000 in mallocgc, in two samples
// of its three, so a graph of the counts would draw it at 2/3; tiny is
// 1/9001 of the total, a tenth of a pixel at 1200 wide.
func sampleProfile() *profile.Profile {
	b := newBuilder()
	b.sample(1000, mainMain, work)
	b.sample(2000, mainMain, work, malloc)
	b.sample(1000, mainMain, work, malloc)
	b.sample(2000, mainMain, zeta)
	b.sample(2000, mainMain, alpha)
	b.sample(1000, mainMain, odd)
	b.sample(1, mainMain, tiny)
	return b.p
}

// frame is a frame as drawn, read back from the SVG.
type frame struct {
	name, title, label, fill string
	x, y, w                  float64
}

// parseSVG decodes an SVG through to EOF and returns its frames, in
// document order, and the text outside them.
func parseSVG(t *testing.T, data []byte) (frames []frame, texts []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var cur *frame
	var in string // the element whose text is being read
	attr := func(e xml.StartElement, name string) string {
		for _, a := range e.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	float := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("coordinate %q: %v", s, err)
		}
		return v
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not XML: %v\n%s", err, data)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			in = e.Name.Local
			switch {
			case e.Name.Local == "g" && attr(e, "class") == "f":
				cur = &frame{}
			case e.Name.Local == "rect" && cur != nil:
				cur.x, cur.y, cur.w = float(attr(e, "x")), float(attr(e, "y")), float(attr(e, "width"))
				cur.fill = attr(e, "fill")
			}
		case xml.CharData:
			switch {
			case cur != nil && in == "title":
				cur.title += string(e)
			case cur != nil && in == "text":
				cur.label += string(e)
			case cur == nil && in == "text":
				texts = append(texts, string(e))
			}
		case xml.EndElement:
			in = ""
			if e.Name.Local == "g" && cur != nil {
				name, _, ok := strings.Cut(cur.title, " (")
				if !ok {
					t.Fatalf("a frame's title %q is not \"name (time, share)\"", cur.title)
				}
				cur.name = name
				frames = append(frames, *cur)
				cur = nil
			}
		}
	}
	return frames, texts
}

func render(t *testing.T, p *profile.Profile, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSVG(&buf, p, o); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	return buf.Bytes()
}

func byName(t *testing.T, frames []frame, name string) frame {
	t.Helper()
	for _, f := range frames {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no frame %q", name)
	return frame{}
}

func TestWriteSVG_RootSpansFullWidth(t *testing.T) {
	for _, width := range []int{0, 300, 1200, 1600} {
		frames, texts := parseSVG(t, render(t, sampleProfile(), Options{Width: width}))
		if width == 0 {
			width = defaultWidth
		}
		root := frames[0]
		if root.name != RootName {
			t.Fatalf("width %d: the first frame is %q, want the root", width, root.name)
		}
		if root.x != pad || root.w != float64(width-2*pad) {
			t.Errorf("width %d: root spans x %v, width %v; want %d, %d", width, root.x, root.w, pad, width-2*pad)
		}
		if want := "total: 9.00µs cpu over 20.00s (0.00 CPUs)"; !slices.Contains(texts, want) {
			t.Errorf("width %d: no %q in %q", width, want, texts)
		}
		if !strings.Contains(root.title, "(9.00µs, 100.00%)") {
			t.Errorf("width %d: root title %q, want the total and 100%%", width, root.title)
		}
		for _, f := range frames[1:] {
			if f.y >= root.y {
				t.Errorf("width %d: %s at y %v is not above the root (y %v)", width, f.name, f.y, root.y)
			}
		}
	}
}

func TestWriteSVG_WidthProportionalToCPU(t *testing.T) {
	frames, _ := parseSVG(t, render(t, sampleProfile(), Options{}))
	parent, child := byName(t, frames, work), byName(t, frames, malloc)
	if got, want := child.w, 0.75*parent.w; math.Abs(got-want) > 1 {
		t.Errorf("mallocgc is %v px wide, want 3/4 of work's %v px = %v (by cpu, not by sample count)", got, parent.w, want)
	}
	if child.x != parent.x || child.y != parent.y-frameHeight {
		t.Errorf("mallocgc at (%v, %v), want just above work's left edge (%v, %v)", child.x, child.y, parent.x, parent.y-frameHeight)
	}
	if !strings.HasSuffix(child.title, "(3.00µs, 33.33%)") {
		t.Errorf("mallocgc's title %q, want its time and its share of the total", child.title)
	}
}

func TestWriteSVG_SiblingsSortedByName(t *testing.T) {
	frames, _ := parseSVG(t, render(t, sampleProfile(), Options{}))
	caller := byName(t, frames, mainMain)
	var got []string
	x := 0.0
	for _, f := range frames {
		if f.y != caller.y-frameHeight {
			continue
		}
		if f.x < x {
			t.Errorf("%s at x %v is left of the sibling before it (x %v)", f.name, f.x, x)
		}
		x = f.x + f.w
		got = append(got, f.name)
	}
	want := []string{alpha, odd, zeta, work}
	if !slices.Equal(got, want) {
		t.Errorf("main.main's callees, left to right: %q, want %q", got, want)
	}
}

func TestWriteSVG_Escapes(t *testing.T) {
	title := `<script>alert("x")</script> & more`
	svg := render(t, sampleProfile(), Options{Title: title})
	for _, raw := range []string{"<T>", "T>&g", "<script>", "& more"} {
		if bytes.Contains(svg, []byte(raw)) {
			t.Errorf("the SVG holds %q unescaped", raw)
		}
	}
	frames, texts := parseSVG(t, svg)
	if f := byName(t, frames, odd); !strings.HasPrefix(f.title, odd+" (") || f.label != "odd.f<T>&g" {
		t.Errorf("frame of %q read back as title %q, label %q", odd, f.title, f.label)
	}
	if !slices.Contains(texts, title) {
		t.Errorf("the title does not read back as %q: %q", title, texts)
	}
}

func TestWriteSVG_DropsTinyFrames(t *testing.T) {
	frames, texts := parseSVG(t, render(t, sampleProfile(), Options{}))
	for _, f := range frames {
		if f.name == tiny {
			t.Errorf("%s, 0.13 px wide, is drawn", tiny)
		}
	}
	if !slices.Contains(texts, "1 frame narrower than 1px not drawn") {
		t.Errorf("no note of the frame left out in %q", texts)
	}
	// All of it at a smaller minimum, and nothing but the root at a larger.
	frames, texts = parseSVG(t, render(t, sampleProfile(), Options{MinWidth: 0.1}))
	byName(t, frames, tiny)
	for _, s := range texts {
		if strings.Contains(s, "not drawn") {
			t.Errorf("MinWidth 0.1: %q", s)
		}
	}
	frames, _ = parseSVG(t, render(t, sampleProfile(), Options{MinWidth: 2000}))
	if len(frames) != 0 {
		t.Errorf("MinWidth 2000: %d frames drawn, want none", len(frames))
	}
}

func TestWriteSVG_Labels(t *testing.T) {
	frames, _ := parseSVG(t, render(t, sampleProfile(), Options{}))
	for name, want := range map[string]string{work: "x.work", malloc: "runtime.mallocgc", RootName: RootName} {
		if got := byName(t, frames, name).label; got != want {
			t.Errorf("label of %s: %q, want %q", name, got, want)
		}
	}
	// At 200 px, alpha.a is 40 px wide: room for 4 characters.
	frames, _ = parseSVG(t, render(t, sampleProfile(), Options{Width: 200}))
	if got := byName(t, frames, alpha).label; got != "al.." {
		t.Errorf("label of %s at 200 px: %q, want %q", alpha, got, "al..")
	}
	for _, f := range frames {
		if n := len([]rune(f.label)); float64(n*charWidth) > f.w {
			t.Errorf("label %q (%d characters) overflows %s's %v px", f.label, n, f.name, f.w)
		}
	}
}

func TestWriteSVG_ColoursByFamily(t *testing.T) {
	b := newBuilder()
	b.sample(1000, mainMain, work, "syscall.Syscall6")
	b.sample(1000, mainMain, work, "github.com/dhtkv/dht/y.other")
	b.sample(1000, mainMain, work, malloc)
	frames, _ := parseSVG(t, render(t, b.p, Options{}))
	fills := map[string]bool{}
	for _, f := range frames {
		if f.name == RootName {
			continue
		}
		if fam := classify(f.name, DefaultModule); f.fill != color(f.name, fam) {
			t.Errorf("%s filled %s, want %s", f.name, f.fill, color(f.name, fam))
		}
		fills[f.fill] = true
	}
	if len(fills) != len(frames)-1 {
		t.Errorf("%d frames share %d colours", len(frames)-1, len(fills))
	}
}

func TestWriteSVG_Deterministic(t *testing.T) {
	a, b := render(t, sampleProfile(), Options{Title: "t"}), render(t, sampleProfile(), Options{Title: "t"})
	if !bytes.Equal(a, b) {
		t.Errorf("two renders of one profile differ:\n%s\n---\n%s", a, b)
	}
}

func TestWriteSVG_NoSamples(t *testing.T) {
	frames, texts := parseSVG(t, render(t, newBuilder().p, Options{}))
	if len(frames) != 0 || !slices.Contains(texts, "no samples") {
		t.Errorf("an empty profile: %d frames, texts %q", len(frames), texts)
	}
}

func TestWriteSVG_Options(t *testing.T) {
	for _, o := range []Options{{Width: 100}, {Width: -1}, {MinWidth: -1}, {MinWidth: math.NaN()}} {
		if err := WriteSVG(io.Discard, sampleProfile(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteSVG_WriteError(t *testing.T) {
	if err := WriteSVG(failingWriter{}, sampleProfile(), Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteSVG to a failing writer: %v", err)
	}
}
