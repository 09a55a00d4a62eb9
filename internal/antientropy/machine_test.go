package antientropy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
)

var epoch = time.Unix(0, 0)

func threeNodes() *antientropy.View {
	return &antientropy.View{
		Partitions: []antientropy.Partition{{Replicas: []string{"a", "b", "c"}, Primaries: []string{"a", "b", "c"}}},
		Owners:     []string{"a", "b", "c"},
		Members:    map[string]antientropy.Liveness{"a": antientropy.Alive, "b": antientropy.Alive, "c": antientropy.Alive},
	}
}

// inSyncRound starts a round on m and answers its root comparison with
// equal roots, returning the effects of the last answer.
func inSyncRound(t *testing.T, m *antientropy.Machine, now time.Time, view *antientropy.View) antientropy.Effects {
	t.Helper()
	eff := m.Tick(now, view, pick(0))
	if len(eff.Send) != 2 || eff.Send[0].Kind != antientropy.MerkleLevel {
		t.Fatalf("Tick sent %+v, want two root requests", eff.Send)
	}
	m.Hashes(eff.Send[0].ID, []uint64{7}, simShape)
	return m.Hashes(eff.Send[1].ID, []uint64{7}, simShape)
}

// TestMachine_ReapRules checks each reap rule alone: every case but the
// first breaks exactly one, and only the first reaps.
func TestMachine_ReapRules(t *testing.T) {
	tomb := dvv.Set{Context: dvv.NewVersionVector(dvv.Dot{Actor: 1, Counter: 2}),
		Siblings: []dvv.Sibling{{Dot: dvv.Dot{Actor: 1, Counter: 2}, Tombstone: true, Timestamp: 5000}}}
	other := dvv.Set{Context: dvv.NewVersionVector(dvv.Dot{Actor: 3, Counter: 1}),
		Siblings: []dvv.Sibling{{Dot: dvv.Dot{Actor: 3, Counter: 1}, Tombstone: true, Timestamp: 5000}}}
	live := dvv.Set{Context: dvv.NewVersionVector(dvv.Dot{Actor: 1, Counter: 1}),
		Siblings: []dvv.Sibling{{Dot: dvv.Dot{Actor: 1, Counter: 1}, Value: []byte("v"), Timestamp: 4000}}}
	tests := []struct {
		name    string
		view    func(v *antientropy.View)
		grace   time.Duration
		copies  map[string]dvv.Set
		hints   map[string]uint32
		skipped string // a partition-wide rule that stops the phase
		why     string // the per-key rule that keeps the key
	}{
		{name: "all hold: reap"},
		{name: "an owner is down", view: func(v *antientropy.View) { v.Members["c"] = antientropy.Down }, skipped: "node c is down"},
		{name: "an owner gossip never saw", view: func(v *antientropy.View) { delete(v.Members, "c") }, skipped: "node c is down"},
		{name: "a member that is not an owner is down", view: func(v *antientropy.View) { v.Members["n"] = antientropy.Down }, skipped: "node n is down"},
		{name: "a handoff of the partition runs", view: func(v *antientropy.View) { v.Partitions[0].Handoff = true }, skipped: "a handoff of the partition is running"},
		{name: "no view", view: nil, skipped: "no view of the cluster"},
		{name: "a primary holds a live value", copies: map[string]dvv.Set{"c": live}, why: "primary c holds a live value"},
		{name: "a primary holds nothing", copies: map[string]dvv.Set{"b": {}}, why: "primary b holds nothing"},
		{name: "a primary holds another tombstone", copies: map[string]dvv.Set{"c": other}, why: "primary c holds another tombstone"},
		{name: "a hint on one node", hints: map[string]uint32{"b": 2}, why: "2 hints kept for it"},
		{name: "younger than grace", grace: time.Hour, why: "younger than the grace period"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			grace := tc.grace
			if grace == 0 {
				grace = time.Second
			}
			m := antientropy.New(antientropy.Config{Self: "a", MaxKeys: 10, Timeout: time.Minute, Grace: grace})
			now := epoch.Add(10 * time.Second)
			eff := inSyncRound(t, m, now, threeNodes())
			if !eff.NeedView {
				t.Fatalf("in-sync round with reaping on: %+v, want NeedView", eff)
			}
			view := threeNodes()
			if tc.view != nil {
				tc.view(view)
			} else if tc.name == "no view" {
				view = nil
			}
			eff = m.Reap(view, now)
			if tc.skipped != "" {
				if eff.Skipped != tc.skipped || eff.Done == nil || eff.Done.Outcome != antientropy.InSync || len(eff.Send) != 0 {
					t.Fatalf("Reap = %+v, want in sync, skipped %q", eff, tc.skipped)
				}
				return
			}
			if len(eff.Send) != 1 || eff.Send[0].Kind != antientropy.Tombstones || eff.Send[0].Node != "a" ||
				eff.Send[0].OlderThanUnixMs != now.Add(-grace).UnixMilli() || eff.Send[0].Limit != antientropy.DefaultReapLimit {
				t.Fatalf("Reap sent %+v, want a's tombstones older than now-grace", eff.Send)
			}
			// a lists k whatever its age: the check that matters is the
			// primaries' copies.
			eff = m.Tombstones(eff.Send[0].ID, [][]byte{[]byte("k")})
			var last antientropy.Effects
			var verdicts []antientropy.Verdict
			for _, req := range eff.Send {
				switch req.Kind {
				case antientropy.Get:
					cp, ok := tc.copies[req.Node]
					if !ok {
						cp = tomb
					}
					last = m.Object(req.ID, cp, 10)
				case antientropy.HintsFor:
					last = m.Hints(req.ID, tc.hints[req.Node])
				}
				verdicts = append(verdicts, last.Verdicts...)
			}
			if len(verdicts) != 1 || len(last.Verdicts) != 1 {
				t.Fatalf("verdicts %+v, want one, with the last answer", verdicts)
			}
			v := last.Verdicts[0]
			if tc.why == "" {
				if !v.Reap || len(last.Send) != 3 || last.Done != nil {
					t.Fatalf("all rules hold, got %+v", last)
				}
				for i, req := range last.Send {
					if req.Kind != antientropy.Reap || req.Node != []string{"a", "b", "c"}[i] || !req.Object.Equal(tomb) {
						t.Fatalf("reap request %d = %+v", i, req)
					}
				}
				return
			}
			if v.Reap || v.Why != tc.why || len(last.Send) != 0 || last.Done == nil || last.Done.Outcome != antientropy.InSync {
				t.Fatalf("got %+v, want the key kept (%s) and the round in sync", last, tc.why)
			}
		})
	}
}

func TestMachine_ReapingOff(t *testing.T) {
	m := antientropy.New(antientropy.Config{Self: "a", MaxKeys: 10, Timeout: time.Minute})
	eff := inSyncRound(t, m, epoch, threeNodes())
	if eff.NeedView || eff.Done == nil || eff.Done.Outcome != antientropy.InSync {
		t.Fatalf("in-sync round without grace: %+v, want done in sync", eff)
	}
	if eff := m.Reap(threeNodes(), epoch); eff.Done != nil || len(eff.Send) != 0 {
		t.Fatalf("Reap unasked: %+v, want nothing", eff)
	}
}

// TestMachine_Aborts covers the events that abort a round, and what a reply
// of an ended round does: nothing.
func TestMachine_Aborts(t *testing.T) {
	tests := []struct {
		name  string
		event func(m *antientropy.Machine, sent []antientropy.Request) antientropy.Effects
		want  error
	}{
		{"peer error", func(m *antientropy.Machine, s []antientropy.Request) antientropy.Effects {
			return m.Failed(s[1].ID, "boom")
		}, antientropy.ErrPeerFailed},
		{"deadline", func(m *antientropy.Machine, _ []antientropy.Request) antientropy.Effects {
			return m.Tick(epoch.Add(time.Minute+time.Millisecond), nil, pick(0))
		}, antientropy.ErrTimeout},
		{"peer left the view", func(m *antientropy.Machine, s []antientropy.Request) antientropy.Effects {
			// b, the round's peer, is down; so is c, so no other round
			// starts.
			v := threeNodes()
			v.Members["b"], v.Members["c"] = antientropy.Down, antientropy.Down
			return m.Tick(epoch.Add(time.Second), v, pick(0))
		}, antientropy.ErrPeerGone},
		{"wrong kind of reply", func(m *antientropy.Machine, s []antientropy.Request) antientropy.Effects {
			return m.Keys(s[0].ID, nil)
		}, antientropy.ErrBadReply},
		{"wrong number of hashes", func(m *antientropy.Machine, s []antientropy.Request) antientropy.Effects {
			m.Hashes(s[0].ID, []uint64{1}, simShape)
			return m.Hashes(s[1].ID, []uint64{1, 2}, simShape)
		}, antientropy.ErrBadReply},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := antientropy.New(antientropy.Config{Self: "a", MaxKeys: 10, Timeout: time.Minute})
			sent := m.Tick(epoch, threeNodes(), pick(0)).Send
			eff := tc.event(m, sent)
			if eff.Done == nil || eff.Done.Outcome != antientropy.Aborted || !errors.Is(eff.Done.Err, tc.want) {
				t.Fatalf("got %+v, want aborted with %v", eff.Done, tc.want)
			}
			if m.Running() {
				t.Fatal("the machine still runs the aborted round")
			}
			for _, req := range sent {
				if eff := m.Hashes(req.ID, []uint64{1}, simShape); eff.Done != nil || len(eff.Send) != 0 {
					t.Fatalf("a straggler had effects: %+v", eff)
				}
			}
		})
	}
}

func TestMachine_TickWithoutPairs(t *testing.T) {
	m := antientropy.New(antientropy.Config{Self: "z", MaxKeys: 10, Timeout: time.Minute})
	for _, v := range []*antientropy.View{nil, {}, threeNodes()} {
		if eff := m.Tick(epoch, v, pick(0)); len(eff.Send) != 0 || m.Running() {
			t.Fatalf("Tick(%+v) = %+v, want nothing", v, eff)
		}
	}
}
