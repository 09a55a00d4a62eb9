package quorum_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/test/testutil"
)

// TestPut_CoordinatorLate_HandsToTheNextOwner checks whom a late
// coordinator's write goes to: the next primary in preference order that is
// not rebuilding, not asked before and not failed; and nobody once none is
// left.
func TestPut_CoordinatorLate_HandsToTheNextOwner(t *testing.T) {
	tests := []struct {
		name    string
		targets []quorum.Target
		// failed fail before the first deadline (their answers to the
		// write, which went to the coordinator only, are errors).
		failed []string
		// want is every coordinator in the order asked: the first by
		// Start, each next by a deadline of the one before.
		want []string
	}{
		{"three owners", abc, nil, []string{"a", "b", "c"}},
		{"in preference order", []quorum.Target{primary("c"), primary("a"), primary("b")}, nil, []string{"c", "a", "b"}},
		{"a fallback is skipped", []quorum.Target{primary("a"), fallback("d"), primary("c")}, nil, []string{"a", "c"}},
		{"a rebuilding owner is skipped", []quorum.Target{primary("a"), rebuilding("b"), primary("c")}, nil, []string{"a", "c"}},
		{"a rebuilding coordinator hands to nobody", []quorum.Target{fallback("d"), rebuilding("a")}, nil, []string{"a"}},
		{"a failed owner is skipped", abc, []string{"b"}, []string{"a", "c"}},
		{"a single owner", abc[:1], nil, []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := quorum.NewPut(quorum.Params{N: 3, W: 1}, tc.targets)
			got := []string{f.Start().Coordinate.Node}
			for _, n := range tc.failed {
				wantNoPutReply(t, "Failed("+n+")", f.Failed(n))
			}
			for range len(tc.targets) + 1 {
				// CanHandOver, by which the coordinator gives a short
				// deadline, says beforehand whether the handover happens.
				can := f.CanHandOver()
				eff := f.CoordinatorLate(got[len(got)-1])
				if can != (eff.Coordinate != nil) {
					t.Fatalf("CanHandOver() = %v before asking %v, but the handover gave %v", can, got, eff.Coordinate)
				}
				wantNoPutReply(t, "CoordinatorLate", eff)
				if len(eff.Replicate) > 0 {
					t.Fatalf("CoordinatorLate replicates %v before any object exists", eff.Replicate)
				}
				if eff.Coordinate == nil {
					break
				}
				got = append(got, eff.Coordinate.Node)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("coordinators %v, want %v", got, tc.want)
			}
			if f.HandedOver() != len(tc.want)-1 {
				t.Errorf("HandedOver() = %d, want %d", f.HandedOver(), len(tc.want)-1)
			}
		})
	}
}

// TestPut_CoordinatorLate_OnlyWhileNothingIsCoordinated: a deadline after an
// object exists, after the reply, for a coordinator that is not the latest
// asked, or for a node never asked, hands nothing over.
func TestPut_CoordinatorLate_OnlyWhileNothingIsCoordinated(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name string
		run  func(f *quorum.Put) quorum.PutEffects
	}{
		{"after minted", func(f *quorum.Put) quorum.PutEffects { f.Minted("a", h.v1); return f.CoordinatorLate("a") }},
		{"after coordinated", func(f *quorum.Put) quorum.PutEffects { f.Coordinated("a", h.v1); return f.CoordinatorLate("a") }},
		{"after the reply", func(f *quorum.Put) quorum.PutEffects { f.Timeout(); return f.CoordinatorLate("a") }},
		{"not the latest asked", func(f *quorum.Put) quorum.PutEffects { f.CoordinatorLate("a"); return f.CoordinatorLate("a") }},
		{"never asked", func(f *quorum.Put) quorum.PutEffects { return f.CoordinatorLate("b") }},
		{"not a target", func(f *quorum.Put) quorum.PutEffects { return f.CoordinatorLate("zz") }},
		{"the coordinator failed", func(f *quorum.Put) quorum.PutEffects {
			f.CoordinatorLate("a")
			f.Failed("b")
			return f.CoordinatorLate("b")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
			if eff := tc.run(f); eff.Coordinate != nil {
				t.Errorf("CoordinatorLate handed over to %s", eff.Coordinate.Node)
			}
		})
	}
}

// TestPut_Handover_AcksCountOncePerReplica: after a handover both
// coordinators may land; a replica that acknowledged either object counts
// once toward W, and a coordinator's own write counts through Coordinated.
func TestPut_Handover_AcksCountOncePerReplica(t *testing.T) {
	h := newHistory(t)
	f := startPut(t, quorum.Params{N: 3, W: 3}, abc)
	if eff := f.CoordinatorLate("a"); eff.Coordinate == nil || eff.Coordinate.Node != "b" {
		t.Fatalf("CoordinatorLate(a) = %+v, want a handover to b", eff)
	}
	wantNoPutReply(t, "Acked(c) before any object", f.Acked("c"))
	f.Minted("b", h.v3)
	wantNoPutReply(t, "Acked(c)", f.Acked("c"))
	wantNoPutReply(t, "Acked(c) again", f.Acked("c"))
	wantNoPutReply(t, "Coordinated(b)", f.Coordinated("b", h.v3))
	// a is late, not gone: its own coordination lands, and its object
	// goes out merged with b's.
	eff := f.Minted("a", h.v2)
	if got := nodes(eff.Replicate); !slices.Equal(got, []string{"b", "c"}) || !eff.Object.Equal(h.v23) || eff.Minter != "a" {
		t.Fatalf("Minted(a) after b's: Replicate %v of %v by %q, want [b c] of %v by a", got, eff.Object, eff.Minter, h.v23)
	}
	wantNoPutReply(t, "Acked(c) of the merge", f.Acked("c"))
	wantNoPutReply(t, "Acked(b) of the merge", f.Acked("b"))
	wantPutSuccess(t, "Coordinated(a)", f.Coordinated("a", h.v2), h.v23, 3)
}

// TestPut_Handover_AckOfTheFirstObjectByTheSecondCoordinator: the late
// first coordinator's object reaches the second as a replica; its
// acknowledgement of it counts, once.
func TestPut_Handover_AckOfTheFirstObjectByTheSecondCoordinator(t *testing.T) {
	h := newHistory(t)
	f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
	f.CoordinatorLate("a")
	eff := f.Minted("a", h.v2)
	if got := nodes(eff.Replicate); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("Minted(a) replicates to %v, want [b c]", got)
	}
	wantNoPutReply(t, "Acked(b)", f.Acked("b"))
	wantNoPutReply(t, "Coordinated(b) counts b again", f.Coordinated("b", h.v3))
	wantPutSuccess(t, "Acked(c)", f.Acked("c"), h.v23, 2)
}

// TestPut_Handover_DuplicateIsASibling shows with dvv itself why a second
// coordination of the same write can at most add a sibling: both
// coordinators apply the client's value over the client's context, each
// under a dot of its own, so neither object's context covers the other's
// dot. Every merge, in any order and with any other replica's state, keeps
// both; the value the client was acknowledged for is never dropped, and a
// write with the returned context replaces both.
func TestPut_Handover_DuplicateIsASibling(t *testing.T) {
	seed := testutil.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 17))
	const a, b = dvv.Actor(1), dvv.Actor(2)
	for iter := range 200 {
		// Base: what the key held before, the same at both owners (or a
		// stale copy at b), and the context the client read.
		h := newHistory(t)
		bases := []dvv.Set{h.empty, h.v1, h.v2, h.v23}
		baseA := bases[rng.IntN(len(bases))]
		baseB := baseA
		if rng.IntN(3) == 0 {
			baseB = bases[rng.IntN(len(bases))]
		}
		clientCtx := baseA.Context
		// A replica never reuses a dot (its counter passes every dot it
		// minted; a new epoch after a wipe), whatever its copy lags.
		seen := baseA.Context.Merge(baseB.Context)
		value := fmt.Appendf(nil, "write-%d", iter)
		write := dvv.Sibling{Value: value, ContentType: "text/plain", Timestamp: 7}
		objA, err := baseA.Update(clientCtx, write, dvv.Dot{Actor: a, Counter: seen.Get(a) + 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		objB, err := baseB.Update(clientCtx, write, dvv.Dot{Actor: b, Counter: seen.Get(b) + 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		dotA, dotB := dotOf(t, objA, value), dotOf(t, objB, value)
		if objA.Context.Covers(dotB) || objB.Context.Covers(dotA) {
			t.Fatalf("seed %d iter %d: one coordination dominates the other: %v vs %v", seed, iter, objA, objB)
		}

		// The machine: a is late, the write goes to b, and which lands
		// first is random; the client is answered once W=2 hold either.
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		f.CoordinatorLate("a")
		var reply *quorum.PutResult
		events := []func() quorum.PutEffects{
			func() quorum.PutEffects { return f.Coordinated("a", objA) },
			func() quorum.PutEffects { return f.Coordinated("b", objB) },
			func() quorum.PutEffects { return f.Acked("c") },
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		for _, ev := range events {
			if eff := ev(); eff.Reply != nil {
				reply = eff.Reply
			}
		}
		if reply == nil || reply.Err != nil {
			t.Fatalf("seed %d iter %d: reply %+v, want success", seed, iter, reply)
		}
		// What the replicas converge on, merged in a random order with
		// the reply's object: both dots survive, both with the value.
		parts := []dvv.Set{objA, objB, baseA, baseB, reply.Object}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		var final dvv.Set
		for _, p := range parts {
			final = dvv.Merge(final, p)
		}
		for _, d := range []dvv.Dot{dotA, dotB} {
			if !holds(final, d, value) {
				t.Fatalf("seed %d iter %d: converged %v lost the write's sibling %v", seed, iter, final, d)
			}
		}
		if n := len(final.Siblings) - len(dvv.Merge(baseA, baseB).Siblings); n > 2 {
			t.Fatalf("seed %d iter %d: the write added %d siblings, want at most 2", seed, iter, n)
		}
		// A client that writes again with the context it was answered
		// with replaces what it saw, both duplicates included, when the
		// reply carried both; with one of them only, the other stays a
		// sibling: never a loss, at most one sibling more.
		next, err := final.Update(reply.Object.Context, dvv.Sibling{Value: []byte("next")}, dvv.Dot{Actor: 3, Counter: 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []dvv.Dot{dotA, dotB} {
			if reply.Object.Context.Covers(d) == holds(next, d, value) {
				t.Fatalf("seed %d iter %d: after a write with the reply's context %v, sibling %v held=%t", seed, iter, reply.Object.Context, d, holds(next, d, value))
			}
		}
	}
}

// dotOf returns the dot of obj's sibling holding value.
func dotOf(t *testing.T, obj dvv.Set, value []byte) dvv.Dot {
	t.Helper()
	for _, s := range obj.Siblings {
		if bytes.Equal(s.Value, value) {
			return s.Dot
		}
	}
	t.Fatalf("%v holds no sibling %q", obj, value)
	return dvv.Dot{}
}

// holds reports whether obj keeps value under dot d.
func holds(obj dvv.Set, d dvv.Dot, value []byte) bool {
	for _, s := range obj.Siblings {
		if s.Dot == d && bytes.Equal(s.Value, value) {
			return true
		}
	}
	return false
}

// TestPut_Pin_NeverHandsOver: a pinned (conditional) write stays with its
// first coordinating replica however late it is, and that replica keeps
// the request's deadline (CanHandOver is false).
func TestPut_Pin_NeverHandsOver(t *testing.T) {
	f := quorum.NewPut(quorum.Params{N: 3, W: 2}, abc)
	f.Pin()
	if got := f.Start().Coordinate; got == nil || got.Node != "a" {
		t.Fatalf("Start coordinates at %v, want a", got)
	}
	if f.CanHandOver() {
		t.Error("CanHandOver() = true for a pinned write")
	}
	if eff := f.CoordinatorLate("a"); eff.Coordinate != nil {
		t.Fatalf("CoordinatorLate(a) hands a pinned write to %s", eff.Coordinate.Node)
	}
	// Its refusal (a failed precondition) is then the definite answer.
	eff := f.Refused("a", fmt.Errorf("precondition failed"))
	if eff.Reply == nil || eff.Reply.Err == nil || eff.Reply.Err.Error() != "precondition failed" {
		t.Fatalf("Refused(a) = %+v, want the refusal as the answer", eff.Reply)
	}
}
