package ring

import (
	"reflect"
	"testing"
)

func TestState_Admit(t *testing.T) {
	a, b, c, x := Member{ID: "a"}, Member{ID: "b"}, Member{ID: "c"}, Member{ID: "x"}
	ours := State{}.Join(a).Join(b).Join(c).CompleteHandoff("b", 3, 2)
	// A member's gossip: c decommissioned (an operator's command relayed),
	// and a handoff record of b's.
	relayed := ours.Remove("c").CompleteHandoff("b", 4, 3)
	// An outsider x: removes b, invents y, and announces itself.
	forged := ours.Remove("b").Join(Member{ID: "y"}).Join(x).CompleteHandoff("x", 1, 5).CompleteHandoff("a", 7, 5)
	xi, _ := forged.find("x")
	for _, tt := range []struct {
		name   string
		peer   string
		theirs State
		want   State
	}{
		{"a member's gossip is admitted whole", "a", relayed, relayed},
		{"a removed member still relays", "c", relayed, relayed},
		{"no authenticated peer admits nothing", "", relayed, State{}},
		{"an outsider announces only itself", "x", forged,
			State{Members: []MemberState{forged.Members[xi]}, Handoffs: []Handoff{{Member: "x", Partition: 1, Since: 5}}}},
		{"an outsider that says nothing of itself changes nothing", "z", forged, State{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ours.Admit(tt.peer, tt.theirs)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Admit(%q) =\n%+v\nwant\n%+v", tt.peer, got, tt.want)
			}
			merged := Merge(ours, got)
			if err := merged.Validate(); err != nil {
				t.Fatal(err)
			}
			if tt.peer != "a" && tt.peer != "c" && (!merged.Owner("b") || merged.Owner("y")) {
				t.Fatalf("a non-member changed others' membership: %+v", merged.Members)
			}
		})
	}

	// Once x's own entry is merged, x is a member and relays like one.
	joined := Merge(ours, ours.Admit("x", forged))
	if got := joined.Admit("x", relayed); !reflect.DeepEqual(got, relayed) {
		t.Errorf("a joined node's gossip is not admitted whole: %+v", got)
	}
}
