package hintq

import (
	"fmt"
	"testing"
	"time"

	"github.com/dhtkv/dht/test/testutil"
)

// model is the reference: the hints storage holds, kept by the simplest
// means, and the requests the shell has sent and not yet seen answered.
type model struct {
	cfg    Config
	stored map[Ref]bool
	sent   []uint64
}

func (m *model) totals() (int, int64) {
	var n int
	var b int64
	for ref := range m.stored {
		n++
		b += ref.Size
	}
	return n, b
}

// TestQueue_MatchesModel drives the machine with random offers, ticks,
// answers, failed deletes and restarts, and checks it against the model
// after every step: the counts are storage's, the bounds hold, a refusal
// for fullness happens exactly when the model is full, every send names a
// stored hint, and in the end every hint is delivered.
func TestQueue_MatchesModel(t *testing.T) {
	rng := testutil.Rand(t)
	targets := []string{"a", "b", "c"}
	for run := range 50 {
		cfg := Config{MaxHints: 1 + rng.IntN(20), MaxBytes: int64(10 + rng.IntN(500)), BatchSize: 1 + rng.IntN(4), Interval: time.Second}
		m := &model{cfg: cfg, stored: map[Ref]bool{}}
		q := New(cfg)
		now := time.Unix(0, 0)
		check := func(step string) {
			t.Helper()
			n, b := m.totals()
			if qn, qb := q.Totals(); qn != n || qb != b {
				t.Fatalf("run %d, %s: the queue counts %d hints, %d bytes; storage holds %d, %d", run, step, qn, qb, n, b)
			}
			if n > cfg.MaxHints || b > cfg.MaxBytes {
				t.Fatalf("run %d, %s: %d hints, %d bytes past the bounds %d, %d", run, step, n, b, cfg.MaxHints, cfg.MaxBytes)
			}
		}
		deleteOK := true
		carryDelete := func(eff Effects) {
			if rm := eff.Delete; rm != nil {
				if deleteOK {
					delete(m.stored, rm.Ref)
				}
				q.Deleted(*rm, deleteOK)
			}
		}
		tick := func(alive map[string]bool) {
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			reach := map[string]Reach{}
			for _, id := range q.Targets() {
				reach[id] = Reach{Alive: alive[id]}
			}
			for _, r := range q.Tick(now, reach) {
				for ref := range m.stored {
					if ref.Target != r.Target {
						continue
					}
					eff, more := q.Consider(r, Hint{Ref: ref, Readable: true}, "")
					if eff.Send == nil || !m.stored[eff.Send.Ref] || eff.Send.Node != r.Target {
						t.Fatalf("run %d: sent %+v, which names no stored hint of %s", run, eff.Send, r.Target)
					}
					m.sent = append(m.sent, eff.Send.Req)
					if !more {
						break
					}
				}
				q.Scanned(r, true)
			}
		}
		for step := range 200 {
			deleteOK = rng.IntN(10) > 0
			switch op := rng.IntN(10); {
			case op < 4:
				size := int64(1 + rng.IntN(60))
				n, b := m.totals()
				full := n+1 > cfg.MaxHints || b+size > cfg.MaxBytes
				eff := q.Offer(Offer{Target: targets[rng.IntN(3)], Key: []byte("k"), Size: size})
				if (eff.Count == ResultRefusedFull) != full || (eff.Persist == nil) != full {
					t.Fatalf("run %d step %d: offer of %d bytes into %d hints, %d bytes: %+v; full=%v", run, step, size, n, b, eff, full)
				}
				if ref := eff.Persist; ref != nil {
					if m.stored[*ref] {
						t.Fatalf("run %d step %d: persist over a stored hint %+v", run, step, *ref)
					}
					m.stored[*ref] = true
					q.Persisted(*ref, nil)
				}
			case op < 6:
				tick(map[string]bool{"a": rng.IntN(2) == 0, "b": rng.IntN(2) == 0, "c": rng.IntN(2) == 0})
			case op < 9 && len(m.sent) > 0:
				i := rng.IntN(len(m.sent))
				req := m.sent[i]
				m.sent = append(m.sent[:i], m.sent[i+1:]...)
				if rng.IntN(3) == 0 {
					q.Refused(req)
				} else {
					carryDelete(q.Acked(req))
				}
			case op == 9:
				q = New(cfg)
				m.sent = nil
				for ref := range m.stored {
					q.Load(ref)
				}
				q.Loaded()
			}
			check(fmt.Sprintf("step %d", step))
		}
		// Everyone comes up and answers: the queue drains.
		deleteOK = true
		for round := 0; len(m.stored) > 0; round++ {
			if round > 1000 {
				t.Fatalf("run %d: %d hints still kept after 1000 rounds", run, len(m.stored))
			}
			tick(map[string]bool{"a": true, "b": true, "c": true})
			for _, req := range m.sent {
				carryDelete(q.Acked(req))
			}
			m.sent = nil
			check(fmt.Sprintf("drain round %d", round))
		}
	}
}
