// Package report holds the results of a comparison run (Results, written
// as JSON so that a run can be rendered again), reduces its repetitions to
// medians (Results.Cell), compares each of ours with the reference and
// ceiling systems (Results.Compare: throughput and CPU per operation,
// written into the JSON by Save), renders them as the Markdown section of
// docs/benchmarks.md (Markdown, Splice) and draws the chart (WriteChart).
//
// Everything here is pure but WriteChart's file output: no processes, no
// clocks. The functions are not safe for concurrent use on one Results.
package report
