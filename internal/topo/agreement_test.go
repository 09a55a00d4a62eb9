package topo

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

func TestRingMark_RoundTrip(t *testing.T) {
	s := ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b", Zone: "z"})
	for _, m := range []RingMark{{}, MarkOf(ring.State{}), MarkOf(s), {Version: ^uint64(0), Digest: ^uint64(0)}} {
		text := m.String()
		// Serf allows 512 bytes for all of a node's tags together.
		if len(text) > 37 {
			t.Errorf("%+v: %q is %d bytes, documented as at most 37", m, text, len(text))
		}
		got, err := ParseRingMark(text)
		if err != nil || got != m {
			t.Errorf("ParseRingMark(%q) = %+v, %v; want %+v", text, got, err, m)
		}
	}
	for _, bad := range []string{"", "12", "x.1f", "12.xyz", "12.", ".1f", "-1.1f", "1.1.1"} {
		if m, err := ParseRingMark(bad); err == nil {
			t.Errorf("ParseRingMark(%q) = %+v, want an error", bad, m)
		}
	}
}

func TestMarkOf_IgnoresHandoffRecords(t *testing.T) {
	s := ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"})
	if MarkOf(s) != MarkOf(s.CompleteHandoff("b", 2, 2)) {
		t.Error("a handoff record changed the ring mark: nodes would disagree all through a join's transfers")
	}
	if MarkOf(s) == MarkOf(s.Join(ring.Member{ID: "c"})) {
		t.Error("a join kept the ring mark")
	}
	// Equal versions, other owners: the digest tells them apart.
	x := ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"})
	y := ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "c"})
	if x.Version() != y.Version() || MarkOf(x) == MarkOf(y) {
		t.Errorf("marks of states with other owners: %v and %v", MarkOf(x), MarkOf(y))
	}
}

func TestAgreement_Check(t *testing.T) {
	s := ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"})
	mine := MarkOf(s)
	older := MarkOf(ring.State{}.Join(ring.Member{ID: "a"}))
	peer := func(id string, alive bool, mark string) Peer {
		return Peer{ID: id, Alive: alive, Shape: testShape, Ring: mark}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const wait = 10 * time.Second
	type check struct {
		at    time.Duration
		peers []Peer
		// err is a substring of the error; "" wants nil.
		err string
		// log is the level of the one line logged, or "" for none.
		log string
	}
	tests := []struct {
		name   string
		checks []check
	}{
		{"no peer: agreed at once", []check{
			{0, nil, "", "INFO"},
		}},
		{"every live peer announces this ring", []check{
			{0, []Peer{peer("a", true, mine.String()), peer("b", true, mine.String()), peer("c", true, mine.String())}, "", "INFO"},
		}},
		{"a peer with an older ring keeps it waiting, then agreement", []check{
			{0, []Peer{peer("b", true, mine.String()), peer("c", true, older.String())}, "c has ring " + older.String(), ""},
			{time.Second, []Peer{peer("b", true, mine.String()), peer("c", true, older.String())}, "c has ring", ""},
			{2 * time.Second, []Peer{peer("b", true, mine.String()), peer("c", true, mine.String())}, "", "INFO"},
			// It stays: a later ring change elsewhere is the joining
			// node's to wait for.
			{3 * time.Second, []Peer{peer("b", true, older.String())}, "", ""},
		}},
		{"a peer that announces nothing yet", []check{
			{0, []Peer{peer("b", true, "")}, "b announces no ring yet", ""},
		}},
		{"an unreadable mark", []check{
			{0, []Peer{peer("b", true, "junk")}, `b announces an unreadable ring mark "junk"`, ""},
		}},
		{"dead peers, this node, and peers of another shape do not count", []check{
			{0, []Peer{
				peer("a", true, "stale"),
				peer("b", false, older.String()),
				{ID: "x", Alive: true, Shape: ring.Shape{Cluster: "other", Partitions: 8, N: 3}, Ring: older.String()},
				{ID: "y", Alive: true, Shape: ring.Shape{Cluster: "c", Partitions: 16, N: 3}},
				peer("c", true, mine.String()),
			}, "", "INFO"},
		}},
		{"the wait runs out: ready, and the reason is logged", []check{
			{0, []Peer{peer("c", true, older.String())}, "c has ring", ""},
			{wait - time.Millisecond, []Peer{peer("c", true, older.String())}, "c has ring", ""},
			{wait, []Peer{peer("c", true, older.String())}, "", "WARN"},
			{wait + time.Second, []Peer{peer("c", true, older.String())}, "", ""},
		}},
		{"the wait counts from the first check", []check{
			{time.Hour, []Peer{peer("c", true, "")}, "announces no ring", ""},
			{time.Hour + wait/2, []Peer{peer("c", true, "")}, "announces no ring", ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAgreement("a", testShape, wait)
			for i, c := range tc.checks {
				logs, err := a.Check(t0.Add(c.at), mine, c.peers)
				switch {
				case c.err == "" && err != nil:
					t.Errorf("check %d: %v, want agreed", i, err)
				case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
					t.Errorf("check %d: %v, want an error containing %q", i, err, c.err)
				}
				if a.Agreed() != (err == nil) {
					t.Errorf("check %d: Agreed() = %v with error %v", i, a.Agreed(), err)
				}
				var levels []string
				for _, l := range logs {
					levels = append(levels, l.Level.String())
				}
				if got := strings.Join(levels, ","); got != c.log {
					t.Errorf("check %d: logged %v, want %q", i, logs, c.log)
				}
			}
		})
	}
}

func TestAgreement_WarningNamesThePeers(t *testing.T) {
	mine := MarkOf(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}))
	older := MarkOf(ring.State{}.Join(ring.Member{ID: "a"}))
	a := NewAgreement("a", testShape, 0) // the default wait
	t0 := time.Unix(0, 0)
	peers := []Peer{{ID: "b", Alive: true, Shape: testShape, Ring: older.String()}, {ID: "c", Alive: true, Shape: testShape}}
	if _, err := a.Check(t0, mine, peers); err == nil {
		t.Fatal("agreed with two peers that disagree")
	}
	logs, err := a.Check(t0.Add(DefaultAgreementWait), mine, peers)
	if err != nil || len(logs) != 1 || logs[0].Level != slog.LevelWarn {
		t.Fatalf("after the default wait: %v, %v; want ready with one warning", logs, err)
	}
	args := map[any]any{}
	for i := 0; i+1 < len(logs[0].Args); i += 2 {
		args[logs[0].Args[i]] = logs[0].Args[i+1]
	}
	if want := "b has ring " + older.String() + "; c announces no ring yet"; args["disagree"] != want {
		t.Errorf("disagree=%v, want %q", args["disagree"], want)
	}
	if args["ring"] != mine.String() {
		t.Errorf("ring=%v, want %v", args["ring"], mine)
	}
}
