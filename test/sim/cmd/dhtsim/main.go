// Command dhtsim is the simulation behind `make sim`: for each cluster size
// and partition count it builds a settled cluster of that many nodes in
// -zones zones and runs internal/sim's standard scenario (joins, a
// decommission, a crash and its recovery, a crash and the force-removal of
// the crashed node, one zone lost and recovered, then two), with a fixed
// seed. It prints a markdown table, one row per size and partition count
// (the table of docs/scale.md), and with -steps each run's steps.
//
// Usage:
//
//	dhtsim [-nodes 100,300,1000] [-partitions 1024,4096] [-zones 5] [-joins 5] [-seed 1] [-steps]
//
// Everything but the claim timings is a function of the flags: the same
// flags print the same figures on any machine. The claim timings are wall
// time on this machine (BenchmarkClaim_1000Nodes_Q4096 in cluster/ring is
// the steadier measure).
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dhtkv/dht/internal/sim"
)

func main() {
	os.Exit(run())
}

func run() int {
	nodes := flag.String("nodes", "100,300,1000", "comma-separated cluster sizes")
	partitions := flag.String("partitions", "1024,4096", "comma-separated partition counts (Q)")
	zones := flag.Int("zones", 5, "failure zones, nodes spread round-robin (0: none)")
	joins := flag.Int("joins", 5, "joins at the start of the scenario")
	seed := flag.Uint64("seed", 1, "seed of every run")
	steps := flag.Bool("steps", false, "also print each run's steps")
	scenario := flag.String("scenario", "", `steps to run instead of the standard scenario, e.g. "resize, join, resize" (sim.ParseSteps)`)
	flag.Parse()

	sizes, err := ints(*nodes)
	if err == nil {
		var qs []int
		if qs, err = ints(*partitions); err == nil {
			script := sim.Standard(*joins)
			if *scenario != "" {
				script, err = sim.ParseSteps(*scenario)
			}
			if err == nil {
				return matrix(sizes, qs, *zones, script, *seed, *steps)
			}
		}
	}
	fmt.Fprintln(os.Stderr, "dhtsim:", err)
	return 2
}

func matrix(sizes, qs []int, zones int, script []sim.Step, seed uint64, steps bool) int {
	var sums []sim.Summary
	var details strings.Builder
	for _, n := range sizes {
		for _, q := range qs {
			cfg := sim.Default()
			cfg.Nodes, cfg.Partitions, cfg.Zones = n, q, zones
			cfg.Now = time.Now
			start := time.Now()
			s, err := sim.New(cfg, rand.New(rand.NewPCG(seed, 0)))
			if err != nil {
				fmt.Fprintln(os.Stderr, "dhtsim:", err)
				return 2
			}
			res := s.Run(script)
			fmt.Fprintf(os.Stderr, "dhtsim: %d nodes, Q=%d: simulated %s in %s\n", n, q, s.Now().Round(time.Second), time.Since(start).Round(time.Millisecond))
			sums = append(sums, sim.Summarize(cfg, res))
			if steps {
				fmt.Fprintf(&details, "\n### %d nodes, Q = %d, %d zones, seed %d\n\n%s", n, q, zones, seed, sim.StepTable(res))
			}
		}
	}
	d := sim.Default()
	fmt.Printf("N = %d, R = %d, W = %d; %d zones; seed %d; %d GiB of data, %d MiB/s per transfer, %d transfers in and out per node; a %s outage at %d writes/s.\n\n",
		d.Quorum.N, d.Quorum.R, d.Quorum.W, zones, seed, d.DataBytes>>30, d.TransferRate>>20, d.TransferConcurrency, d.Outage, d.WritesPerSecond)
	fmt.Print(sim.SummaryTable(sums))
	fmt.Print(details.String())
	return 0
}

func ints(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q: want positive numbers separated by commas", list)
		}
		out = append(out, v)
	}
	return out, nil
}
