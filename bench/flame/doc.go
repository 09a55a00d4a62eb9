// Package flame draws a flame graph of a pprof profile as a self-contained
// SVG: the picture docs/benchmarks.md shows of a node's CPU under YCSB
// workload A (issue 16), made without graphviz or flamegraph.pl.
//
// Fold turns a parsed profile into a Graph: every sample's stack, root
// first, merged into one call tree whose nodes sum the sample values
// (CPU nanoseconds when the profile has them). Graph.WriteSVG draws the
// tree as Brendan Gregg's flamegraph.pl does: the root at the bottom and
// callees above their callers, each frame as wide as its total, siblings
// sorted by name, frames narrower than Options.MinWidth left out. Hovering
// a frame in a browser shows its full name, its time and its share of the
// total. Colours come from a hash of the frame's name, in one hue family
// each for this project's packages, the Go runtime, system calls and the
// rest.
//
//	p, err := profile.Parse(f)
//	...
//	err = flame.WriteSVG(w, p, flame.Options{Title: "dht-n3 node1, workload A"})
//
// Everything here is pure: no I/O but the io.Writer given, no clocks, and
// the same profile and options give the same bytes. A Graph is not
// modified by WriteSVG, so one may be drawn from several goroutines.
package flame
