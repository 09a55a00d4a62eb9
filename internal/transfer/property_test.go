package transfer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/test/testutil"
)

// TestMachine_RandomRunsKeepTheRules drives the machine with random ring
// snapshots, liveness, replies, errors, stragglers and drops, and checks
// every step against a reference that keeps its own simple books: which
// partitions run, which requests are out, since when each partition has
// been drainable, and what each drain's first batch said.
func TestMachine_RandomRunsKeepTheRules(t *testing.T) {
	rng := testutil.Rand(t)
	for run := range 300 {
		r := newReference(rng)
		for step := range 200 {
			err := r.step()
			r.trail = append(r.trail, r.last)
			if err != nil {
				t.Fatalf("run %d step %d: %v\nthe last steps:\n%s", run, step, err, strings.Join(r.trail[max(0, len(r.trail)-12):], "\n"))
			}
		}
	}
}

const (
	propPartitions = 6
	propDelay      = 5 * time.Second
)

var propNodes = []string{"a", "b", "c", "d"}

type request struct {
	merge bool
	p     uint32
}

type reference struct {
	rng     *rand.Rand
	m       *Machine
	cfg     Config
	now     time.Time
	snap    Snapshot
	last    string
	trail   []string
	nextID  uint64
	out     map[uint64]request // requests sent, not answered
	stale   []uint64           // requests of transfers that ended
	running map[uint32]Kind
	since   map[uint32]time.Time // drainable since
	// firstGen is each running drain's generation, from its first batch.
	firstGen map[uint32]*uint64
	// unacked counts each running transfer's merges not yet acknowledged;
	// lastDone is whether its last batch pulled ended the partition.
	unacked   map[uint32]int
	lastDone  map[uint32]bool
	tookPart  bool
	retired   bool
	dropAsked map[uint32]bool
}

func newReference(rng *rand.Rand) *reference {
	cfg := Config{Self: "a", Concurrency: 1 + rng.IntN(3), BatchKeys: 4, BatchBytes: 100, DropDelay: propDelay, Timeout: 30 * time.Second}
	return &reference{rng: rng, m: New(cfg), cfg: cfg, now: epoch, out: map[uint64]request{}, running: map[uint32]Kind{},
		since: map[uint32]time.Time{}, firstGen: map[uint32]*uint64{}, unacked: map[uint32]int{}, lastDone: map[uint32]bool{},
		dropAsked: map[uint32]bool{}}
}

func (r *reference) randomSnapshot() Snapshot {
	s := Snapshot{Partitions: propPartitions, Version: uint64(r.rng.IntN(5)), Synced: r.rng.IntN(4) != 0,
		Owner: r.rng.IntN(2) == 0, Removed: r.rng.IntN(2) == 0, Involved: r.rng.IntN(2) == 0}
	for _, id := range propNodes[1:] {
		if r.rng.IntN(4) != 0 {
			s.Alive = append(s.Alive, id)
		}
	}
	for p := range uint32(propPartitions) {
		switch r.rng.IntN(4) {
		case 0:
			w := Want{Partition: p, Since: uint64(1 + r.rng.IntN(2))}
			for _, id := range propNodes {
				if r.rng.IntN(3) == 0 {
					w.Sources = append(w.Sources, id)
				}
			}
			s.Wanted = append(s.Wanted, w)
		case 1:
			h := Held{Partition: p, Needed: r.rng.IntN(3) == 0}
			for _, id := range propNodes {
				if r.rng.IntN(2) == 0 {
					h.Replicas = append(h.Replicas, id)
				}
			}
			s.Held = append(s.Held, h)
		}
	}
	return s
}

func (r *reference) step() error {
	ids := make([]uint64, 0, len(r.out))
	for id := range r.out {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	switch k := r.rng.IntN(10); {
	case k < 3 || len(ids) == 0:
		if r.rng.IntN(3) == 0 {
			r.snap = r.randomSnapshot()
		}
		r.now = r.now.Add(time.Duration(r.rng.IntN(8)) * time.Second)
		r.last = fmt.Sprintf("tick at %s of %+v", at(r.now), r.snap)
		return r.tick()
	case k < 9:
		id := ids[r.rng.IntN(len(ids))]
		switch r.rng.IntN(8) {
		case 0:
			id = r.nextID + 1 + uint64(r.rng.IntN(3)) // a stray, never sent
		case 1:
			if len(r.stale) > 0 {
				id = r.stale[r.rng.IntN(len(r.stale))] // a straggler
			}
		}
		return r.answer(id)
	default:
		p := uint32(r.rng.IntN(propPartitions))
		res := DropResult{Done: r.rng.IntN(2) == 0}
		if r.rng.IntN(4) == 0 {
			res.Err = errors.New("engine failed")
		}
		r.last = fmt.Sprintf("dropped p=%d %+v", p, res)
		return r.check(r.m.Dropped(r.now, p, res), nil)
	}
}

func (r *reference) answer(id uint64) error {
	req, sent := r.out[id]
	delete(r.out, id)
	if r.rng.IntN(6) == 0 {
		r.last = fmt.Sprintf("error id=%d", id)
		return r.check(r.m.Failed(r.now, id, "boom"), nil)
	}
	if req.merge {
		r.last = fmt.Sprintf("merged id=%d", id)
		if sent && r.unacked[req.p] > 0 {
			r.unacked[req.p]--
		}
		return r.check(r.m.Merged(r.now, id), nil)
	}
	b := Batch{Keys: r.rng.IntN(3), Bytes: 10, Last: []byte("k"), Done: r.rng.IntN(3) == 0, Generation: uint64(r.rng.IntN(100))}
	r.last = fmt.Sprintf("pulled id=%d %+v", id, b)
	if sent {
		if _, ok := r.running[req.p]; ok {
			if g := r.firstGen[req.p]; g == nil && r.running[req.p] == Drain {
				r.firstGen[req.p] = &b.Generation
			}
			r.lastDone[req.p] = b.Done
		}
	}
	return r.check(r.m.Pulled(r.now, id, b), nil)
}

func (r *reference) tick() error {
	s := r.snap
	drainable := map[uint32]bool{}
	for _, h := range s.Held {
		if !h.Needed && s.Synced {
			drainable[h.Partition] = true
		}
	}
	due := map[uint32]bool{}
	for p := range drainable {
		if since, ok := r.since[p]; ok && r.now.Sub(since) >= propDelay {
			due[p] = true
		} else if !ok {
			r.since[p] = r.now
		}
	}
	for p := range r.since {
		if !drainable[p] {
			delete(r.since, p)
		}
	}
	draining := len(drainable)
	if s.known() && (s.Owner || draining > 0 || s.Involved) {
		r.tookPart = true
	}
	return r.check(r.m.Tick(r.now, s), due)
}
