package ring

import (
	"errors"
	"testing"
)

// owners returns a state where ids joined in order, each in no zone.
func owners(ids ...string) State {
	var s State
	for _, id := range ids {
		s = s.Join(Member{ID: id})
	}
	return s
}

func aliveSet(ids ...string) func(string) bool {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return func(id string) bool { return set[id] }
}

func TestState_Decommission(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state State
		node  string
		rule  error
	}{
		{"an owner among others", owners("a", "b", "c"), "b", nil},
		{"the last owner", owners("a"), "a", ErrLastOwner},
		{"the last owner left after a removal", owners("a", "b").Remove("a"), "b", ErrLastOwner},
		{"already removed", owners("a", "b", "c").Remove("c"), "c", ErrAlreadyRemoved},
		{"never joined", owners("a", "b"), "x", ErrNotMember},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, err := tc.state.Decommission(tc.node)
			checkCommand(t, tc.state, next, err, tc.rule, tc.node)
		})
	}
}

func TestState_ForceRemove(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state State
		node  string
		alive func(string) bool
		rule  error
	}{
		{"a down owner", owners("a", "b", "c"), "c", aliveSet("a", "b"), nil},
		{"a live owner", owners("a", "b", "c"), "c", aliveSet("a", "b", "c"), ErrAlive},
		{"itself", owners("a", "b", "c"), "a", aliveSet(), ErrRemoveSelf},
		{"the last owner, down", owners("a", "b").Remove("a"), "b", aliveSet(), ErrLastOwner},
		{"already removed", owners("a", "b", "c").Remove("c"), "c", aliveSet(), ErrAlreadyRemoved},
		{"never joined", owners("a", "b"), "x", aliveSet(), ErrNotMember},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, err := tc.state.ForceRemove(tc.node, "a", tc.alive)
			checkCommand(t, tc.state, next, err, tc.rule, tc.node)
		})
	}
}

func TestState_JoinSelf(t *testing.T) {
	self := Member{ID: "a", Zone: "z1"}
	for _, tc := range []struct {
		name  string
		state State
		node  string
		rule  error
		want  State
	}{
		{"first join", State{}, "a", nil, State{}.Join(self)},
		{"rejoin after removal", owners("a", "b").Remove("a"), "a", nil, owners("a", "b").Remove("a").Join(self)},
		{"another node", owners("a", "b"), "b", ErrJoinOther, owners("a", "b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, err := tc.state.JoinSelf(self, tc.node)
			if !errors.Is(err, tc.rule) || (tc.rule == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.rule)
			}
			if next.Digest() != tc.want.Digest() {
				t.Errorf("state = %+v, want %+v", next, tc.want)
			}
		})
	}
}

// checkCommand checks a removal's outcome: refused with rule and the state
// unchanged, or (rule nil) node removed and nothing else changed.
func checkCommand(t *testing.T, before, next State, err, rule error, node string) {
	t.Helper()
	if rule != nil {
		var ce *CommandError
		if !errors.Is(err, rule) || !errors.As(err, &ce) || ce.Node != node {
			t.Fatalf("err = %v, want a *CommandError for %s wrapping %v", err, node, rule)
		}
		if next.Digest() != before.Digest() {
			t.Errorf("a refused command changed the state: %+v", next)
		}
		return
	}
	if err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
	if next.Owner(node) || next.Digest() != before.Remove(node).Digest() {
		t.Errorf("state = %+v, want %s removed", next, node)
	}
}

func TestCommandError_Reason(t *testing.T) {
	for _, tc := range []struct {
		rule error
		want string
	}{
		{ErrNotMember, "n9 is not a member of the ring"},
		{ErrAlreadyRemoved, "n9 was already removed"},
		{ErrLastOwner, "n9 is the last owner; removing it would leave the data with nobody"},
		{ErrRemoveSelf, "a node cannot force-remove itself; decommission it, or force-remove it from another node once it is down"},
		{ErrAlive, "n9 is alive; decommission it instead, so it hands its data over"},
		{ErrJoinOther, "a node can only join itself; ask n9"},
	} {
		t.Run(tc.rule.Error(), func(t *testing.T) {
			e := &CommandError{Err: tc.rule, Node: "n9"}
			if e.Reason() != tc.want || e.Error() != "ring: "+tc.want {
				t.Errorf("Reason() = %q, Error() = %q; want %q", e.Reason(), e.Error(), tc.want)
			}
		})
	}
}

func TestShape_Compatible(t *testing.T) {
	us := Shape{Cluster: "c", Partitions: 256, N: 3}
	for _, tc := range []struct {
		name       string
		peer       Shape
		compatible bool
		sameRing   bool
	}{
		{"same shape", us, true, true},
		{"another cluster", Shape{Cluster: "d", Partitions: 256, N: 3}, false, true},
		{"another Q", Shape{Cluster: "c", Partitions: 128, N: 3}, false, false},
		{"another N", Shape{Cluster: "c", Partitions: 256, N: 5}, false, false},
		{"unknown shape (a peer without tags)", Shape{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := us.Compatible(tc.peer); got != tc.compatible {
				t.Errorf("Compatible = %v, want %v", got, tc.compatible)
			}
			if got := us.SameRing(tc.peer); got != tc.sameRing {
				t.Errorf("SameRing = %v, want %v", got, tc.sameRing)
			}
		})
	}
}

func TestPlan_HintRedirect(t *testing.T) {
	// Four members, then d force-removed: its replicas moved to the others.
	s := owners("a", "b", "c", "d").Remove("d")
	plan := NewPlan(8, 3, s)
	for _, tc := range []struct {
		name     string
		target   string
		alive    func(string) bool
		to       string
		redirect bool
	}{
		{"a member keeps its hints", "a", aliveSet("b", "c"), "", false},
		{"a down member keeps its hints", "b", aliveSet(), "", false},
		{"a removed target: the first live serving replica", "d", aliveSet("a", "b", "c"), "", true},
		{"a removed target with nobody alive: wait", "d", aliveSet(), "", true},
		{"a node the ring never knew keeps its hints", "x", aliveSet("a"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for p := range uint32(8) {
				to, redirect := plan.HintRedirect(tc.target, p, tc.alive)
				want := tc.to
				if tc.redirect && tc.alive("a") {
					// The first live member serving p.
					serving, _ := plan.Serving(p, tc.alive)
					want = serving[0]
				}
				if to != want || redirect != tc.redirect {
					t.Errorf("partition %d: HintRedirect = %q, %v; want %q, %v", p, to, redirect, want, tc.redirect)
				}
			}
		})
	}
	t.Run("skips a serving replica that is down", func(t *testing.T) {
		serving, _ := plan.Serving(0, aliveSet("a", "b", "c"))
		down := serving[0]
		alive := func(id string) bool { return id != down && id != "d" }
		to, redirect := plan.HintRedirect("d", 0, alive)
		if !redirect || to != serving[1] {
			t.Errorf("HintRedirect = %q, %v; want %q, true (the first serving replica is down)", to, redirect, serving[1])
		}
	})
}
