package ring

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

func TestClaim_Deterministic(t *testing.T) {
	t.Parallel()
	withRemovals := append(joins(9, 3),
		Event{Kind: Remove, Member: member(2, 3), Version: 20},
		Event{Kind: Join, Member: Member{ID: "late", Zone: "zone-1"}, Version: 21},
		Event{Kind: Remove, Member: member(5, 3), Version: 22},
	)
	concurrent := []Event{ // same versions: order by kind, then id
		{Kind: Join, Member: Member{ID: "c"}, Version: 1},
		{Kind: Join, Member: Member{ID: "a"}, Version: 1},
		{Kind: Join, Member: Member{ID: "d"}, Version: 2},
		{Kind: Join, Member: Member{ID: "b"}, Version: 2},
		{Kind: Remove, Member: Member{ID: "a"}, Version: 3},
		{Kind: Join, Member: Member{ID: "e"}, Version: 3},
	}
	for _, tt := range []struct {
		name    string
		q, n    int
		history []Event
	}{
		{"joins", 256, 3, joins(12, 0)},
		{"zones", 256, 3, joins(12, 3)},
		{"removals", 256, 3, withRemovals},
		{"concurrent", 64, 2, concurrent},
		{"uneven zones", 128, 3, zonedJoins("aaabcaad")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := testutil.Rand(t)
			want := Claim(tt.q, tt.n, tt.history)
			requireTable(t, want)
			for range 5 {
				shuffled := slices.Clone(tt.history)
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if got := Claim(tt.q, tt.n, shuffled); !reflect.DeepEqual(got, want) {
					t.Fatalf("the same events in another order give another table:\n%v\nvs\n%v", got.Replicas, want.Replicas)
				}
			}
		})
	}
}

// TestClaim_Balanced checks every member's load at Q=256, N=3 against its
// fair share: N·Q/S without zones. With three round-robin zones, strict
// zone diversity makes each zone hold exactly Q replicas, so members are
// compared with the others of their zone.
func TestClaim_Balanced(t *testing.T) {
	t.Parallel()
	const q, n = 256, 3
	for _, zones := range []int{0, 3} {
		for s := 3; s <= 16; s++ {
			t.Run(fmt.Sprintf("zones=%d/nodes=%d", zones, s), func(t *testing.T) {
				tab := Claim(q, n, joins(s, zones))
				requireTable(t, tab)
				counts := tab.Counts()
				groups := map[string][]string{}
				for _, m := range tab.Members {
					groups[m.Zone] = append(groups[m.Zone], m.ID)
				}
				for zone, ids := range groups {
					total := 0
					for _, id := range ids {
						total += counts[id]
					}
					if zones == 3 && total != q {
						t.Errorf("zone %q holds %d replicas, want one per partition (%d)", zone, total, q)
					}
					mean := float64(total) / float64(len(ids))
					for _, id := range ids {
						if dev := (float64(counts[id]) - mean) / mean; math.Abs(dev) > 0.10 {
							t.Errorf("%s (zone %q) holds %d replicas, mean %.1f (%+.1f%%, limit ±10%%)", id, zone, counts[id], mean, 100*dev)
						}
					}
				}
			})
		}
	}
}

// TestClaim_JoinMovesLittle adds the (S+1)th member to S for S up to 32:
// at most 1.25·N·Q/(S+1) replicas move, all of them to the newcomer.
func TestClaim_JoinMovesLittle(t *testing.T) {
	t.Parallel()
	const n = 3
	for _, q := range []int{256, 1024} {
		for _, zones := range []int{0, 3} {
			t.Run(fmt.Sprintf("q=%d/zones=%d", q, zones), func(t *testing.T) {
				tables := prefixTables(q, n, joins(33, zones))
				before := tables[1]
				for s := 1; s <= 32; s++ {
					after := tables[s+1]
					newcomer := member(s, zones).ID
					to := movedTo(before, after)
					moved := Moved(before, after)
					if moved != sum(to) {
						t.Fatalf("Moved = %d, reference %d", moved, sum(to))
					}
					if limit := 1.25 * float64(n*q) / float64(s+1); float64(moved) > limit {
						t.Errorf("adding node %d to %d moved %d replicas, limit %.0f", s+1, s, moved, limit)
					}
					if to[newcomer] != moved {
						t.Errorf("adding %s to %d nodes moved %d replicas, %d of them to others: %v", newcomer, s, moved, moved-to[newcomer], to)
					}
					before = after
				}
			})
		}
	}
}

// TestClaim_Diversity covers uneven zones, where diversity outranks balance:
// with as many zones as replicas, a lone member of a zone holds every
// partition.
func TestClaim_Diversity(t *testing.T) {
	for _, tt := range []struct {
		spec string // join order, one letter per member naming its zone
		n    int
		full []string // members that must hold every partition
	}{
		{"aaabc", 3, []string{"b1", "c1"}},
		{"cbaaa", 3, []string{"b1", "c1"}},
		{"abaca", 3, []string{"b1", "c1"}},
		{"aaaabbbbc", 3, []string{"c1"}},
		{"aaaaabbcd", 3, nil},
		{"abcdeabcde", 3, nil},
		{"aaaaaaaab", 2, []string{"b1"}},
		{"abababab", 2, nil},
		{"aabbccddee", 4, nil},
		{"aaaabbc", 1, nil},
		{"aaaaaaaa", 3, nil},
		{"ab", 3, nil},
	} {
		t.Run(fmt.Sprintf("%s/n=%d", tt.spec, tt.n), func(t *testing.T) {
			const q = 128
			tab := Claim(q, tt.n, zonedJoins(tt.spec))
			requireTable(t, tab)
			counts := tab.Counts()
			for _, id := range tt.full {
				if counts[id] != q {
					t.Errorf("%s holds %d replicas, want all %d: its zone needs one of every partition", id, counts[id], q)
				}
			}
			for id, share := range fairShares(tab) {
				// Uneven zones are not replayed into perfect balance;
				// bound the damage loosely.
				if dev := math.Abs(float64(counts[id]) - share); dev > math.Max(3, 0.15*share) {
					t.Errorf("%s holds %d replicas, fair share %.1f", id, counts[id], share)
				}
			}
		})
	}
}

func TestClaim_FewerMembersThanReplicas(t *testing.T) {
	for _, n := range []int{2, 3, 5} {
		for s := 1; s <= n; s++ {
			t.Run(fmt.Sprintf("n=%d/nodes=%d", n, s), func(t *testing.T) {
				h := joins(s, 0)
				tabs := []Table{Claim(64, n, h)}
				// Shrinking back below n as well as growing to it.
				h = append(joins(n+1, 0), Event{Kind: Remove, Member: member(0, 0), Version: 100})
				for i := 1; i < n+1-s; i++ {
					h = append(h, Event{Kind: Remove, Member: member(i, 0), Version: uint64(100 + i)})
				}
				tabs = append(tabs, Claim(64, n, h))
				for _, tab := range tabs {
					requireTable(t, tab)
					if len(tab.Members) != s {
						t.Fatalf("%d owners, want %d", len(tab.Members), s)
					}
					for id, c := range tab.Counts() {
						if c != 64 {
							t.Errorf("%s holds %d partitions, want all 64", id, c)
						}
					}
				}
			})
		}
	}
}

// TestClaim_RemoveMovesOnlyItsReplicas removes members one by one from
// clusters with and without zones: only the removed member's replicas
// move, and loads stay near their fair share.
func TestClaim_RemoveMovesOnlyItsReplicas(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		q, n    int
		history []Event
	}{
		{"no zones", 256, 3, joins(12, 0)},
		{"3 zones", 256, 3, joins(12, 3)},
		{"uneven zones", 256, 3, zonedJoins("aaaabbbccdde")},
		{"n=2", 128, 2, joins(7, 2)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := testutil.Rand(t)
			h := slices.Clone(tt.history)
			before := Claim(tt.q, tt.n, h)
			relaxed := false
			for len(before.Members) > 1 {
				gone := before.Members[rng.IntN(len(before.Members))]
				h = append(h, Event{Kind: Remove, Member: gone, Version: uint64(len(h) + 1)})
				after := Claim(tt.q, tt.n, h)
				requireTable(t, after)
				if problem := onlyReplaced(before, after, gone.ID); problem != "" {
					t.Fatalf("removing %s: %s", gone.ID, problem)
				}
				// A removal that takes the zone count below N relaxes
				// diversity, but may not move other replicas to use the
				// slack: the lone members of zones keep their full load
				// until joins take it. Balance is checked until then.
				relaxed = relaxed || (zoneCount(before) >= tt.n && zoneCount(after) < tt.n)
				if !relaxed {
					checkNearFair(t, after, fmt.Sprintf("after removing %s", gone.ID))
				}
				before = after
			}
		})
	}
}

// onlyReplaced describes how b differs from a by more than gone's replicas
// going elsewhere ("" if it does not).
func onlyReplaced(a, b Table, gone string) string {
	for p := range b.Replicas {
		had := slices.Contains(a.Replicas[p], gone)
		var added []string
		for _, id := range b.Replicas[p] {
			if !slices.Contains(a.Replicas[p], id) {
				added = append(added, id)
			}
		}
		for _, id := range a.Replicas[p] {
			if id != gone && !slices.Contains(b.Replicas[p], id) {
				return fmt.Sprintf("partition %d lost %s: %v -> %v", p, id, a.Replicas[p], b.Replicas[p])
			}
		}
		if len(added) > 1 || (len(added) == 1 && !had) {
			return fmt.Sprintf("partition %d gained %v: %v -> %v", p, added, a.Replicas[p], b.Replicas[p])
		}
	}
	return ""
}

// checkNearFair checks loads against fair shares: within 10% (or 2
// replicas) when zones do not constrain placement or all zones are the same
// size; loosely otherwise.
func checkNearFair(t *testing.T, tab Table, when string) {
	t.Helper()
	size := map[string]int{}
	for _, m := range tab.Members {
		size[m.Zone]++
	}
	even := len(size) < tab.N
	if !even {
		even = true
		for _, k := range size {
			even = even && k == size[tab.Members[0].Zone]
		}
	}
	counts := tab.Counts()
	for id, share := range fairShares(tab) {
		limit := math.Max(2, 0.10*share)
		if !even {
			limit = math.Max(4, 0.25*share)
		}
		if dev := math.Abs(float64(counts[id]) - share); dev > limit {
			t.Errorf("%s: %s holds %d replicas, fair share %.1f (limit ±%.1f)", when, id, counts[id], share, limit)
		}
	}
}

// TestClaim_RandomHistories drives a State through random joins, removals,
// rejoins and zone changes, and checks after each step the table's
// invariants, what the step may move, and (without zones) balance.
func TestClaim_RandomHistories(t *testing.T) {
	t.Parallel()
	rng := testutil.Rand(t)
	for trial := range 12 {
		q := []int{8, 32, 64, 128}[rng.IntN(4)]
		n := 1 + rng.IntN(4)
		zones := []string{"", "a", "b", "c", "d", "e"}[:1+trial%6]
		var s State
		before := s.Table(q, n)
		for step := range 60 {
			owners := s.Owners()
			var next State
			var what string
			switch r := rng.IntN(10); {
			case r < 6 || len(owners) == 0:
				m := Member{ID: fmt.Sprintf("n%d", rng.IntN(40)), Zone: zones[rng.IntN(len(zones))]}
				next, what = s.Join(m), fmt.Sprintf("join %v", m)
			case r < 9:
				id := owners[rng.IntN(len(owners))].ID
				next, what = s.Remove(id), "remove "+id
			default:
				o := owners[rng.IntN(len(owners))]
				o.Zone = zones[rng.IntN(len(zones))]
				next, what = s.Join(o), fmt.Sprintf("rezone %v", o)
			}
			after := next.Table(q, n)
			where := fmt.Sprintf("trial %d (q=%d n=%d zones=%q) step %d, %s", trial, q, n, zones, step, what)
			if bad := checkTable(after); bad != nil {
				t.Fatalf("%s: %s", where, strings.Join(bad, "\n"))
			}
			if !slices.Equal(after.Members, next.Owners()) {
				t.Fatalf("%s: table members %v, state owners %v", where, after.Members, next.Owners())
			}
			if len(zones) == 1 && q >= 64 {
				// Without zones, churn keeps every load within 10% (or
				// 2 replicas) of n·q/S.
				checkNearFair(t, after, where)
			}
			switch {
			case strings.HasPrefix(what, "remove"):
				if problem := onlyReplaced(before, after, strings.TrimPrefix(what, "remove ")); problem != "" {
					t.Fatalf("%s: %s", where, problem)
				}
			case strings.HasPrefix(what, "join") && len(next.Owners()) > len(s.Owners()):
				// A join at the newest version, first or after a removal
				// (the state keeps the member's earlier spans, so its
				// return replays on top of them): only the newcomer gains,
				// unless it brings the zone count up to n (then repeated
				// zones must be repaired).
				newcomer := next.Owners()[slices.IndexFunc(next.Owners(), func(m Member) bool { return !s.Owner(m.ID) })]
				if zoneCount(before) < n && zoneCount(after) >= n {
					break
				}
				if to := movedTo(before, after); to[newcomer.ID] != sum(to) {
					t.Fatalf("%s: replicas moved to others than the newcomer: %v", where, to)
				}
			}
			s, before = next, after
		}
	}
}

// prefixTables returns Claim(q, n, history[:i]) for every i, replaying the
// (ordered) history once rather than once per prefix.
func prefixTables(q, n int, history []Event) []Table {
	c := newClaimer(q, n)
	tables := []Table{c.table()}
	for _, e := range history {
		c.apply(e)
		tables = append(tables, c.table())
	}
	return tables
}

func TestPrefixTables_MatchClaim(t *testing.T) {
	h := append(joins(12, 3), Event{Kind: Remove, Member: member(4, 3), Version: 13}, Event{Kind: Join, Member: member(20, 3), Version: 14})
	for i, tab := range prefixTables(128, 3, h) {
		if !reflect.DeepEqual(tab, Claim(128, 3, h[:i])) {
			t.Fatalf("replaying %d events incrementally differs from Claim", i)
		}
	}
}

func zoneCount(tab Table) int {
	zones := map[string]bool{}
	for _, m := range tab.Members {
		zones[m.Zone] = true
	}
	return len(zones)
}

func TestClaim_ZoneChange(t *testing.T) {
	h := append(joins(6, 3), Event{Kind: Join, Member: Member{ID: "node-00", Zone: "zone-9"}, Version: 50})
	tab := Claim(64, 3, h)
	requireTable(t, tab)
	if i := slices.IndexFunc(tab.Members, func(m Member) bool { return m.ID == "node-00" }); tab.Members[i].Zone != "zone-9" {
		t.Fatalf("node-00 has zone %q after moving to zone-9", tab.Members[i].Zone)
	}
	// Rejoining an owner in its own zone changes nothing.
	same := append(joins(6, 3), Event{Kind: Join, Member: member(0, 3), Version: 50})
	if !reflect.DeepEqual(Claim(64, 3, same), Claim(64, 3, joins(6, 3))) {
		t.Fatal("a repeated join of an owner in its own zone changed the table")
	}
}

func TestClaim_IgnoresNoOps(t *testing.T) {
	base := Claim(64, 3, joins(5, 0))
	h := append(joins(5, 0),
		Event{Kind: Remove, Member: Member{ID: "stranger"}, Version: 10},
		Event{Kind: EventKind(99), Member: member(1, 0), Version: 11},
	)
	if got := Claim(64, 3, h); !reflect.DeepEqual(got, base) {
		t.Fatal("removing a stranger or an unknown event kind changed the table")
	}
	if empty := Claim(16, 3, nil); len(empty.Members) != 0 || len(empty.Replicas) != 16 || len(empty.Replicas[0]) != 0 {
		t.Fatalf("empty history: %+v", empty)
	}
}

func TestClaim_PanicsOnBadArguments(t *testing.T) {
	for _, qn := range [][2]int{{0, 3}, {256, 0}, {-1, 3}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Claim(%d, %d, …) did not panic", qn[0], qn[1])
				}
			}()
			Claim(qn[0], qn[1], nil)
		}()
	}
}

// TestClaim_PrimariesSpread checks that the first replica, which
// coordinates writes, is spread over the members too.
func TestClaim_PrimariesSpread(t *testing.T) {
	const q = 1024
	for _, zones := range []int{0, 3} {
		tab := Claim(q, 3, joins(8, zones))
		first := map[string]int{}
		for _, ids := range tab.Replicas {
			first[ids[0]]++
		}
		for _, m := range tab.Members {
			if c, mean := first[m.ID], q/8; c < mean*6/10 || c > mean*14/10 {
				t.Errorf("zones=%d: %s is first in %d partitions, mean %d", zones, m.ID, c, mean)
			}
		}
	}
}

func TestTable_PreferenceAndFallbacks(t *testing.T) {
	for _, tt := range []struct {
		name    string
		history []Event
	}{
		{"3 of 3", joins(3, 0)},
		{"2 of 3", joins(2, 0)},
		{"10 nodes", joins(10, 3)},
		{"more nodes than replicas", joins(40, 0)}, // q=8: some hold nothing
	} {
		t.Run(tt.name, func(t *testing.T) {
			const q = 8
			tab := Claim(q, 3, tt.history)
			for p := range uint32(q) {
				pref := tab.Preference(p)
				if !slices.Equal(pref, tab.Replicas[p]) {
					t.Fatalf("Preference(%d) = %v, Replicas %v", p, pref, tab.Replicas[p])
				}
				fb := tab.Fallbacks(p)
				if len(pref)+len(fb) != len(tab.Members) {
					t.Fatalf("partition %d: %d primaries and %d fallbacks for %d owners", p, len(pref), len(fb), len(tab.Members))
				}
				all := append(slices.Clone(pref), fb...)
				slices.Sort(all)
				for i, m := range tab.Members {
					if all[i] != m.ID {
						t.Fatalf("partition %d: primaries %v and fallbacks %v are not the owners, once each", p, pref, fb)
					}
				}
				if !slices.Equal(fb, tab.Fallbacks(p)) {
					t.Fatal("Fallbacks is not deterministic")
				}
				// The next partition's replicas not already listed come first.
				var want []string
				for _, id := range tab.Replicas[(int(p)+1)%q] {
					if !slices.Contains(pref, id) {
						want = append(want, id)
					}
				}
				if !slices.Equal(fb[:len(want)], want) {
					t.Fatalf("partition %d: fallbacks %v do not start with the next partition's %v", p, fb, want)
				}
			}
			// Appending to a preference list must not clobber the next one.
			next := slices.Clone(tab.Replicas[1])
			_ = append(tab.Preference(0), "intruder")
			if !slices.Equal(tab.Replicas[1], next) {
				t.Fatal("appending to Preference(0) changed partition 1")
			}
		})
	}
}

func TestTable_CountsAndHolds(t *testing.T) {
	tab := Claim(8, 3, joins(40, 0))
	counts := tab.Counts()
	if len(counts) != 40 || sum(counts) != 24 {
		t.Fatalf("Counts has %d members, %d replicas; want 40 and 24", len(counts), sum(counts))
	}
	for _, m := range tab.Members {
		held := tab.Holds(m.ID)
		if len(held) != counts[m.ID] {
			t.Fatalf("%s holds %v, Counts says %d", m.ID, held, counts[m.ID])
		}
		for _, p := range held {
			if !slices.Contains(tab.Replicas[p], m.ID) {
				t.Fatalf("Holds(%s) lists partition %d, which it does not hold", m.ID, p)
			}
		}
	}
}

func TestMoved(t *testing.T) {
	a := Table{Replicas: [][]string{{"x", "y"}, {"y", "z"}}}
	for _, tt := range []struct {
		b    [][]string
		want int
	}{
		{[][]string{{"x", "y"}, {"y", "z"}}, 0},
		{[][]string{{"y", "x"}, {"z", "y"}}, 0}, // order is not placement
		{[][]string{{"x", "w"}, {"y", "z"}}, 1},
		{[][]string{{"w", "v"}, {"y", "z"}, {"x", "y"}}, 4},
	} {
		if got := Moved(a, Table{Replicas: tt.b}); got != tt.want {
			t.Errorf("Moved(%v, %v) = %d, want %d", a.Replicas, tt.b, got, tt.want)
		}
	}
}

// TestClaim_Golden pins the algorithm: every node must compute the same
// table from the same history, whichever release it runs, so any change to
// the output is a protocol change. Rewrite with -ring.update only for a
// deliberate, coordinated change.
func TestClaim_Golden(t *testing.T) {
	cases := []struct {
		name    string
		q, n    int
		history []Event
	}{
		{"joins-5", 64, 3, joins(5, 0)},
		{"zones-9", 256, 3, joins(9, 3)},
		{"uneven", 64, 3, zonedJoins("aaabc")},
		{"churn", 128, 3, append(joins(8, 2), Event{Kind: Remove, Member: member(3, 2), Version: 9}, Event{Kind: Join, Member: Member{ID: "x", Zone: "zone-1"}, Version: 10})},
	}
	var got bytes.Buffer
	for _, c := range cases {
		tab := Claim(c.q, c.n, c.history)
		fmt.Fprintf(&got, "%s q=%d n=%d\n", c.name, c.q, c.n)
		for p, ids := range tab.Replicas {
			fmt.Fprintf(&got, "  %d %s\n", p, strings.Join(ids, " "))
		}
	}
	path := filepath.Join("testdata", "claim.golden")
	if *updateFlag {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -ring.update)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		g, w := bufio.NewScanner(&got), bufio.NewScanner(bytes.NewReader(want))
		for line := 1; ; line++ {
			gok, wok := g.Scan(), w.Scan()
			if !gok && !wok {
				break
			}
			if g.Text() != w.Text() {
				t.Fatalf("claim output changed at %s:%d:\n got  %q\n want %q\nA changed claim is a protocol change: nodes of different releases would disagree on ownership.", path, line, g.Text(), w.Text())
			}
		}
	}
}
