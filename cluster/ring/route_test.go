package ring

import (
	"slices"
	"testing"
)

func TestTable_Route(t *testing.T) {
	four := Claim(16, 3, joins(4, 0))
	three := Claim(16, 3, joins(3, 0))
	const p = 5
	owners := four.Preference(p)
	var spare string
	for _, m := range four.Members {
		if !slices.Contains(owners, m.ID) {
			spare = m.ID
		}
	}
	down := func(ids ...string) func(string) bool {
		return func(id string) bool { return !slices.Contains(ids, id) }
	}
	tests := []struct {
		name          string
		table         Table
		alive         func(string) bool
		sloppy        bool
		wantOwners    int
		wantStandIns  []StandIn
		wantUncovered int
	}{
		{"all alive", four, down(), true, 3, nil, 0},
		{"one owner down, a spare stands in", four, down(owners[1]), true, 2, []StandIn{{spare, owners[1]}}, 0},
		{"one owner down, not sloppy", four, down(owners[1]), false, 2, nil, 0},
		{"owner and spare down: uncovered", four, down(owners[0], spare), true, 2, nil, 1},
		{"three nodes: no spare", three, down(three.Preference(p)[2]), true, 2, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.table.Route(p, tt.alive, tt.sloppy)
			if len(r.Owners) != tt.wantOwners || !slices.Equal(r.StandIns, tt.wantStandIns) || len(r.Uncovered) != tt.wantUncovered {
				t.Fatalf("Route = %+v, want %d owners, stand-ins %v, %d uncovered", r, tt.wantOwners, tt.wantStandIns, tt.wantUncovered)
			}
			for _, s := range r.StandIns {
				if slices.Contains(tt.table.Preference(p), s.Node) {
					t.Fatalf("stand-in %s already holds a replica of partition %d", s.Node, p)
				}
			}
		})
	}
}
