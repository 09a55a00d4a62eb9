package dvv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

func val(s string) Sibling { return Sibling{Value: []byte(s), ContentType: "text/plain"} }

func liveValues(s Set) []string {
	var out []string
	for _, sib := range s.Live() {
		out = append(out, string(sib.Value))
	}
	slices.Sort(out)
	return out
}

func mustUpdate(t *testing.T, s Set, ctx VersionVector, v Sibling, d Dot) Set {
	t.Helper()
	out, err := s.Update(ctx, v, d, 0)
	if err != nil {
		t.Fatalf("Update(%v): %v", d, err)
	}
	if err := out.Validate(); err != nil {
		t.Fatalf("Update produced an invalid set: %v", err)
	}
	return out
}

func TestSet_UpdateSemantics(t *testing.T) {
	const a, b = Actor(1), Actor(2)
	tests := []struct {
		name string
		run  func(t *testing.T) Set
		want []string
	}{
		{"first write", func(t *testing.T) Set {
			return mustUpdate(t, Set{}, nil, val("x"), Dot{a, 1})
		}, []string{"x"}},
		{"context covering all siblings replaces them", func(t *testing.T) Set {
			s := mustUpdate(t, Set{}, nil, val("x"), Dot{a, 1})
			s = mustUpdate(t, s, nil, val("y"), Dot{a, 2})
			return mustUpdate(t, s, s.Context, val("z"), Dot{a, 3})
		}, []string{"z"}},
		{"same context through the same replica keeps both", func(t *testing.T) Set {
			s := mustUpdate(t, Set{}, nil, val("base"), Dot{a, 1})
			ctx := s.Context
			s = mustUpdate(t, s, ctx, val("x"), Dot{a, 2})
			return mustUpdate(t, s, ctx, val("y"), Dot{a, 3})
		}, []string{"x", "y"}},
		{"same context through different replicas keeps both", func(t *testing.T) Set {
			base := mustUpdate(t, Set{}, nil, val("base"), Dot{a, 1})
			x := mustUpdate(t, base, base.Context, val("x"), Dot{a, 2})
			y := mustUpdate(t, base, base.Context, val("y"), Dot{b, 1})
			return Merge(x, y)
		}, []string{"x", "y"}},
		{"blind write beside an existing value", func(t *testing.T) Set {
			s := mustUpdate(t, Set{}, nil, val("x"), Dot{a, 1})
			return mustUpdate(t, s, nil, val("y"), Dot{a, 2})
		}, []string{"x", "y"}},
		{"delete with full context leaves only a tombstone", func(t *testing.T) Set {
			s := mustUpdate(t, Set{}, nil, val("x"), Dot{a, 1})
			return mustUpdate(t, s, s.Context, Sibling{Tombstone: true}, Dot{a, 2})
		}, nil},
		{"merging an old value into a deleted key does not resurrect it", func(t *testing.T) Set {
			old := mustUpdate(t, Set{}, nil, val("x"), Dot{a, 1})
			deleted := mustUpdate(t, old, old.Context, Sibling{Tombstone: true}, Dot{b, 1})
			return Merge(old, deleted)
		}, nil},
		{"write concurrent with a delete survives", func(t *testing.T) Set {
			old := mustUpdate(t, Set{}, nil, val("x"), Dot{a, 1})
			deleted := mustUpdate(t, old, old.Context, Sibling{Tombstone: true}, Dot{b, 1})
			rewritten := mustUpdate(t, old, old.Context, val("y"), Dot{a, 2})
			return Merge(deleted, rewritten)
		}, []string{"y"}},
		{"client context from another replica supersedes what it saw", func(t *testing.T) Set {
			x := mustUpdate(t, Set{}, nil, val("x"), Dot{a, 1})
			// b never stored x; the client read it elsewhere and overwrites it at b.
			y := mustUpdate(t, Set{}, x.Context, val("y"), Dot{b, 1})
			return Merge(x, y)
		}, []string{"y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.run(t)
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			if vals := liveValues(got); !slices.Equal(vals, tt.want) {
				t.Errorf("live values = %q, want %q", vals, tt.want)
			}
		})
	}
}

func TestSet_IsDeleted(t *testing.T) {
	s := mustUpdate(t, Set{}, nil, val("x"), Dot{1, 1})
	if s.IsDeleted() {
		t.Fatal("a live key reports deleted")
	}
	s = mustUpdate(t, s, s.Context, Sibling{Tombstone: true}, Dot{1, 2})
	if !s.IsDeleted() || s.IsEmpty() {
		t.Fatalf("after delete: deleted=%v empty=%v, want true false", s.IsDeleted(), s.IsEmpty())
	}
	if (Set{}).IsDeleted() {
		t.Fatal("the empty set reports deleted")
	}
}

func TestSet_UpdateRefusesStaleDot(t *testing.T) {
	s := mustUpdate(t, Set{}, nil, val("x"), Dot{1, 5})
	for _, d := range []Dot{{1, 5}, {1, 3}, {1, 0}} {
		if _, err := s.Update(nil, val("y"), d, 0); !errors.Is(err, ErrStaleDot) {
			t.Errorf("Update with dot %v: err = %v, want ErrStaleDot", d, err)
		}
	}
	// A dot the client's context has seen is stale too, even if this replica
	// lost it: reusing it would alias two different writes.
	if _, err := (Set{}).Update(NewVersionVector(Dot{1, 9}), val("y"), Dot{1, 9}, 0); !errors.Is(err, ErrStaleDot) {
		t.Errorf("Update with a dot inside the client context: err = %v, want ErrStaleDot", err)
	}
}

func TestSet_UpdateSiblingLimit(t *testing.T) {
	var s Set
	for i := 1; i <= 3; i++ {
		s = mustUpdate(t, s, nil, val(fmt.Sprint(i)), Dot{1, uint64(i)})
	}
	got, err := s.Update(nil, val("4"), Dot{1, 4}, 3)
	if !errors.Is(err, ErrTooManySiblings) {
		t.Fatalf("err = %v, want ErrTooManySiblings", err)
	}
	if !got.Equal(s) {
		t.Fatal("a refused update changed the set")
	}
	// A write that resolves siblings is always allowed.
	if _, err := s.Update(s.Context, val("merged"), Dot{1, 4}, 3); err != nil {
		t.Fatalf("resolving write refused: %v", err)
	}
}

// TestSet_TwoInterleavedClientsBoundSiblings drives two clients that each
// read, then write with the context of their own last read, 100 times in a
// random interleaving through random replicas, at N=3 with R=2 and W=2 so
// that every read overlaps every acknowledged write. The sibling count stays
// within the number of truly concurrent writers.
func TestSet_TwoInterleavedClientsBoundSiblings(t *testing.T) {
	rng := rand.New(rand.NewPCG(testutil.Seed(t), 1))
	for trial := 0; trial < 50; trial++ {
		c := newCluster(3)
		// Each client alternates: read (GET with context), then write (PUT
		// with that context). Steps of the two clients interleave at random.
		type client struct {
			ctx     VersionVector
			hasRead bool
			writes  int
		}
		clients := []*client{{}, {}}
		for clients[0].writes < 100 || clients[1].writes < 100 {
			cl := clients[rng.IntN(2)]
			switch {
			case cl.writes == 100:
				continue
			case !cl.hasRead: // read at R=2: merge two distinct replicas
				r := rng.IntN(3)
				cl.ctx = Merge(c.replicas[r].set, c.replicas[(r+1+rng.IntN(2))%3].set).Context
				cl.hasRead = true
			default: // write through one replica and replicate to one other: W=2
				r := rng.IntN(3)
				c.write(t, r, cl.ctx, fmt.Sprint(cl.writes))
				c.sync(r, (r+1+rng.IntN(2))%3)
				cl.writes++
				cl.hasRead = false
			}
			if rng.IntN(4) == 0 { // background anti-entropy
				c.sync(rng.IntN(3), rng.IntN(3))
			}
			for i, r := range c.replicas {
				if n := len(r.set.Siblings); n > 2 {
					t.Fatalf("trial %d: replica %d holds %d siblings, want at most 2", trial, i, n)
				}
			}
		}
	}
}

// cluster simulates replicas of one key for property tests. Each replica is
// an actor minting its own dots, as a node's storage does.
type cluster struct {
	replicas []*replica
}

type replica struct {
	actor   Actor
	counter uint64
	set     Set
	ref     refState
}

func newCluster(n int) *cluster {
	c := &cluster{}
	for i := 0; i < n; i++ {
		c.replicas = append(c.replicas, &replica{actor: Actor(100 + i), ref: refState{known: map[Dot]bool{}}})
	}
	return c
}

func (c *cluster) write(t *testing.T, r int, ctx VersionVector, value string) Dot {
	t.Helper()
	rep := c.replicas[r]
	rep.counter++
	d := Dot{rep.actor, rep.counter}
	rep.set = mustUpdate(t, rep.set, ctx, val(value), d)
	return d
}

func (c *cluster) sync(from, to int) {
	c.replicas[to].set = Merge(c.replicas[to].set, c.replicas[from].set)
}

// refState is the reference model: explicit causal histories, no
// compression. known is every event the replica has heard of; an event is a
// sibling when no known event has it in its causal past.
type refState struct {
	known map[Dot]bool
}

// refEvents holds each event's value and causal past (the explicit set of
// dots the writing client had seen).
type refEvents map[Dot]refEvent

type refEvent struct {
	value string
	past  map[Dot]bool
}

func (r refState) siblings(ev refEvents) []Dot {
	var out []Dot
	for d := range r.known {
		superseded := false
		for e := range r.known {
			if ev[e].past[d] {
				superseded = true
				break
			}
		}
		if !superseded {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, compareDots)
	return out
}

func (r refState) union(o refState) refState {
	out := refState{known: map[Dot]bool{}}
	for d := range r.known {
		out.known[d] = true
	}
	for d := range o.known {
		out.known[d] = true
	}
	return out
}

// TestSet_MatchesReference runs random reads, writes and syncs over three
// replicas and checks after every step that each replica's siblings and
// context equal the reference model's.
func TestSet_MatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(testutil.Seed(t), 2))
	for trial := 0; trial < 200; trial++ {
		c := newCluster(3)
		events := refEvents{}
		type client struct {
			ctx  VersionVector
			past map[Dot]bool
		}
		clients := make([]client, 4)
		for step := 0; step < 60; step++ {
			switch op := rng.IntN(10); {
			case op < 3: // a client reads one replica
				ci, r := rng.IntN(len(clients)), rng.IntN(len(c.replicas))
				clients[ci].ctx = c.replicas[r].set.Context
				clients[ci].past = maps(c.replicas[r].ref.known)
			case op < 6: // a client writes through one replica
				ci, r := rng.IntN(len(clients)), rng.IntN(len(c.replicas))
				value := fmt.Sprintf("t%d-s%d", trial, step)
				tomb := rng.IntN(5) == 0
				rep := c.replicas[r]
				rep.counter++
				d := Dot{rep.actor, rep.counter}
				v := val(value)
				v.Tombstone = tomb
				var err error
				rep.set, err = rep.set.Update(clients[ci].ctx, v, d, 0)
				if err != nil {
					t.Fatalf("trial %d step %d: %v", trial, step, err)
				}
				events[d] = refEvent{value: value, past: maps(clients[ci].past)}
				rep.ref = rep.ref.union(refState{known: clients[ci].past})
				rep.ref.known[d] = true
			default: // anti-entropy between two replicas, one direction
				from, to := rng.IntN(len(c.replicas)), rng.IntN(len(c.replicas))
				c.sync(from, to)
				c.replicas[to].ref = c.replicas[to].ref.union(c.replicas[from].ref)
			}
			for i, rep := range c.replicas {
				if err := rep.set.Validate(); err != nil {
					t.Fatalf("trial %d step %d replica %d: %v", trial, step, i, err)
				}
				var got []Dot
				for _, s := range rep.set.Siblings {
					got = append(got, s.Dot)
					if events[s.Dot].value != string(s.Value) {
						t.Fatalf("trial %d step %d replica %d: sibling %v holds %q, want %q", trial, step, i, s.Dot, s.Value, events[s.Dot].value)
					}
				}
				if want := rep.ref.siblings(events); !slices.Equal(got, want) {
					t.Fatalf("trial %d step %d replica %d: siblings %v, reference %v", trial, step, i, got, want)
				}
				var known []Dot
				for d := range rep.ref.known {
					known = append(known, d)
				}
				if want := NewVersionVector(known...); !slices.Equal(rep.set.Context, want) {
					t.Fatalf("trial %d step %d replica %d: context %v, reference %v", trial, step, i, rep.set.Context, want)
				}
			}
		}
	}
}

func maps(m map[Dot]bool) map[Dot]bool {
	out := make(map[Dot]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// randomStates produces sets reachable by a simulated cluster, so that merge
// laws are checked on states the store can really hold.
func randomStates(t *testing.T, rng *rand.Rand, n int) []Set {
	t.Helper()
	c := newCluster(3)
	var out []Set
	var ctx VersionVector
	for len(out) < n {
		r := rng.IntN(3)
		switch rng.IntN(4) {
		case 0:
			ctx = c.replicas[r].set.Context
		case 1, 2:
			c.write(t, r, ctx, fmt.Sprint(len(out)))
		case 3:
			c.sync(r, rng.IntN(3))
		}
		out = append(out, c.replicas[r].set)
	}
	return out
}

func TestMerge_Laws(t *testing.T) {
	rng := rand.New(rand.NewPCG(testutil.Seed(t), 3))
	states := randomStates(t, rng, 300)
	pick := func() Set { return states[rng.IntN(len(states))] }
	for i := 0; i < 2000; i++ {
		a, b, c := pick(), pick(), pick()
		if ab, ba := Merge(a, b), Merge(b, a); !ab.Equal(ba) {
			t.Fatalf("not commutative:\n a=%+v\n b=%+v\n ab=%+v\n ba=%+v", a, b, ab, ba)
		}
		if l, r := Merge(Merge(a, b), c), Merge(a, Merge(b, c)); !l.Equal(r) {
			t.Fatalf("not associative:\n a=%+v\n b=%+v\n c=%+v", a, b, c)
		}
		if aa := Merge(a, a); !aa.Equal(a) {
			t.Fatalf("not idempotent: %+v -> %+v", a, aa)
		}
		if m := Merge(a, b); m.Validate() != nil {
			t.Fatalf("merge produced an invalid set: %v", m.Validate())
		}
	}
}

func TestMerge_EmptyIsIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(testutil.Seed(t), 4))
	for _, s := range randomStates(t, rng, 100) {
		if m := Merge(s, Set{}); !m.Equal(s) {
			t.Fatalf("Merge(s, empty) = %+v, want %+v", m, s)
		}
	}
}

func TestMerge_SameDotDifferentContentIsDeterministic(t *testing.T) {
	d := Dot{1, 1}
	a := Set{Context: NewVersionVector(d), Siblings: []Sibling{{Dot: d, Value: []byte("a")}}}
	b := Set{Context: NewVersionVector(d), Siblings: []Sibling{{Dot: d, Value: []byte("b")}}}
	if ab, ba := Merge(a, b), Merge(b, a); !ab.Equal(ba) {
		t.Fatalf("Merge(a,b)=%+v but Merge(b,a)=%+v", ab, ba)
	}
}

func TestReapable(t *testing.T) {
	live := mustUpdate(t, Set{}, nil, Sibling{Value: []byte("x"), Timestamp: 10}, Dot{1, 1})
	dead := mustUpdate(t, live, live.Context, Sibling{Tombstone: true, Timestamp: 20}, Dot{1, 2})
	newer := mustUpdate(t, live, live.Context, Sibling{Tombstone: true, Timestamp: 20}, Dot{2, 1})
	tests := []struct {
		name   string
		copies []Set
		want   int
		cutoff int64
		ok     bool
	}{
		{"all primaries hold the same old tombstone", []Set{dead, dead, dead}, 3, 100, true},
		{"a primary did not answer", []Set{dead, dead}, 3, 100, false},
		{"a primary holds another version", []Set{dead, dead, newer}, 3, 100, false},
		{"a primary still holds the value", []Set{dead, live, dead}, 3, 100, false},
		{"live value", []Set{live, live, live}, 3, 100, false},
		{"grace not passed", []Set{dead, dead, dead}, 3, 20, false},
		{"no primaries", nil, 0, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Reapable(tt.copies, tt.want, tt.cutoff); got != tt.ok {
				t.Fatalf("Reapable = %v, want %v", got, tt.ok)
			}
		})
	}
}
