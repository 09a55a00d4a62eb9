package dvv

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

func req(value string, id uint64, at int64) Sibling {
	return Sibling{Value: []byte(value), ContentType: "text/plain", WriteID: id, Timestamp: at}
}

// A write handed from coordinator A to coordinator B that landed at both is
// two dots of one request: wherever the two copies meet, one sibling stays
// (the lower dot), and the context covers both, so any copy still holding
// the other drops it.
func TestWriteID_HandedOverWriteIsOneSibling(t *testing.T) {
	a := mustUpdate(t, Set{}, nil, req("v", 7, 10), Dot{1, 1})
	b := mustUpdate(t, Set{}, nil, req("v", 7, 11), Dot{2, 1})
	for _, m := range []Set{Merge(a, b), Merge(b, a)} {
		if len(m.Siblings) != 1 || m.Siblings[0].Dot != (Dot{1, 1}) || !slices.Equal(m.Siblings[0].Aliases, []Dot{{2, 1}}) {
			t.Fatalf("merged twins = %+v, want the one sibling at dot 1:1, alias 2:1", m.Siblings)
		}
		if !m.Context.Covers(Dot{2, 1}) {
			t.Fatalf("context %v dropped the twin's dot", m.Context)
		}
		if again := Merge(m, b); !again.Equal(m) {
			t.Fatalf("a copy still holding the twin brought it back: %+v", again.Siblings)
		}
	}
	// B coordinates the handed-over write after A's copy reached it: the
	// set holds the write once as soon as it is minted.
	atB := mustUpdate(t, a, nil, req("v", 7, 11), Dot{2, 1})
	if len(atB.Siblings) != 1 || !atB.Context.Covers(Dot{2, 1}) {
		t.Fatalf("twin minted beside the first: %+v", atB)
	}
	// Requests without ids are distinct writes, as before.
	c := mustUpdate(t, Set{}, nil, val("v"), Dot{1, 1})
	d := mustUpdate(t, Set{}, nil, val("v"), Dot{2, 1})
	if m := Merge(c, d); len(m.Siblings) != 2 {
		t.Fatalf("two writes without ids merged to %d siblings, want 2", len(m.Siblings))
	}
}

// A client that read only one twin and overwrote it supersedes the other
// too: the overwrite leaves a ghost of the request, and the twin is dropped
// wherever it meets the ghost, in either merge order, and at a coordinator
// that mints it after the overwrite arrived.
func TestWriteID_OverwriteOfOneTwinSupersedesTheOther(t *testing.T) {
	atA := mustUpdate(t, Set{}, nil, req("old", 7, 10), Dot{1, 1})
	atB := mustUpdate(t, Set{}, nil, req("old", 7, 11), Dot{2, 1})
	overwritten := mustUpdate(t, atA, atA.Context, req("new", 8, 20), Dot{1, 2})
	if !slices.Equal(overwritten.Ghosts, []Ghost{{WriteID: 7, At: 10}}) {
		t.Fatalf("ghosts after the overwrite = %+v, want request 7 written at 10", overwritten.Ghosts)
	}
	for _, m := range []Set{Merge(overwritten, atB), Merge(atB, overwritten)} {
		if got := liveValues(m); !slices.Equal(got, []string{"new"}) {
			t.Fatalf("after the twin met the overwrite: %v, want [new]", got)
		}
	}
	minted := mustUpdate(t, overwritten, nil, req("old", 7, 21), Dot{2, 1})
	if got := liveValues(minted); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("twin minted after the overwrite: %v, want [new]", got)
	}
	// The overwrite's own request stays: ghosts name superseded requests.
	if m := Merge(overwritten, atB); m.Siblings[0].WriteID != 8 {
		t.Fatalf("the overwrite lost its request id: %+v", m.Siblings)
	}
}

// A client that read only the higher twin, whose write a coordinator
// holding only the lower one took, superseded the request: the lower twin
// goes once the write meets a copy of the higher one (no copy holds its dot
// under any name), and the write meets nothing it must keep.
func TestWriteID_ContextCoveringTheOtherTwinSupersedesIt(t *testing.T) {
	atA := mustUpdate(t, Set{}, nil, req("old", 7, 10), Dot{1, 1})
	atB := mustUpdate(t, Set{}, nil, req("old", 7, 11), Dot{2, 1})
	overwritten := mustUpdate(t, atA, atB.Context, req("new", 8, 20), Dot{1, 2})
	for _, m := range []Set{Merge(overwritten, atB), Merge(atB, overwritten)} {
		if got := liveValues(m); !slices.Equal(got, []string{"new"}) {
			t.Fatalf("after the overwrite met the twin it read: %v, want [new]", got)
		}
	}
	// The collapsed pair, overwritten by a context covering only the
	// alias, goes too.
	both := Merge(atA, atB)
	if got := mustUpdate(t, both, atB.Context, req("new", 8, 20), Dot{3, 1}); !slices.Equal(liveValues(got), []string{"new"}) {
		t.Fatalf("overwrite covering the alias left %v, want [new]", liveValues(got))
	}
}

// Ghosts are bounded: the most recent MaxGhosts stay, the same ones on every
// replica, whatever order the ghosts arrived in.
func TestWriteID_GhostsAreCappedByRecency(t *testing.T) {
	s := Set{}
	var dot uint64
	for i := range MaxGhosts + 3 {
		dot++
		s = mustUpdate(t, s, s.Context, req(fmt.Sprint(i), uint64(100-i), int64(i)), Dot{1, dot})
	}
	if len(s.Ghosts) != MaxGhosts {
		t.Fatalf("%d ghosts, want the cap %d", len(s.Ghosts), MaxGhosts)
	}
	// Request 100-i was written at i; the most recent superseded ones are
	// the last MaxGhosts before the live one.
	for _, g := range s.Ghosts {
		if g.At < int64(2) {
			t.Fatalf("kept an old ghost %+v of %+v", g, s.Ghosts)
		}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The ghost of a handed-over request outlives many plain overwrites: the
// copy a client read and overwrote was the handed-over one (B's), the
// twin (A's, cut off by a partition) comes back after the key was
// overwritten far more than MaxGhosts times, and it is still dropped. Only
// MaxHandedOverGhosts later handed-over supersessions evict the ghost, and
// the twin then comes back as a sibling, never as a loss.
func TestWriteID_HandedOverGhostOutlivesPlainOverwrites(t *testing.T) {
	twinAtA := mustUpdate(t, Set{}, nil, req("old", 7, 10), Dot{1, 1})
	handed := req("old", 7, 11)
	handed.HandedOver = true
	s := mustUpdate(t, Set{}, nil, handed, Dot{2, 1})
	overwrite := func(s Set, n int, handedOver bool, firstID uint64) Set {
		for i := range n {
			v := req(fmt.Sprint("new", firstID+uint64(i)), firstID+uint64(i), 20+int64(len(s.Context))+int64(i))
			v.HandedOver = handedOver
			s = mustUpdate(t, s, s.Context, v, Dot{2, s.Context.Get(2) + 1})
		}
		return s
	}
	s = overwrite(s, 20*MaxGhosts, false, 1000)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Set{Merge(s, twinAtA), Merge(twinAtA, s)} {
		if got := liveValues(m); len(got) != 1 || got[0] == "old" {
			t.Fatalf("after %d plain overwrites the twin came back: %v", 20*MaxGhosts, got)
		}
	}
	// The last of these is live: MaxHandedOverGhosts ghosts of later
	// handed-over requests come before it.
	s = overwrite(s, MaxHandedOverGhosts+1, true, 5000)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if m := Merge(s, twinAtA); !slices.Contains(liveValues(m), "old") || len(m.Siblings) != 2 {
		t.Fatalf("after %d handed-over overwrites the twin's ghost should be evicted and the twin a sibling: %v", MaxHandedOverGhosts, liveValues(m))
	}
}

// Twins that meet collapse into one sibling that is handed over if either
// copy was, so its ghost gets the larger cap whichever copy a client read.
func TestWriteID_CollapseKeepsHandedOver(t *testing.T) {
	a := mustUpdate(t, Set{}, nil, req("v", 7, 10), Dot{1, 1})
	handed := req("v", 7, 11)
	handed.HandedOver = true
	b := mustUpdate(t, Set{}, nil, handed, Dot{2, 1})
	for _, m := range []Set{Merge(a, b), Merge(b, a)} {
		if len(m.Siblings) != 1 || !m.Siblings[0].HandedOver {
			t.Fatalf("collapsed twins = %+v, want one sibling marked handed over", m.Siblings)
		}
		over := mustUpdate(t, m, m.Context, req("new", 8, 20), Dot{1, 2})
		if len(over.Ghosts) != 1 || !over.Ghosts[0].HandedOver {
			t.Fatalf("ghost of the collapsed twins = %+v, want handed over", over.Ghosts)
		}
	}
}

func TestSet_ValidateRefusesBadGhosts(t *testing.T) {
	base := Set{Context: NewVersionVector(Dot{1, 1}), Siblings: []Sibling{{Dot: Dot{1, 1}}}}
	for name, gs := range map[string][]Ghost{
		"zero write id": {{WriteID: 0}},
		"unsorted":      {{WriteID: 2}, {WriteID: 1}},
		"duplicate":     {{WriteID: 1}, {WriteID: 1}},
		"too many":      {{WriteID: 1}, {WriteID: 2}, {WriteID: 3}, {WriteID: 4}, {WriteID: 5}},
		"too many handed over": func() []Ghost {
			gs := make([]Ghost, MaxHandedOverGhosts+1)
			for i := range gs {
				gs[i] = Ghost{WriteID: uint64(i + 1), HandedOver: true}
			}
			return gs
		}(),
	} {
		bad := base
		bad.Ghosts = gs
		if bad.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, gs)
		}
	}
}

// TestWriteID_HandoversConverge drives three replicas through random
// requests, some handed over (minted at two replicas with one context and
// one id), random overwrites and random syncs, then syncs everything. Every
// replica ends with the same set, no request held twice, and exactly the
// requests that no later request's context covered (while the number of
// superseded requests stays within MaxGhosts, so no ghost was evicted).
// The merge laws hold on every state reached.
func TestWriteID_HandoversConverge(t *testing.T) {
	rng := rand.New(rand.NewPCG(testutil.Seed(t), 17))
	exact := 0
	for run := range 300 {
		replicas := make([]Set, 3)
		counters := make([]uint64, 3)
		type request struct {
			dots []Dot
			ctx  VersionVector
		}
		var requests []request
		var states []Set
		for step := range 12 {
			switch rng.IntN(3) {
			case 0, 1:
				ctx := replicas[rng.IntN(3)].Context
				if rng.IntN(3) == 0 {
					ctx = nil
				}
				r := request{ctx: ctx}
				coords := []int{rng.IntN(3)}
				if rng.IntN(3) == 0 { // handed over
					coords = append(coords, (coords[0]+1+rng.IntN(2))%3)
				}
				id := uint64(len(requests) + 1)
				for i, c := range coords {
					counters[c]++
					d := Dot{Actor(c + 1), max(counters[c], replicas[c].Context.Get(Actor(c+1))+1)}
					counters[c] = d.Counter
					v := req(fmt.Sprint(id), id, int64(step))
					v.HandedOver = i > 0
					replicas[c] = mustUpdate(t, replicas[c], ctx, v, d)
					r.dots = append(r.dots, d)
				}
				requests = append(requests, r)
			case 2:
				from, to := rng.IntN(3), rng.IntN(3)
				replicas[to] = Merge(replicas[to], replicas[from])
			}
			states = append(states, replicas...)
		}
		for range 3 {
			for from := range 3 {
				for to := range 3 {
					replicas[to] = Merge(replicas[to], replicas[from])
				}
			}
		}
		for i := 1; i < 3; i++ {
			if !replicas[i].Equal(replicas[0]) {
				t.Fatalf("run %d: replicas diverged:\n%+v\n%+v", run, replicas[0], replicas[i])
			}
		}
		final := replicas[0]
		if err := final.Validate(); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		var got []string
		for _, sib := range final.Siblings {
			got = append(got, string(sib.Value))
		}
		if len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("run %d: a request is held twice: %v", run, got)
		}
		var want []string
		superseded := 0
		for i, r := range requests {
			covered := false
			for _, o := range requests {
				for _, d := range r.dots {
					covered = covered || o.ctx.Covers(d)
				}
			}
			if covered {
				superseded++
			} else {
				want = append(want, fmt.Sprint(i+1))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Fatalf("run %d: request %s lost: final %v, want at least %v (the ones no context covered)", run, w, got, want)
			}
		}
		if superseded <= MaxGhosts {
			exact++
			if !slices.Equal(got, want) {
				t.Fatalf("run %d: final requests %v, want %v (the ones no context covered)", run, got, want)
			}
		}
		for range 50 {
			a, b := states[rng.IntN(len(states))], states[rng.IntN(len(states))]
			if ab, ba := Merge(a, b), Merge(b, a); !ab.Equal(ba) {
				t.Fatalf("not commutative:\n a=%+v\n b=%+v", a, b)
			}
			if aa := Merge(a, a); !aa.Equal(a) {
				t.Fatalf("not idempotent: %+v -> %+v", a, aa)
			}
			if err := Merge(a, b).Validate(); err != nil {
				t.Fatalf("merge produced an invalid set: %v", err)
			}
		}
	}
	if exact < 100 {
		t.Fatalf("only %d of 300 runs stayed within MaxGhosts: the exact check barely ran", exact)
	}
}
