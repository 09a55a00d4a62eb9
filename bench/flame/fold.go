package flame

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// RootName is the name of the root frame, the one every stack starts
// from, as in flamegraph.pl.
const RootName = "all"

// Node is one frame of the folded call tree: a function reached by one
// path of calls from the root.
type Node struct {
	// Name is the function's full name ("github.com/dhtkv/dht/x.(*T).M"),
	// or the location's address when the profile has no symbol for it.
	Name string
	// Value is the sum of the sample values of every stack through this
	// frame: the frame's own and its callees'.
	Value int64
	// Children are the frames this one called, sorted by name.
	Children []*Node
}

// Graph is a profile folded into a call tree, ready to draw.
type Graph struct {
	// Root is the frame every stack starts from, named RootName; its Value
	// is the profile's total, samples with no stack included.
	Root *Node
	// SampleType and Unit describe the values summed: "cpu" and
	// "nanoseconds" for a Go CPU profile.
	SampleType, Unit string
	// DurationNanos is how long the profile was taken over (0: unknown).
	DurationNanos int64
}

// Fold sums the samples of p into a call tree. Of the profile's sample
// types it takes "cpu" in nanoseconds, else the first in nanoseconds, else
// the last (pprof's default). Samples whose value is not positive are left
// out: a flame graph cannot draw a negative width, so a diff of two
// profiles does not fold.
func Fold(p *profile.Profile) (*Graph, error) {
	if p == nil {
		return nil, errors.New("flame: no profile")
	}
	idx, err := valueIndex(p)
	if err != nil {
		return nil, err
	}
	g := &Graph{
		Root:          &Node{Name: RootName},
		SampleType:    p.SampleType[idx].Type,
		Unit:          p.SampleType[idx].Unit,
		DurationNanos: p.DurationNanos,
	}
	// Children are looked up through a map while folding and sorted once
	// at the end.
	index := map[*Node]map[string]*Node{}
	child := func(parent *Node, name string) *Node {
		m := index[parent]
		if m == nil {
			m = map[string]*Node{}
			index[parent] = m
		}
		n := m[name]
		if n == nil {
			n = &Node{Name: name}
			m[name] = n
			parent.Children = append(parent.Children, n)
		}
		return n
	}
	for _, s := range p.Sample {
		if idx >= len(s.Value) {
			return nil, fmt.Errorf("flame: a sample has %d values, want %d", len(s.Value), len(p.SampleType))
		}
		v := s.Value[idx]
		if v <= 0 {
			continue
		}
		n := g.Root
		n.Value += v
		// Location[0] is the leaf; within a location, Line[0] is the
		// innermost of the functions inlined there.
		for i := len(s.Location) - 1; i >= 0; i-- {
			loc := s.Location[i]
			if len(loc.Line) == 0 {
				n = child(n, fmt.Sprintf("%#x", loc.Address))
				n.Value += v
				continue
			}
			for j := len(loc.Line) - 1; j >= 0; j-- {
				n = child(n, functionName(loc.Line[j]))
				n.Value += v
			}
		}
	}
	sortTree(g.Root)
	return g, nil
}

func valueIndex(p *profile.Profile) (int, error) {
	if len(p.SampleType) == 0 {
		return 0, errors.New("flame: the profile has no sample types")
	}
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			return i, nil
		}
	}
	for i, st := range p.SampleType {
		if st.Unit == "nanoseconds" {
			return i, nil
		}
	}
	return len(p.SampleType) - 1, nil
}

func functionName(l profile.Line) string {
	switch {
	case l.Function == nil:
		return "?"
	case l.Function.Name != "":
		return l.Function.Name
	case l.Function.SystemName != "":
		return l.Function.SystemName
	}
	return "?"
}

func sortTree(n *Node) {
	slices.SortFunc(n.Children, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range n.Children {
		sortTree(c)
	}
}
