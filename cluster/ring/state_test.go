package ring

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

func TestState_JoinRemove(t *testing.T) {
	a, b := Member{ID: "a", Zone: "z1"}, Member{ID: "b", Zone: "z2"}
	base := State{}.Join(a).Join(b) // a@1, b@2
	for _, tt := range []struct {
		name string
		got  State
		want []MemberState
	}{
		{"empty", State{}, nil},
		{"joins", base, []MemberState{{ID: "a", Zone: "z1", JoinVersion: 1, RemoveVersion: 0}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
		{"join again, same zone: no-op", base.Join(a), []MemberState{{ID: "a", Zone: "z1", JoinVersion: 1, RemoveVersion: 0}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
		{"join again, new zone", base.Join(Member{"a", "z3"}), []MemberState{{ID: "a", Zone: "z3", JoinVersion: 3, Past: []Span{{"z1", 1, 0}}}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
		{"remove", base.Remove("a"), []MemberState{{ID: "a", Zone: "z1", JoinVersion: 1, RemoveVersion: 3}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
		{"remove absent: no-op", base.Remove("c"), []MemberState{{ID: "a", Zone: "z1", JoinVersion: 1, RemoveVersion: 0}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
		{"remove twice: no-op", base.Remove("a").Remove("a"), []MemberState{{ID: "a", Zone: "z1", JoinVersion: 1, RemoveVersion: 3}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
		{"rejoin after removal", base.Remove("a").Join(a), []MemberState{{ID: "a", Zone: "z1", JoinVersion: 4, Past: []Span{{"z1", 1, 3}}}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
		{"insert sorted", base.Join(Member{ID: "0"}), []MemberState{{ID: "0", Zone: "", JoinVersion: 3, RemoveVersion: 0}, {ID: "a", Zone: "z1", JoinVersion: 1, RemoveVersion: 0}, {ID: "b", Zone: "z2", JoinVersion: 2, RemoveVersion: 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got.Members, tt.want) {
				t.Fatalf("got %v, want %v", tt.got.Members, tt.want)
			}
			if err := tt.got.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if base.Owner("c") || !base.Owner("a") || base.Remove("a").Owner("a") {
		t.Error("Owner disagrees with the members")
	}
	if got := base.Remove("a").Owners(); !slices.Equal(got, []Member{b}) {
		t.Errorf("Owners after removing a = %v", got)
	}
	if base.Clock() != 2 || base.Remove("b").Clock() != 3 || (State{}).Clock() != 0 {
		t.Error("Clock is not the highest version")
	}
}

func TestState_DoesNotModifyItsReceiver(t *testing.T) {
	s := State{}.Join(Member{ID: "a"}).Join(Member{ID: "c"})
	saved := slices.Clone(s.Members)
	_ = s.Join(Member{ID: "b"})
	_ = s.Join(Member{ID: "a", Zone: "new"})
	_ = s.Remove("c")
	_ = Merge(s, State{}.Join(Member{ID: "a", Zone: "z"}).Join(Member{ID: "a", Zone: "y"}))
	if !reflect.DeepEqual(s.Members, saved) {
		t.Fatalf("state changed under its methods: %v, was %v", s.Members, saved)
	}
}

// randomState returns a state reached by random operations from a shared
// ancestor, so that states from the same rng overlap and conflict like
// real gossip does (same ids, same and different versions).
//
// A state settles (SettleHandoffs) only when settle is set: nodes settle
// only once every live node has their ring, so two states never carry
// the same register with different changes below it, which a random
// settle on two branches would make.
func randomState(rng *rand.Rand, ancestor State, settle bool) State {
	s := ancestor
	for range rng.IntN(12) {
		id := fmt.Sprintf("n%d", rng.IntN(8))
		switch rng.IntN(5) {
		case 0, 1:
			s = s.Join(Member{ID: id, Zone: fmt.Sprintf("z%d", rng.IntN(3))})
		case 2:
			s = s.Remove(id)
		case 3:
			s = s.CompleteHandoff(id, uint32(rng.IntN(4)), 1+uint64(rng.IntN(int(s.Clock())+1)))
		default:
			if settle {
				s = s.SettleHandoffs()
				switch rng.IntN(4) {
				case 0, 1:
					s = s.Compact(8, 3)
				case 2:
					if r, err := s.Resize(8, 3, min(2*s.Partitions(8), 32)); err == nil {
						s = r
					}
				}
			}
		}
	}
	return s
}

func TestMerge_Laws(t *testing.T) {
	rng := testutil.Rand(t)
	for range 300 {
		root := randomState(rng, State{}, true)
		a, b, c := randomState(rng, root, true), randomState(rng, root, false), randomState(rng, root, false)
		for _, tt := range []struct {
			law         string
			left, right State
		}{
			{"commutative", Merge(a, b), Merge(b, a)},
			{"associative", Merge(Merge(a, b), c), Merge(a, Merge(b, c))},
			{"idempotent", Merge(a, a), a},
			{"absorbs what it merged", Merge(Merge(a, b), b), Merge(a, b)},
			{"identity", Merge(a, State{}), a},
		} {
			if !reflect.DeepEqual(tt.left, tt.right) {
				t.Fatalf("Merge is not %s:\n a=%v\n b=%v\n c=%v\n%v\n%v", tt.law, a, b, c, tt.left, tt.right)
			}
		}
		m := Merge(a, b)
		if err := m.Validate(); err != nil {
			t.Fatalf("Merge(%v, %v) is invalid: %v", a, b, err)
		}
		// Nothing of the side with the higher register is dropped, and
		// of the other only changes at or below it (late changes).
		high, low := a, b
		if b.HandoffsSettled > a.HandoffsSettled {
			high, low = b, a
		}
		if !m.KnowsChangesOf(high) {
			t.Fatalf("Merge dropped changes of the side with the higher register:\n%v\n%v", high, m)
		}
		if m.KnowsChangesOf(low) {
			if m.Clock() != max(a.Clock(), b.Clock()) {
				t.Fatalf("Merge's clock %d, inputs %d and %d", m.Clock(), a.Clock(), b.Clock())
			}
		} else if low.HandoffsSettled >= high.HandoffsSettled {
			t.Fatalf("Merge dropped changes between states of the same register %d", high.HandoffsSettled)
		}
		if m.Digest() != Merge(b, a).Digest() {
			t.Fatal("equal states have different digests")
		}
	}
}

func TestMerge_ConflictRules(t *testing.T) {
	for _, tt := range []struct {
		name    string
		a, b    MemberState
		want    MemberState
		removed bool
	}{
		{"a later join keeps the earlier span", MemberState{ID: "x", Zone: "z1", JoinVersion: 3}, MemberState{ID: "x", Zone: "z2", JoinVersion: 5},
			MemberState{ID: "x", Zone: "z2", JoinVersion: 5, Past: []Span{{"z1", 3, 0}}}, false},
		{"later removal wins", MemberState{ID: "x", Zone: "z1", JoinVersion: 3}, MemberState{ID: "x", Zone: "z1", JoinVersion: 3, RemoveVersion: 4},
			MemberState{ID: "x", Zone: "z1", JoinVersion: 3, RemoveVersion: 4}, true},
		{"rejoin after removal", MemberState{ID: "x", Zone: "z1", JoinVersion: 3, RemoveVersion: 4}, MemberState{ID: "x", Zone: "z1", JoinVersion: 6},
			MemberState{ID: "x", Zone: "z1", JoinVersion: 6, Past: []Span{{"z1", 3, 4}}}, false},
		// A removal and a join at the same version: the removal replays
		// after the join, so the member is removed.
		{"tie: removal beats join", MemberState{ID: "x", Zone: "z1", JoinVersion: 4}, MemberState{ID: "x", Zone: "z1", JoinVersion: 3, RemoveVersion: 4},
			MemberState{ID: "x", Zone: "z1", JoinVersion: 4, Past: []Span{{"z1", 3, 4}}}, true},
		{"tie: larger zone", MemberState{ID: "x", Zone: "z1", JoinVersion: 4}, MemberState{ID: "x", Zone: "z2", JoinVersion: 4},
			MemberState{ID: "x", Zone: "z2", JoinVersion: 4}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := State{Members: []MemberState{tt.a}}, State{Members: []MemberState{tt.b}}
			for _, got := range []State{Merge(a, b), Merge(b, a)} {
				if !reflect.DeepEqual(got.Members, []MemberState{tt.want}) {
					t.Fatalf("got %+v, want %+v", got.Members, tt.want)
				}
				if got.Owner("x") == tt.removed {
					t.Fatalf("Owner = %v, want %v", got.Owner("x"), !tt.removed)
				}
				last := got.History()[len(got.History())-1]
				if (last.Kind == Remove) != tt.removed {
					t.Fatalf("history ends with %v, but removed=%v", last, tt.removed)
				}
			}
		})
	}
}

func TestMerge_CanonicalisesOddInput(t *testing.T) {
	odd := State{Members: []MemberState{{ID: "b", Zone: "", JoinVersion: 2, RemoveVersion: 0}, {ID: "a", Zone: "", JoinVersion: 1, RemoveVersion: 0}, {ID: "b", Zone: "z", JoinVersion: 5, RemoveVersion: 0}}}
	want := []MemberState{{ID: "a", Zone: "", JoinVersion: 1, RemoveVersion: 0}, {ID: "b", Zone: "z", JoinVersion: 5, Past: []Span{{"", 2, 0}}}}
	if got := Merge(odd, State{}); !reflect.DeepEqual(got.Members, want) {
		t.Fatalf("got %v, want %v", got.Members, want)
	}
	if got := Merge(State{}, State{Members: []MemberState{}}); got.Members != nil {
		t.Fatalf("merging empty states gave %#v, want nil members", got.Members)
	}
}

// TestState_ConcurrentJoinsConverge has nodes join concurrently from the
// same state (so with equal versions), then gossip pairwise in random order
// until all agree: the states, digests and tables must be equal, and the
// table valid.
func TestState_ConcurrentJoinsConverge(t *testing.T) {
	rng := testutil.Rand(t)
	seed := State{}.Join(Member{ID: "seed-0", Zone: "a"}).Join(Member{ID: "seed-1", Zone: "b"})
	nodes := make([]State, 6)
	for i := range nodes {
		nodes[i] = seed.Join(Member{ID: fmt.Sprintf("node-%d", i), Zone: []string{"a", "b", "c"}[i%3]})
		if i == 5 {
			nodes[i] = nodes[i].Remove("seed-0") // and one concurrent removal
		}
	}
	for round := 0; ; round++ {
		i, j := rng.IntN(len(nodes)), rng.IntN(len(nodes))
		nodes[i] = Merge(nodes[i], nodes[j])
		nodes[j] = nodes[i]
		if round > 200 {
			for k := range nodes { // finish with a full exchange
				nodes[0] = Merge(nodes[0], nodes[k])
			}
			for k := range nodes {
				nodes[k] = Merge(nodes[k], nodes[0])
			}
			break
		}
	}
	want := nodes[0].Table(256, 3)
	requireTable(t, want)
	if len(want.Members) != 7 {
		t.Fatalf("converged owners %v, want 7", want.Members)
	}
	for i, s := range nodes {
		if !reflect.DeepEqual(s, nodes[0]) || s.Digest() != nodes[0].Digest() {
			t.Fatalf("node %d's state %v differs from %v", i, s, nodes[0])
		}
		if !reflect.DeepEqual(s.Table(256, 3), want) {
			t.Fatalf("node %d computes another table", i)
		}
	}
}

// TestState_HistoryRoundTrip rebuilds each state from its history, the
// reference reading of what History means.
func TestState_HistoryRoundTrip(t *testing.T) {
	rng := testutil.Rand(t)
	for range 200 {
		s := randomState(rng, randomState(rng, State{}, true), true)
		h := s.History()
		if !slices.IsSortedFunc(h, compareEvents) {
			t.Fatalf("History is not in replay order: %v", h)
		}
		// Every span replays: a join each, and a removal for each that
		// ended; with a base, those after it.
		var joins, removals int
		after := s.baseVersion()
		for _, m := range s.Members {
			for _, sp := range m.spans() {
				if sp.Join > after {
					joins++
				}
				if sp.Remove > after {
					removals++
				}
			}
		}
		rebalances := 0
		if s.Base != nil && s.Base.Rebalance != 0 {
			rebalances = 1
		}
		var gotJoins, gotRemovals, gotRebalances int
		for _, e := range h {
			switch e.Kind {
			case Join:
				gotJoins++
			case Remove:
				gotRemovals++
			case Rebalance:
				gotRebalances++
			}
		}
		if gotJoins != joins || gotRemovals != removals || gotRebalances != rebalances {
			t.Fatalf("state %+v has %d spans (%d ended) but history %v", s, joins, removals, h)
		}
		if owners := s.Table(8, 3).Members; !slices.Equal(owners, s.Owners()) {
			t.Fatalf("Claim of the history owns %v, the state %v", owners, s.Owners())
		}
	}
}

func TestState_Validate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		members []MemberState
		ok      bool
	}{
		{"empty", nil, true},
		{"good", []MemberState{{ID: "a", Zone: "", JoinVersion: 1, RemoveVersion: 0}, {ID: "b", Zone: "z", JoinVersion: 2, RemoveVersion: 5}}, true},
		{"empty id", []MemberState{{ID: "", Zone: "", JoinVersion: 1, RemoveVersion: 0}}, false},
		{"unsorted", []MemberState{{ID: "b", Zone: "", JoinVersion: 1, RemoveVersion: 0}, {ID: "a", Zone: "", JoinVersion: 2, RemoveVersion: 0}}, false},
		{"duplicate", []MemberState{{ID: "a", Zone: "", JoinVersion: 1, RemoveVersion: 0}, {ID: "a", Zone: "", JoinVersion: 2, RemoveVersion: 0}}, false},
		{"join version 0", []MemberState{{ID: "a", Zone: "", JoinVersion: 0, RemoveVersion: 0}}, false},
		{"removed before joining", []MemberState{{ID: "a", Zone: "", JoinVersion: 3, RemoveVersion: 2}}, false},
		{"removed at its join", []MemberState{{ID: "a", Zone: "", JoinVersion: 3, RemoveVersion: 3}}, false},
		{"past span after the latest join", []MemberState{{ID: "a", JoinVersion: 3, Past: []Span{{"", 4, 5}}}}, false},
		{"past spans out of order", []MemberState{{ID: "a", JoinVersion: 9, Past: []Span{{"", 4, 5}, {"", 2, 3}}}}, false},
		{"past span removed before its join", []MemberState{{ID: "a", JoinVersion: 9, Past: []Span{{"", 4, 4}}}}, false},
		{"good past", []MemberState{{ID: "a", JoinVersion: 9, Past: []Span{{"", 2, 3}, {"z", 4, 0}}}}, true},
		{"records forgotten at its removal", []MemberState{{ID: "a", JoinVersion: 2, RemoveVersion: 5, HandoffsForgotten: 5}}, true},
		{"records forgotten at a past removal, joined again", []MemberState{{ID: "a", JoinVersion: 9, Past: []Span{{"", 2, 3}}, HandoffsForgotten: 3}}, true},
		{"records forgotten past its removal", []MemberState{{ID: "a", JoinVersion: 2, RemoveVersion: 5, HandoffsForgotten: 6}}, false},
		{"records forgotten, never removed", []MemberState{{ID: "a", JoinVersion: 2, HandoffsForgotten: 1}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := State{Members: tt.members}.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidState) {
				t.Fatalf("%v does not wrap ErrInvalidState", err)
			}
		})
	}
}

func TestState_Digest(t *testing.T) {
	base := State{}.Join(Member{ID: "a", Zone: "z"}).Join(Member{ID: "b"})
	distinct := []State{
		{},
		base,
		base.Remove("b"),
		base.Join(Member{ID: "a", Zone: "y"}),
		base.Join(Member{ID: "c"}),
		{Members: []MemberState{{ID: "ab", Zone: "", JoinVersion: 1, RemoveVersion: 0}}},
		{Members: []MemberState{{ID: "a", Zone: "b", JoinVersion: 1, RemoveVersion: 0}}}, // same bytes, other split
		base.Remove("b").Join(Member{ID: "b"}),                                           // a past span
		base.CompleteHandoff("a", 3, 1),
		base.CompleteHandoff("a", 3, 1).SettleHandoffs(),
	}
	// A base, and the same base with a rebalance after it.
	compacted := settle(8, 3, base.Join(Member{ID: "c"}).Join(Member{ID: "d"})).SettleHandoffs().Compact(8, 3)
	rebalanced := compacted
	rebalanced.Base = new(*compacted.Base)
	rebalanced.Base.Rebalance = compacted.Clock() + 1
	distinct = append(distinct, compacted, rebalanced)
	seen := map[uint64]int{}
	for i, s := range distinct {
		if j, dup := seen[s.Digest()]; dup {
			t.Errorf("states %d and %d share digest %x: %v, %v", i, j, s.Digest(), s, distinct[j])
		}
		seen[s.Digest()] = i
	}
	// The digest is part of the gossip protocol: pin it (the value was
	// checked against an independent FNV-1a of the documented encoding).
	if got, want := base.Digest(), uint64(0x3397c05512785384); got != want {
		t.Errorf("Digest changed: %#x, was %#x; peers of other releases would see every state as different", got, want)
	}
}

func TestState_OwnershipDigest(t *testing.T) {
	base := State{}.Join(Member{ID: "a", Zone: "z"}).Join(Member{ID: "b"})
	// Handoff records do not change it: nodes that heard of different
	// handoffs still send writes to the same owners.
	for _, s := range []State{base.CompleteHandoff("a", 3, 1), base.CompleteHandoff("a", 3, 1).CompleteHandoff("b", 1, 2)} {
		if s.OwnershipDigest() != base.OwnershipDigest() {
			t.Errorf("handoff records changed the ownership digest: %v", s)
		}
	}
	// Every ownership change does, a loss included.
	for i, s := range []State{{}, base.Remove("b"), base.Join(Member{ID: "c"}), base.Join(Member{ID: "a", Zone: "y"}), base.MarkRebuild("a")} {
		if s.OwnershipDigest() == base.OwnershipDigest() {
			t.Errorf("change %d kept the ownership digest: %v", i, s)
		}
	}
	if base.OwnershipDigest() != base.Digest() {
		t.Error("a state without handoff records must have its Digest as ownership digest")
	}
}
