package flame

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// dump writes a tree one frame a line, indented by depth: "name value".
func dump(n *Node) string {
	var b strings.Builder
	var walk func(n *Node, depth int)
	walk = func(n *Node, depth int) {
		fmt.Fprintf(&b, "%s%s %d\n", strings.Repeat("  ", depth), n.Name, n.Value)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func TestFold_SumsCPUBySortedStack(t *testing.T) {
	g, err := Fold(sampleProfile())
	if err != nil {
		t.Fatal(err)
	}
	want := `all 9001
  main.main 9001
    example.com/alpha.a 2000
    example.com/odd.f<T>&g 1000
    example.com/tiny.t 1
    example.com/zeta.z 2000
    github.com/dhtkv/dht/x.work 4000
      runtime.mallocgc 3000
`
	if got := dump(g.Root); got != want {
		t.Errorf("folded:\n%s\nwant:\n%s", got, want)
	}
	if g.SampleType != "cpu" || g.Unit != "nanoseconds" || g.DurationNanos != 20e9 {
		t.Errorf("sample type %q %q, duration %d; want cpu nanoseconds over 20s", g.SampleType, g.Unit, g.DurationNanos)
	}
}

func TestFold_InlinedAndUnsymbolized(t *testing.T) {
	b := newBuilder()
	b.sample(10, mainMain, work+"|"+malloc) // mallocgc inlined into work
	b.p.Sample = append(b.p.Sample,
		&profile.Sample{Location: []*profile.Location{{ID: 99, Address: 0xabc}, b.loc(mainMain)}, Value: []int64{1, 5}},
		&profile.Sample{Value: []int64{1, 7}},                                              // no stack: the root's alone
		&profile.Sample{Location: []*profile.Location{b.loc(work)}, Value: []int64{1, -3}}, // not drawable
	)
	g, err := Fold(b.p)
	if err != nil {
		t.Fatal(err)
	}
	want := `all 22
  main.main 15
    0xabc 5
    github.com/dhtkv/dht/x.work 10
      runtime.mallocgc 10
`
	if got := dump(g.Root); got != want {
		t.Errorf("folded:\n%s\nwant:\n%s", got, want)
	}
}

func TestFold_SampleTypes(t *testing.T) {
	tests := []struct {
		types []*profile.ValueType
		want  string // the value folded: the index's name
	}{
		{[]*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}, "cpu"},
		{[]*profile.ValueType{{Type: "cpu", Unit: "nanoseconds"}, {Type: "samples", Unit: "count"}}, "cpu"},
		{[]*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}, {Type: "x", Unit: "count"}}, "delay"},
		{[]*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}}, "alloc_space"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			p := &profile.Profile{SampleType: tt.types}
			g, err := Fold(p)
			if err != nil {
				t.Fatal(err)
			}
			if g.SampleType != tt.want {
				t.Errorf("folded %q, want %q", g.SampleType, tt.want)
			}
		})
	}
	if _, err := Fold(&profile.Profile{}); err == nil {
		t.Error("a profile without sample types: no error")
	}
	if _, err := Fold(nil); err == nil {
		t.Error("no profile: no error")
	}
}

func TestGraph_Format(t *testing.T) {
	tests := []struct {
		typ, unit string
		v         int64
		want      string
	}{
		{"cpu", "nanoseconds", 8_530_000_000, "8.53s"},
		{"cpu", "nanoseconds", 10_000_000, "10.00ms"},
		{"cpu", "nanoseconds", 1500, "1.50µs"},
		{"cpu", "nanoseconds", 999, "999ns"},
		{"samples", "count", 3, "3 samples"},
		{"alloc_space", "bytes", 4096, "4096 bytes"},
	}
	for _, tt := range tests {
		g := &Graph{SampleType: tt.typ, Unit: tt.unit}
		if got := g.format(tt.v); got != tt.want {
			t.Errorf("%s %s %d: %q, want %q", tt.typ, tt.unit, tt.v, got, tt.want)
		}
	}
}
