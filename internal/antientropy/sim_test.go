package antientropy_test

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
)

// simShape is the tree shape of the simulated replicas: small, so that a
// scenario's descent is a few rounds.
var simShape = merkle.Shape{Fanout: 4, Depth: 2}

// replica is one simulated node: its vnode's store (one partition's keys are
// enough for a story), its hint queue's counts, and how it misbehaves.
type replica struct {
	store  map[string]dvv.Set
	hints  map[string]uint32
	shape  merkle.Shape
	fail   map[antientropy.Kind]string // kind -> error message answered
	silent bool                        // answers nothing: the round times out
	broken map[string]bool             // keys whose stored object cannot be decoded
}

func newReplica() *replica {
	return &replica{store: map[string]dvv.Set{}, hints: map[string]uint32{}, shape: simShape,
		fail: map[antientropy.Kind]string{}, broken: map[string]bool{}}
}

// tree builds the replica's Merkle tree from its store.
func (r *replica) tree(t testing.TB) *merkle.Tree {
	tr, err := merkle.NewTree(r.shape.Fanout, r.shape.Depth)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.store {
		tr.Put([]byte(k), merkle.ValueHash([]byte(formatSet(v))), 0, false)
	}
	return tr
}

// parseSet reads a set written as siblings joined by '+', each
// value@timestamp[!expiry]#actor.counter, where the value "del" is a
// tombstone and !expiry (Unix ms) makes a value expire: "v1@5000#1.1",
// "v1@5000!8000#1.1" or "del@5000#1.2". The context covers every dot.
func parseSet(t testing.TB, s string) dvv.Set {
	var set dvv.Set
	var dots []dvv.Dot
	for _, part := range strings.Split(s, "+") {
		value, rest, ok1 := strings.Cut(part, "@")
		ts, dot, ok2 := strings.Cut(rest, "#")
		actor, counter, ok3 := strings.Cut(dot, ".")
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("set %q: want value@ts#actor.counter", s)
		}
		ts, expires, perishable := strings.Cut(ts, "!")
		sib := dvv.Sibling{Dot: dvv.Dot{Actor: dvv.Actor(atoi(t, actor)), Counter: uint64(atoi(t, counter))},
			Timestamp: int64(atoi(t, ts))}
		if perishable {
			sib.ExpiresAt = int64(atoi(t, expires))
		}
		if value == "del" {
			sib.Tombstone = true
		} else {
			sib.Value = []byte(value)
		}
		set.Siblings = append(set.Siblings, sib)
		dots = append(dots, sib.Dot)
	}
	set.Context = dvv.NewVersionVector(dots...)
	return set
}

func formatSet(s dvv.Set) string {
	if s.IsEmpty() {
		return "nothing"
	}
	var parts []string
	for _, sib := range s.Siblings {
		v := string(sib.Value)
		if sib.Tombstone {
			v = "del"
		}
		expires := ""
		if sib.ExpiresAt != 0 {
			expires = fmt.Sprintf("!%d", sib.ExpiresAt)
		}
		parts = append(parts, fmt.Sprintf("%s@%d%s#%d.%d", v, sib.Timestamp, expires, sib.Dot.Actor, sib.Dot.Counter))
	}
	return strings.Join(parts, "+")
}

func atoi(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// answer is what the simulated replica answers to req, as the event it
// feeds the machine and a line for the story; ok is false when it stays
// silent.
func (r *replica) answer(t testing.TB, m *antientropy.Machine, req antientropy.Request) (antientropy.Effects, string, bool) {
	if r.silent {
		return antientropy.Effects{}, "", false
	}
	if msg, ok := r.fail[req.Kind]; ok {
		return m.Failed(req.ID, msg), "error: " + msg, true
	}
	key := string(req.Key)
	switch req.Kind {
	case antientropy.MerkleLevel:
		hashes, err := r.tree(t).Level(req.Level, req.Parents)
		if err != nil {
			return m.Failed(req.ID, err.Error()), "error: " + err.Error(), true
		}
		return m.Hashes(req.ID, hashes, r.shape), fmt.Sprintf("%d hashes of a %dx%d tree", len(hashes), r.shape.Fanout, r.shape.Depth), true
	case antientropy.BucketKeys:
		in := r.tree(t).KeyFilter(req.Buckets)
		var kvs []merkle.KeyVersion
		var names []string
		for _, k := range slices.Sorted(maps.Keys(r.store)) {
			if in([]byte(k)) {
				kvs = append(kvs, merkle.KeyVersion{Key: []byte(k), ValueHash: merkle.ValueHash([]byte(formatSet(r.store[k])))})
				names = append(names, k)
			}
		}
		return m.Keys(req.ID, kvs), fmt.Sprintf("keys %v", names), true
	case antientropy.Get:
		if r.broken[key] {
			return m.Unreadable(req.ID, fmt.Errorf("corrupt object")), "an unreadable object", true
		}
		obj := r.store[key]
		return m.Object(req.ID, obj, len(formatSet(obj))), formatSet(obj), true
	case antientropy.Merge:
		r.store[key] = dvv.Merge(r.store[key], req.Object)
		return m.Merged(req.ID), "merged", true
	case antientropy.Tombstones:
		var keys [][]byte
		for _, k := range slices.Sorted(maps.Keys(r.store)) {
			if dvv.Reapable([]dvv.Set{r.store[k]}, 1, req.OlderThanUnixMs) && len(keys) < req.Limit {
				keys = append(keys, []byte(k))
			}
		}
		return m.Tombstones(req.ID, keys), fmt.Sprintf("tombstones %q", keys), true
	case antientropy.HintsFor:
		return m.Hints(req.ID, r.hints[key]), fmt.Sprintf("%d hints", r.hints[key]), true
	case antientropy.Reap:
		cur, ok := r.store[key]
		// As the vnode does at its clock; the simulation's clock is past
		// every expiry it lists, so "no value without an expiry" stands in.
		reaped := ok && cur.Equal(req.Object) && dvv.Reapable([]dvv.Set{cur}, 1, math.MaxInt64)
		if reaped {
			delete(r.store, key)
		}
		return m.Reaped(req.ID, reaped), fmt.Sprintf("reaped=%v", reaped), true
	}
	t.Fatalf("unknown request %v", req.Kind)
	return antientropy.Effects{}, "", false
}

// formatRequest is one request as a story line.
func formatRequest(req antientropy.Request) string {
	s := fmt.Sprintf("→ %s #%d %s", req.Node, req.ID, req.Kind)
	switch req.Kind {
	case antientropy.MerkleLevel:
		s += fmt.Sprintf(" p%d level=%d parents=%v", req.Partition, req.Level, req.Parents)
	case antientropy.BucketKeys:
		s += fmt.Sprintf(" p%d buckets=%v", req.Partition, req.Buckets)
	case antientropy.Get, antientropy.HintsFor:
		s += fmt.Sprintf(" p%d key=%s", req.Partition, req.Key)
	case antientropy.Merge, antientropy.Reap:
		s += fmt.Sprintf(" p%d key=%s obj=%s", req.Partition, req.Key, formatSet(req.Object))
	case antientropy.Tombstones:
		s += fmt.Sprintf(" p%d older-than=%d limit=%d", req.Partition, req.OlderThanUnixMs, req.Limit)
	}
	return s
}

// formatEffects prints effects one per line, in the order the shell
// carries them out.
func formatEffects(eff antientropy.Effects) []string {
	var out []string
	for _, v := range eff.Verdicts {
		if v.Reap {
			out = append(out, fmt.Sprintf("reap %s", v.Key))
		} else {
			out = append(out, fmt.Sprintf("keep %s: %s", v.Key, v.Why))
		}
	}
	if eff.Skipped != "" {
		out = append(out, "no reap: "+eff.Skipped)
	}
	if d := eff.Done; d != nil {
		line := fmt.Sprintf("done %s p%d peer=%s repaired=%d reaped=%d bytes=%d", d.Outcome, d.Partition, d.Peer, d.Repaired, d.Reaped, d.Bytes)
		if d.Err != nil {
			line += fmt.Sprintf(" (%v)", d.Err)
		}
		out = append(out, line)
	}
	if st := eff.Started; st != nil {
		out = append(out, fmt.Sprintf("start p%d peer=%s (%s)", st.Partition, st.Peer, st.Why))
	}
	for _, req := range eff.Send {
		out = append(out, formatRequest(req))
	}
	if eff.NeedView {
		out = append(out, "need view")
	}
	return out
}
