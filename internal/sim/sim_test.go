package sim

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dhtkv/dht/cluster/ring"
)

var (
	seedFlag   = flag.Uint64("sim.seed", 1, "seed of the simulation tests")
	updateFlag = flag.Bool("sim.update", false, "rewrite testdata/*.golden")
)

func newSim(t *testing.T, cfg Config, seed uint64) *Sim {
	t.Helper()
	s, err := New(cfg, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSim_Targets runs the standard scenario on small clusters and checks
// issue 20's targets that are properties of claim and routing: movement on
// a join within 1.05× the ideal, a removal moving exactly the member's
// replicas, replicas per node within 5% of the fair share, distinct zones,
// full availability with one node or one zone down, and the plan settling.
// (The targets at 100 to 1,000 nodes are `make sim`'s, docs/scale.md.)
func TestSim_Targets(t *testing.T) {
	seed := *seedFlag
	for _, tc := range []struct {
		name              string
		nodes, zones, q   int
		withinMean        bool // replicas per node within 5% of the mean, too
		zoneLoss, twoZone bool
	}{
		// Exactly N zones: each zone holds Q replicas whatever its size, so
		// loads follow zone sizes, not the mean.
		{name: "3zones", nodes: 30, zones: 3, q: 1024, zoneLoss: true, twoZone: true},
		{name: "5zones", nodes: 50, zones: 5, q: 1024, withinMean: true, zoneLoss: true, twoZone: true},
		{name: "nozones", nodes: 40, zones: 0, q: 1024, withinMean: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			cfg.Nodes, cfg.Zones, cfg.Partitions = tc.nodes, tc.zones, tc.q
			s := newSim(t, cfg, seed)
			steps := []Step{{Kind: Join}, {Kind: Join}, {Kind: Join}, {Kind: Join}, {Kind: Decommission},
				{Kind: Crash}, {Kind: Recover}, {Kind: Crash}, {Kind: ForceRemove}, {Kind: Crash, Count: 2}, {Kind: Recover}}
			if tc.zoneLoss {
				steps = append(steps, Step{Kind: ZoneLoss}, Step{Kind: Recover})
			}
			if tc.twoZone {
				steps = append(steps, Step{Kind: ZoneLoss, Count: 2}, Step{Kind: Recover})
			}
			for _, st := range steps {
				r := s.Apply(st)
				if r.Skipped {
					t.Fatalf("seed %d: %v skipped", seed, st)
				}
				checkResult(t, seed, cfg, r, tc.withinMean)
				if st.Kind == Crash || st.Kind == ZoneLoss {
					checkAgainstReference(t, seed, s, r)
				}
				if !s.Plan().Settled() {
					t.Errorf("seed %d: %v: the plan has not settled (%d transfers stalled)", seed, st, r.Stalled)
				}
			}
		})
	}
}

func checkResult(t *testing.T, seed uint64, cfg Config, r Result, withinMean bool) {
	t.Helper()
	full := Availability{Partitions: cfg.Partitions, Read: cfg.Partitions, Write: cfg.Partitions, SloppyWrite: cfg.Partitions}
	where := func() string { return "seed " + itoa(seed) + ": " + r.Step.String() + " " + strings.Join(r.Nodes, ",") }
	switch r.Step.Kind {
	case Join:
		if got := r.MovedRatio(); got > 1.05 {
			t.Errorf("%s: moved %d replicas, %.3f× the ideal %.1f (want at most 1.05×)", where(), r.Moved, got, r.Ideal)
		}
		if r.MovedElsewhere != 0 {
			t.Errorf("%s: %d of the %d moved replicas went to others than the newcomer", where(), r.MovedElsewhere, r.Moved)
		}
		if r.Transfers != r.Moved || r.Settle <= 0 {
			t.Errorf("%s: %d transfers settling in %s for %d moved replicas", where(), r.Transfers, r.Settle, r.Moved)
		}
	case Decommission, ForceRemove:
		if float64(r.Moved) != r.Ideal || r.Transfers != r.Moved {
			t.Errorf("%s: moved %d replicas in %d transfers; the member held %.0f", where(), r.Moved, r.Transfers, r.Ideal)
		}
	default:
		if r.Moved != 0 || r.Transfers != 0 {
			t.Errorf("%s: moved %d replicas in %d transfers without a ring change", where(), r.Moved, r.Transfers)
		}
	}
	if r.Loads.MaxShare > 1.05 || r.Loads.MinShare < 0.95 {
		t.Errorf("%s: loads %.3f..%.3f of the fair share, want within 5%%", where(), r.Loads.MinShare, r.Loads.MaxShare)
	}
	if withinMean && (r.Loads.MaxRatio() > 1.05 || r.Loads.MinRatio() < 0.95) {
		t.Errorf("%s: loads %d..%d, mean %.1f: want within 5%%", where(), r.Loads.Min, r.Loads.Max, r.Loads.Mean)
	}
	if r.ZoneCount >= cfg.Quorum.N && r.ZoneRepeats != 0 {
		t.Errorf("%s: %d partitions repeat a zone among %d zones", where(), r.ZoneRepeats, r.ZoneCount)
	}
	if r.Stalled != 0 {
		t.Errorf("%s: %d transfers stalled", where(), r.Stalled)
	}
	switch {
	case r.Step.Kind == Crash && len(r.Nodes) == 2:
		// Two nodes down: the partitions both replicate lose R and W
		// strictly (checkAgainstReference counts them); fallbacks still
		// take every write.
		if r.Avail.SloppyWrite != cfg.Partitions {
			t.Errorf("%s: availability %+v with two nodes down, want every sloppy write", where(), r.Avail)
		}
	case r.Step.Kind == ZoneLoss && len(r.Zones) == 2:
		// Every partition has a replica in each of N distinct zones: with
		// two of Z zones down, the partitions with two replicas there (3/10
		// of them for Z = 5, all for Z = N) lose R and W; fallbacks in the
		// zones left take every write.
		want := 1 - 3.0/float64(cfg.Zones*(cfg.Zones-1)/2)
		if got := r.Avail.ReadShare(); got < want-0.05 || got > want+0.05 || r.Avail.Write != r.Avail.Read || r.Avail.SloppyWrite != cfg.Partitions {
			t.Errorf("%s: availability %+v with two of %d zones down, want reads and writes at about %.0f%%, sloppy writes at 100%%", where(), r.Avail, cfg.Zones, 100*want)
		}
	default:
		// One node or one zone down, during a ring change or after one: the
		// quorums stand.
		if r.Avail != full {
			t.Errorf("%s: availability %+v, want every partition readable and writable", where(), r.Avail)
		}
	}
	if r.Step.Kind == Recover && (r.Repair.Missed == 0 || r.Repair.Found != r.Repair.Missed) {
		t.Errorf("%s: the Merkle exchanges found %d of %d missed keys", where(), r.Repair.Found, r.Repair.Missed)
	}
}

// checkAgainstReference compares the availability the quorum machines gave,
// for a step that changed no ownership (the plan is settled, so the serving
// members are the table's replicas), with a plain count: a partition reads
// when R of its replicas are up, writes when W are.
func checkAgainstReference(t *testing.T, seed uint64, s *Sim, r Result) {
	t.Helper()
	down := map[string]bool{}
	for _, id := range s.Down() {
		down[id] = true
	}
	var read, write int
	for _, ids := range s.Plan().Table.Replicas {
		up := 0
		for _, id := range ids {
			if !down[id] {
				up++
			}
		}
		if up >= s.cfg.Quorum.R {
			read++
		}
		if up >= s.cfg.Quorum.W {
			write++
		}
	}
	if r.Avail.Read != read || r.Avail.Write != write {
		t.Errorf("seed %d: %v: %d readable and %d writable partitions, the reference counts %d and %d", seed, r.Step, r.Avail.Read, r.Avail.Write, read, write)
	}
}

func itoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}

// TestSim_Deterministic: the same seed replays the same run.
func TestSim_Deterministic(t *testing.T) {
	cfg := Default()
	run := func(seed uint64) []Result { return newSim(t, cfg, seed).Run(Standard(2)) }
	a, b := run(*seedFlag), run(*seedFlag)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("seed %d: two runs differ", *seedFlag)
	}
	if c := run(*seedFlag + 1); reflect.DeepEqual(a, c) {
		t.Errorf("seeds %d and %d gave the same run: the seed is not used", *seedFlag, *seedFlag+1)
	}
}

// TestSim_Golden replays testdata/standard.steps on the default cluster
// and compares the step table with testdata/standard.golden (-sim.update
// rewrites it). A change to claim, routing, the quorum machines or the
// simulation that changes a figure shows up here as a diff to read.
func TestSim_Golden(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "standard.steps"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := ParseSteps(string(text))
	if err != nil {
		t.Fatal(err)
	}
	got := StepTable(newSim(t, Default(), 1).Run(steps))
	golden := filepath.Join("testdata", "standard.golden")
	if *updateFlag {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("step table differs from %s (rerun with -sim.update to accept):\n%s", golden, got)
	}
}

func TestParseSteps(t *testing.T) {
	steps, err := ParseSteps("join, crash 2\n# a comment\nzone-loss\nrecover")
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{{Kind: Join}, {Kind: Crash, Count: 2}, {Kind: ZoneLoss}, {Kind: Recover}}
	if !reflect.DeepEqual(steps, want) {
		t.Fatalf("got %v, want %v", steps, want)
	}
	for _, bad := range []string{"jump", "crash x", "crash 0"} {
		if _, err := ParseSteps(bad); err == nil {
			t.Errorf("ParseSteps(%q) took it", bad)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		change func(*Config)
	}{
		{"partitions", func(c *Config) { c.Partitions = 1000 }},
		{"quorum", func(c *Config) { c.Quorum.R = 4 }},
		{"nodes", func(c *Config) { c.Nodes = 0 }},
		{"transfer_rate", func(c *Config) { c.TransferRate = 0 }},
		{"jitter", func(c *Config) { c.Jitter = 1 }},
	} {
		c := Default()
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: got %v, want an error naming it", tc.key, err)
		}
	}
}

// TestFairShares checks the reference shares against the claim doc's
// cases.
func TestFairShares(t *testing.T) {
	// members named after their zones: "aab" is a0, a1, b0.
	m := func(spec string) []ring.Member {
		var out []ring.Member
		for i, z := range spec {
			out = append(out, ring.Member{ID: string(z) + itoa(uint64(i)), Zone: string(z)})
		}
		return out
	}
	for _, tc := range []struct {
		spec string
		want map[string]float64
	}{
		{"aabbcc", map[string]float64{"a": 16, "b": 16, "c": 16}},      // 3·32/6
		{"aaabbc", map[string]float64{"a": 32. / 3, "b": 16, "c": 32}}, // N zones: Q each
		{"aaaaaabcd", map[string]float64{"a": 32. / 6, "b": 64. / 3, "c": 64. / 3, "d": 64. / 3}},
		{"aab", map[string]float64{"a": 32, "b": 32}}, // fewer zones than N
	} {
		got := fairShares(m(tc.spec), 32, 3)
		for z, w := range tc.want {
			if d := got[z] - w; d > 1e-9 || d < -1e-9 {
				t.Errorf("%s: zone %s share %.3f, want %.3f", tc.spec, z, got[z], w)
			}
		}
	}
}

// TestSim_ResizeMovesLittle: doubling Q on a settled ring of 60 nodes in
// five zones splits every partition in place, then the rebalance the
// resize records evens the loads with ordinary transfers: it moves no
// more than 1.05× the least any even spread could (ideal), well under 1%
// of what a resize that builds a new ring (Riak's) moves, which is every
// replica; every partition stays readable and writable through it; and
// the joins, removal and second resize after it claim over the new
// partitions with issue 20's targets: a join within 1.05× its ideal and
// only to the newcomer, zones distinct, replicas per node within 5% of
// the mean.
func TestSim_ResizeMovesLittle(t *testing.T) {
	cfg := Default()
	cfg.Nodes, cfg.Zones, cfg.Partitions = 60, 5, 1024
	s := newSim(t, cfg, *seedFlag)
	steps := []Step{{Kind: Resize}, {Kind: Join}, {Kind: Join}, {Kind: Decommission}, {Kind: Crash}, {Kind: Recover}, {Kind: Resize}, {Kind: Join}}
	results := s.Run(steps)
	t.Logf("\n%s", StepTable(results))
	q := cfg.Partitions
	for i, r := range results {
		checkStep(t, i, r)
		switch r.Step.Kind {
		case Resize:
			q *= 2
			if r.Partitions != q || r.MovedRatio() > 1.05 || r.Transfers != r.Moved || r.BytesMoved*100 > r.NaiveBytes {
				t.Errorf("step %d: resize to Q=%d (want %d) moved %d replicas (ideal %.0f), %d bytes in %d transfers, a new ring %d bytes",
					i, r.Partitions, q, r.Moved, r.Ideal, r.BytesMoved, r.Transfers, r.NaiveBytes)
			}
			if r.NaiveBytes != cfg.DataBytes*int64(cfg.Quorum.N) {
				t.Errorf("step %d: a new ring would move %d bytes, want %d", i, r.NaiveBytes, cfg.DataBytes*int64(cfg.Quorum.N))
			}
			if r.Avail.ReadShare() != 1 || r.Avail.WriteShare() != 1 {
				t.Errorf("step %d: %.3f of partitions readable, %.3f writable through the resize", i, r.Avail.ReadShare(), r.Avail.WriteShare())
			}
		case Join:
			if r.Partitions != q || r.MovedRatio() > 1.05 || r.MovedElsewhere != 0 {
				t.Errorf("step %d: join at Q=%d moved %.3f× its ideal, %d elsewhere", i, r.Partitions, r.MovedRatio(), r.MovedElsewhere)
			}
		}
	}
}

// TestSim_HalvingMovesWhatItMust: halving Q on a settled ring of 60 nodes
// in five zones aligns each pair of siblings, then merges: it moves no
// more than 1.1× the least any halving could (the replicas the pairs'
// sets do not share, plus the rebalance after the merge), under two
// thirds of what a resize that builds a new ring moves, with every
// partition readable and writable throughout; the ring ends on half the
// partitions with zones distinct and loads within 5% of the mean, and the
// joins, removal and growth after it claim as on any ring.
func TestSim_HalvingMovesWhatItMust(t *testing.T) {
	cfg := Default()
	cfg.Nodes, cfg.Zones, cfg.Partitions = 60, 5, 2048
	s := newSim(t, cfg, *seedFlag)
	results := s.Run([]Step{{Kind: Halve}, {Kind: Join}, {Kind: Decommission}, {Kind: Halve}, {Kind: Resize}, {Kind: Join}})
	t.Logf("\n%s", StepTable(results))
	q := cfg.Partitions
	for i, r := range results {
		checkStep(t, i, r)
		switch r.Step.Kind {
		case Halve:
			q /= 2
			if r.Partitions != q || r.MovedRatio() > 1.1 || r.BytesMoved*3 > r.NaiveBytes*2 {
				t.Errorf("step %d: halving to Q=%d (want %d) moved %d replicas (ideal %.0f), %d bytes, a new ring %d bytes",
					i, r.Partitions, q, r.Moved, r.Ideal, r.BytesMoved, r.NaiveBytes)
			}
			if r.Avail.ReadShare() != 1 || r.Avail.WriteShare() != 1 {
				t.Errorf("step %d: %.3f of partitions readable, %.3f writable through the halving", i, r.Avail.ReadShare(), r.Avail.WriteShare())
			}
		case Resize:
			q *= 2
		case Join:
			if r.Partitions != q || r.MovedRatio() > 1.05 || r.MovedElsewhere != 0 {
				t.Errorf("step %d: join at Q=%d moved %.3f× its ideal, %d elsewhere", i, r.Partitions, r.MovedRatio(), r.MovedElsewhere)
			}
		}
	}
}

// checkStep asserts what every step of the resize tests keeps: it ran,
// no partition repeats a zone, no transfer stalled, and every node holds
// within 5% of the mean.
func checkStep(t *testing.T, i int, r Result) {
	t.Helper()
	if r.Skipped {
		t.Fatalf("step %d (%s) skipped", i, r.Step)
	}
	if r.ZoneRepeats != 0 || r.Stalled != 0 {
		t.Errorf("step %d (%s): %d partitions repeat a zone, %d transfers stalled", i, r.Step, r.ZoneRepeats, r.Stalled)
	}
	if r.Loads.MaxRatio() > 1.05 || r.Loads.MinRatio() < 0.95 {
		t.Errorf("step %d (%s): loads %.3f–%.3f of the mean", i, r.Step, r.Loads.MinRatio(), r.Loads.MaxRatio())
	}
}
