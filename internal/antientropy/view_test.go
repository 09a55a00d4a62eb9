package antientropy

import (
	"slices"
	"testing"
)

func TestView_Pairs(t *testing.T) {
	tests := []struct {
		name string
		view View
		want []pair
	}{
		{"no partitions", View{}, nil},
		{"self takes no part", View{Partitions: []Partition{{Replicas: []string{"b", "c"}}},
			Members: map[string]Liveness{"b": Alive, "c": Alive}}, nil},
		{"every live peer", View{Partitions: []Partition{{Replicas: []string{"a", "b", "c"}}},
			Members: map[string]Liveness{"b": Alive, "c": Alive}}, []pair{{0, "b"}, {0, "c"}}},
		{"down, left and unknown peers skipped", View{Partitions: []Partition{{Replicas: []string{"b", "a", "c", "d", "e"}}},
			Members: map[string]Liveness{"b": Down, "c": Left, "e": Alive}}, []pair{{0, "e"}}},
		{"across partitions in order", View{Partitions: []Partition{{Replicas: []string{"a", "b"}}, {Replicas: []string{"b", "c"}}, {Replicas: []string{"c", "a"}}},
			Members: map[string]Liveness{"b": Alive, "c": Alive}}, []pair{{0, "b"}, {2, "c"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.view.pairs("a"); !slices.Equal(got, tc.want) {
				t.Fatalf("pairs = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestView_HintHolders(t *testing.T) {
	tests := []struct {
		name string
		view View
		want []string
	}{
		{"owners alone", View{Owners: []string{"b", "a"}}, []string{"a", "b"}},
		{"members not yet owners count", View{Owners: []string{"a"}, Members: map[string]Liveness{"a": Alive, "n": Alive, "d": Down}},
			[]string{"a", "d", "n"}},
		{"members that left do not", View{Owners: []string{"a"}, Members: map[string]Liveness{"x": Left}}, []string{"a"}},
		{"an owner that left still does", View{Owners: []string{"a", "x"}, Members: map[string]Liveness{"x": Left}}, []string{"a", "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.view.hintHolders(); !slices.Equal(got, tc.want) {
				t.Fatalf("hintHolders = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestView_Alive(t *testing.T) {
	v := View{Members: map[string]Liveness{"b": Alive, "c": Down, "d": Left}}
	for node, want := range map[string]bool{"a": true, "b": true, "c": false, "d": false, "e": false} {
		if got := v.Alive("a", node); got != want {
			t.Errorf("Alive(%s) = %v, want %v", node, got, want)
		}
	}
}
