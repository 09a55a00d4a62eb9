package antientropy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/test/testutil"
)

// TestMachine_ConvergesToTheMerge runs rounds between two random replicas
// until one finds them in sync, and checks them against a deliberately
// simple reference: each key ends as the merge of its two copies, within
// one round per MaxKeys differing keys, plus the round that finds them in
// sync.
func TestMachine_ConvergesToTheMerge(t *testing.T) {
	rng := testutil.Rand(t)
	for trial := range 20 {
		a, b := newReplica(), newReplica()
		want := map[string]dvv.Set{}
		differ := 0
		for k := range 40 + rng.IntN(60) {
			key := fmt.Sprintf("k%d", k)
			x := dvv.Set{Context: dvv.NewVersionVector(dvv.Dot{Actor: 1, Counter: uint64(k + 1)}),
				Siblings: []dvv.Sibling{{Dot: dvv.Dot{Actor: 1, Counter: uint64(k + 1)}, Value: []byte("x"), Timestamp: 1}}}
			y := dvv.Set{Context: dvv.NewVersionVector(dvv.Dot{Actor: 2, Counter: uint64(k + 1)}),
				Siblings: []dvv.Sibling{{Dot: dvv.Dot{Actor: 2, Counter: uint64(k + 1)}, Tombstone: rng.IntN(2) == 0, Timestamp: 2}}}
			switch rng.IntN(4) {
			case 0: // equal
				a.store[key], b.store[key] = x, x
				want[key] = x
			case 1: // only on a
				a.store[key] = x
				want[key], differ = x, differ+1
			case 2: // only on b
				b.store[key] = y
				want[key], differ = y, differ+1
			case 3: // concurrent writes
				a.store[key], b.store[key] = x, y
				want[key], differ = dvv.Merge(x, y), differ+1
			}
		}
		maxKeys := 1 + rng.IntN(30)
		m := antientropy.New(antientropy.Config{Self: "a", MaxKeys: maxKeys, Timeout: time.Minute})
		view := &antientropy.View{Partitions: []antientropy.Partition{{Replicas: []string{"a", "b"}, Primaries: []string{"a", "b"}}},
			Owners: []string{"a", "b"}, Members: map[string]antientropy.Liveness{"a": antientropy.Alive, "b": antientropy.Alive}}
		s := &scenario{m: m, view: view, replicas: map[string]*replica{"a": a, "b": b}}
		rounds, limit := 0, (differ+maxKeys-1)/maxKeys+1
		for ; rounds < limit; rounds++ {
			s.now = epoch.Add(time.Duration(rounds) * time.Second)
			eff := m.Tick(s.now, view, pick(0))
			s.queue = eff.Send
			var done *antientropy.Result
			for len(s.queue) > 0 {
				req := s.queue[0]
				s.queue = s.queue[1:]
				e, _, _ := s.replicas[req.Node].answer(t, m, req)
				s.queue = append(s.queue, e.Send...)
				if e.Done != nil {
					done = e.Done
				}
			}
			if done == nil || done.Outcome == antientropy.Aborted {
				t.Fatalf("trial %d round %d ended %+v", trial, rounds, done)
			}
			if done.Outcome == antientropy.InSync {
				break
			}
		}
		if rounds == limit {
			t.Fatalf("trial %d: %d differing keys, max %d per round: not in sync after %d rounds", trial, differ, maxKeys, limit)
		}
		for _, r := range []*replica{a, b} {
			for key, w := range want {
				if !r.store[key].Equal(w) {
					t.Fatalf("trial %d: %s = %s, want %s", trial, key, formatSet(r.store[key]), formatSet(w))
				}
			}
		}
	}
}
