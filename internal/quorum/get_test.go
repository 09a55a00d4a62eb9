package quorum_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
)

func startGet(t *testing.T, p quorum.Params, targets []quorum.Target) *quorum.Get {
	t.Helper()
	f := quorum.NewGet(p, targets)
	eff := f.Start()
	if eff.Reply != nil || eff.Done {
		t.Fatalf("Start() = %+v, want no reply", eff)
	}
	if !slices.Equal(eff.Ask, targets) {
		t.Fatalf("Ask = %v, want every target %v", eff.Ask, targets)
	}
	return f
}

func isEmptyGet(eff quorum.GetEffects) bool {
	return len(eff.Ask) == 0 && eff.Reply == nil && len(eff.Repair) == 0 && eff.Merged.Equal(dvv.Set{}) && !eff.Done
}

func wantNoGetReply(t *testing.T, what string, eff quorum.GetEffects) {
	t.Helper()
	if eff.Reply != nil {
		t.Fatalf("%s replied %+v, want no reply yet", what, *eff.Reply)
	}
}

func wantGetSuccess(t *testing.T, what string, eff quorum.GetEffects, obj dvv.Set) {
	t.Helper()
	r := eff.Reply
	if r == nil {
		t.Fatalf("%s: no reply, want success", what)
	}
	if r.Err != nil {
		t.Fatalf("%s: reply error %v, want success", what, r.Err)
	}
	if !r.Object.Equal(obj) {
		t.Errorf("%s: reply object %v, want %v", what, r.Object, obj)
	}
}

func wantGetError(t *testing.T, what string, eff quorum.GetEffects, target error) {
	t.Helper()
	r := eff.Reply
	if r == nil {
		t.Fatalf("%s: no reply, want %v", what, target)
	}
	if !errors.Is(r.Err, target) {
		t.Fatalf("%s: reply error %v, want %v", what, r.Err, target)
	}
}

func mergeAll(sets ...dvv.Set) dvv.Set {
	var out dvv.Set
	for _, s := range sets {
		out = dvv.Merge(out, s)
	}
	return out
}

func TestGet_StartUnavailable(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name    string
		p       quorum.Params
		targets []quorum.Target
	}{
		{"no targets", quorum.Params{N: 3, R: 1}, nil},
		{"fewer targets than r", quorum.Params{N: 3, R: 3}, abc[:2]},
		{"fewer primaries than pr", quorum.Params{N: 3, R: 2, PR: 2}, []quorum.Target{primary("a"), fallback("d"), fallback("e")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := quorum.NewGet(tc.p, tc.targets)
			eff := f.Start()
			if len(eff.Ask) != 0 {
				t.Errorf("Ask = %v, want nothing asked", eff.Ask)
			}
			wantGetError(t, "Start", eff, quorum.ErrUnavailable)
			if !eff.Done || !f.Done() {
				t.Errorf("Done = %v, Done() = %v, want both true", eff.Done, f.Done())
			}
			for name, eff := range map[string]quorum.GetEffects{
				"Answered": f.Answered("a", h.v1),
				"Failed":   f.Failed("a"),
				"Timeout":  f.Timeout(),
			} {
				if !isEmptyGet(eff) {
					t.Errorf("%s after Start gave up = %+v, want nothing", name, eff)
				}
			}
		})
	}
}

func TestGet_ReplyAtR(t *testing.T) {
	h := newHistory(t)
	answers := []dvv.Set{h.v1, h.v2, h.v3}
	for r := 1; r <= 3; r++ {
		t.Run(fmt.Sprintf("r=%d", r), func(t *testing.T) {
			f := startGet(t, quorum.Params{N: 3, R: r}, abc)
			for i, tg := range abc[:r-1] {
				eff := f.Answered(tg.Node, answers[i])
				wantNoGetReply(t, fmt.Sprintf("answer %d of r=%d", i+1, r), eff)
				if eff.Done || f.Done() {
					t.Fatalf("done after %d of 3 answers", i+1)
				}
			}
			eff := f.Answered(abc[r-1].Node, answers[r-1])
			wantGetSuccess(t, "r-th answer", eff, mergeAll(answers[:r]...))
			for i := r; i < 3; i++ {
				if eff := f.Answered(abc[i].Node, answers[i]); eff.Reply != nil {
					t.Errorf("answer %d after the reply replied again: %+v", i+1, *eff.Reply)
				}
			}
			if !f.Done() {
				t.Error("Done() = false after every target answered")
			}
		})
	}
}

func TestGet_PrimaryReads(t *testing.T) {
	h := newHistory(t)
	mixed := []quorum.Target{primary("a"), primary("b"), fallback("d")}
	t.Run("fallback answers do not satisfy pr", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 2, PR: 2}, mixed)
		wantNoGetReply(t, "Answered(d)", f.Answered("d", h.v3))
		wantNoGetReply(t, "Answered(a)", f.Answered("a", h.v1))
		wantGetSuccess(t, "Answered(b)", f.Answered("b", h.v2), h.v23)
	})
	t.Run("pr below r", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 2, PR: 1}, mixed)
		wantNoGetReply(t, "Answered(d)", f.Answered("d", h.v3))
		wantGetSuccess(t, "Answered(b)", f.Answered("b", h.v2), h.v23)
	})
	t.Run("pr zero counts fallbacks", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 1}, mixed)
		wantGetSuccess(t, "Answered(d)", f.Answered("d", h.v3), h.v3)
	})
	t.Run("pr unreachable", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 2, PR: 2}, mixed)
		wantNoGetReply(t, "Answered(d)", f.Answered("d", h.v3))
		wantGetError(t, "Failed(a)", f.Failed("a"), quorum.ErrUnavailable)
	})
	t.Run("fallback failure leaves pr reachable", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 2, PR: 2}, mixed)
		wantNoGetReply(t, "Failed(d)", f.Failed("d"))
		wantNoGetReply(t, "Answered(a)", f.Answered("a", h.v1))
		wantGetSuccess(t, "Answered(b)", f.Answered("b", h.v1), h.v1)
	})
}

func TestGet_DuplicateAnswer(t *testing.T) {
	h := newHistory(t)
	f := startGet(t, quorum.Params{N: 3, R: 2}, abc)
	wantNoGetReply(t, "Answered(a)", f.Answered("a", h.v1))
	if eff := f.Answered("a", h.v4); !isEmptyGet(eff) {
		t.Errorf("second Answered(a) = %+v, want nothing", eff)
	}
	// The second answer from a neither counted nor merged.
	wantGetSuccess(t, "Answered(b)", f.Answered("b", h.v1), h.v1)
	eff := f.Answered("c", h.v1)
	if !eff.Done || len(eff.Repair) != 0 {
		t.Errorf("last answer = %+v, want done with no repair", eff)
	}
}

func TestGet_Failures(t *testing.T) {
	h := newHistory(t)
	t.Run("r unreachable at once", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 3}, abc)
		eff := f.Failed("b")
		wantGetError(t, "Failed(b)", eff, quorum.ErrUnavailable)
		if eff.Done || f.Done() {
			t.Error("done before the other targets answered")
		}
	})
	t.Run("r unreachable after answers", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 2}, abc)
		wantNoGetReply(t, "Answered(a)", f.Answered("a", h.v1))
		wantNoGetReply(t, "Failed(b)", f.Failed("b"))
		eff := f.Failed("c")
		wantGetError(t, "Failed(c)", eff, quorum.ErrUnavailable)
		if !eff.Done || !f.Done() {
			t.Error("not done after every target answered or failed")
		}
		if len(eff.Repair) != 0 {
			t.Errorf("Repair = %v, want none: failed replicas are not repaired", eff.Repair)
		}
	})
	t.Run("failure after answer is ignored", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 3}, abc)
		f.Answered("a", h.v1)
		wantNoGetReply(t, "Failed(a)", f.Failed("a"))
		f.Answered("b", h.v1)
		wantGetSuccess(t, "Answered(c)", f.Answered("c", h.v1), h.v1)
	})
	t.Run("answer after failure is ignored", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 1}, abc)
		wantNoGetReply(t, "Failed(a)", f.Failed("a"))
		if eff := f.Answered("a", h.v4); !isEmptyGet(eff) {
			t.Errorf("Answered(a) after Failed(a) = %+v, want nothing", eff)
		}
		wantGetSuccess(t, "Answered(b)", f.Answered("b", h.v1), h.v1)
		eff := f.Answered("c", h.v1)
		if !eff.Done || len(eff.Repair) != 0 {
			t.Errorf("last answer = %+v, want done with no repair (a's late v4 is not merged)", eff)
		}
	})
	t.Run("answers after an error reply still repair", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 3}, abc)
		wantGetError(t, "Failed(c)", f.Failed("c"), quorum.ErrUnavailable)
		wantNoGetReply(t, "Answered(a)", f.Answered("a", h.v1))
		eff := f.Answered("b", h.v2)
		wantNoGetReply(t, "Answered(b)", eff)
		if !eff.Done {
			t.Fatal("not done after every target answered or failed")
		}
		if want := abc[:1]; !slices.Equal(eff.Repair, want) {
			t.Errorf("Repair = %v, want %v", eff.Repair, want)
		}
		if !eff.Merged.Equal(h.v2) {
			t.Errorf("Merged = %v, want %v", eff.Merged, h.v2)
		}
	})
}

func TestGet_Timeout(t *testing.T) {
	h := newHistory(t)
	t.Run("before any answer", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 2}, abc)
		eff := f.Timeout()
		wantGetError(t, "Timeout", eff, quorum.ErrTimeout)
		if !eff.Done || !f.Done() {
			t.Error("not done after Timeout")
		}
		if len(eff.Repair) != 0 {
			t.Errorf("Repair = %v, want none", eff.Repair)
		}
	})
	t.Run("short of r", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 3}, abc)
		f.Answered("a", h.v1)
		f.Answered("b", h.v2)
		eff := f.Timeout()
		wantGetError(t, "Timeout", eff, quorum.ErrTimeout)
		if want := abc[:1]; !slices.Equal(eff.Repair, want) {
			t.Errorf("Repair = %v, want %v", eff.Repair, want)
		}
		if !eff.Merged.Equal(h.v2) {
			t.Errorf("Merged = %v, want %v", eff.Merged, h.v2)
		}
	})
	t.Run("after the reply", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 1}, abc)
		wantGetSuccess(t, "Answered(a)", f.Answered("a", h.v1), h.v1)
		f.Answered("b", h.v4)
		eff := f.Timeout()
		if eff.Reply != nil {
			t.Errorf("Timeout after the reply replied again: %+v", *eff.Reply)
		}
		if !eff.Done || !f.Done() {
			t.Error("not done after Timeout")
		}
		if want := abc[:1]; !slices.Equal(eff.Repair, want) {
			t.Errorf("Repair = %v, want %v", eff.Repair, want)
		}
		if !eff.Merged.Equal(h.v4) {
			t.Errorf("Merged = %v, want %v", eff.Merged, h.v4)
		}
		// The straggler's answer arrives too late to matter.
		if eff := f.Answered("c", h.empty); !isEmptyGet(eff) {
			t.Errorf("Answered after Timeout = %+v, want nothing", eff)
		}
		if eff := f.Timeout(); !isEmptyGet(eff) {
			t.Errorf("second Timeout = %+v, want nothing", eff)
		}
	})
	t.Run("error reply then timeout", func(t *testing.T) {
		f := startGet(t, quorum.Params{N: 3, R: 3}, abc)
		wantGetError(t, "Failed(a)", f.Failed("a"), quorum.ErrUnavailable)
		eff := f.Timeout()
		if eff.Reply != nil {
			t.Errorf("Timeout after the reply replied again: %+v", *eff.Reply)
		}
		if !eff.Done {
			t.Error("not done after Timeout")
		}
	})
}

func TestGet_Repair(t *testing.T) {
	h := newHistory(t)
	targets := []quorum.Target{primary("a"), primary("b"), primary("c"), fallback("d")}
	tests := []struct {
		name    string
		answers []dvv.Set // per target; nil entries below mark failures
		failed  []bool
		want    []string
		merged  dvv.Set
	}{
		{"all agree", []dvv.Set{h.v2, h.v2, h.v2, h.v2}, nil, nil, dvv.Set{}},
		{"all empty", []dvv.Set{h.empty, h.empty, h.empty, h.empty}, nil, nil, dvv.Set{}},
		{"one stale", []dvv.Set{h.v2, h.v1, h.v2, h.v2}, nil, []string{"b"}, h.v2},
		{"one missing", []dvv.Set{h.v4, h.v4, h.empty, h.v4}, nil, []string{"c"}, h.v4},
		{"concurrent versions repair everyone", []dvv.Set{h.v2, h.v3, h.v2, h.v3}, nil, []string{"a", "b", "c", "d"}, h.v23},
		{"merge already held by one", []dvv.Set{h.v2, h.v3, h.v23, h.empty}, nil, []string{"a", "b", "d"}, h.v23},
		{"newest wins over all", []dvv.Set{h.v1, h.v4, h.v23, h.empty}, nil, []string{"a", "c", "d"}, h.v4},
		{"failed replicas are not repaired", []dvv.Set{h.v4, {}, h.v1, {}}, []bool{false, true, false, true}, []string{"c"}, h.v4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startGet(t, quorum.Params{N: 3, R: 2}, targets)
			var last quorum.GetEffects
			for i, tg := range targets {
				if i > 0 && (last.Done || len(last.Repair) > 0) {
					t.Fatalf("event %d: done or repaired before every target answered: %+v", i, last)
				}
				if tc.failed != nil && tc.failed[i] {
					last = f.Failed(tg.Node)
				} else {
					last = f.Answered(tg.Node, tc.answers[i])
				}
			}
			if !last.Done || !f.Done() {
				t.Fatal("not done after every target answered or failed")
			}
			if got := nodes(last.Repair); !slices.Equal(got, tc.want) {
				t.Errorf("Repair = %v, want %v", got, tc.want)
			}
			if !last.Merged.Equal(tc.merged) {
				t.Errorf("Merged = %v, want %v", last.Merged, tc.merged)
			}
			if len(tc.want) > 0 && last.Merged.IsEmpty() {
				t.Error("Merged is empty although replicas need repair")
			}
			if eff := f.Timeout(); !isEmptyGet(eff) {
				t.Errorf("Timeout after done = %+v, want nothing", eff)
			}
		})
	}
}

func TestGet_ReplyObjectIsMergeSoFar(t *testing.T) {
	h := newHistory(t)
	f := startGet(t, quorum.Params{N: 3, R: 2}, abc)
	f.Answered("a", h.v2)
	eff := f.Answered("b", h.v3)
	wantGetSuccess(t, "Answered(b)", eff, h.v23)
	obj := eff.Reply.Object
	last := f.Answered("c", h.v4)
	if !obj.Equal(h.v23) {
		t.Errorf("reply object changed to %v after a later answer", obj)
	}
	if got := nodes(last.Repair); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Repair = %v, want [a b]", got)
	}
	if !last.Merged.Equal(h.v4) {
		t.Errorf("Merged = %v, want %v", last.Merged, h.v4)
	}
}

func TestGet_OneMachineCountsOnce(t *testing.T) {
	h := newHistory(t)
	f := quorum.NewGet(quorum.Params{N: 3, R: 2}, []quorum.Target{primary("a"), primary("b"), fallback("a")})
	if eff := f.Start(); len(eff.Ask) != 2 {
		t.Fatalf("Ask = %v, want each machine once", eff.Ask)
	}
	if eff := f.Answered("a", h.v1); eff.Reply != nil && eff.Reply.Err == nil {
		t.Fatalf("r=2 met by one machine: %+v", *eff.Reply)
	}
}

func TestGet_DoneWithDuplicateTarget(t *testing.T) {
	h := newHistory(t)
	f := quorum.NewGet(quorum.Params{N: 3, R: 1}, []quorum.Target{primary("a"), primary("b"), fallback("a")})
	f.Start()
	f.Answered("a", h.v1)
	if eff := f.Answered("b", h.v2); !eff.Done {
		t.Fatalf("every machine answered but not done: %+v", eff)
	}
}

func TestGet_IgnoresNonTargets(t *testing.T) {
	h := newHistory(t)
	f := startGet(t, quorum.Params{N: 3, R: 1}, []quorum.Target{primary("a"), primary("b"), primary("c")})
	f.Answered("a", h.v1)
	f.Answered("b", h.v1)
	if eff := f.Answered("zz", h.v4); eff.Done || len(eff.Repair) > 0 {
		t.Fatalf("an answer from a non-target finished the read: %+v", eff)
	}
}

// TestBlindDelete decides a delete sent without a context from the read
// made first: the read's context when it found a live value; nothing to
// delete when it found none or only tombstones; the read's error as is.
func TestBlindDelete(t *testing.T) {
	live := dvv.Set{}
	live, _ = live.Update(nil, dvv.Sibling{Value: []byte("v")}, dvv.Dot{Actor: 1, Counter: 1}, 0)
	deleted, _ := live.Update(live.Context, dvv.Sibling{Tombstone: true}, dvv.Dot{Actor: 1, Counter: 2}, 0)
	now := time.UnixMilli(1000)
	perishable := dvv.Set{}
	perishable, _ = perishable.Update(nil, dvv.Sibling{Value: []byte("v"), ExpiresAt: 2000}, dvv.Dot{Actor: 1, Counter: 1}, 0)
	expired := dvv.Set{}
	expired, _ = expired.Update(nil, dvv.Sibling{Value: []byte("v"), ExpiresAt: 1000}, dvv.Dot{Actor: 1, Counter: 1}, 0)
	tests := []struct {
		name      string
		read      quorum.GetResult
		wantCtx   dvv.VersionVector
		wantFound bool
		wantErr   error
	}{
		{name: "live value", read: quorum.GetResult{Object: live}, wantCtx: live.Context, wantFound: true},
		{name: "never written", read: quorum.GetResult{}},
		{name: "only tombstones", read: quorum.GetResult{Object: deleted}},
		{name: "a value not yet expired", read: quorum.GetResult{Object: perishable}, wantCtx: perishable.Context, wantFound: true},
		{name: "only expired values", read: quorum.GetResult{Object: expired}},
		{name: "read failed", read: quorum.GetResult{Err: quorum.ErrTimeout}, wantErr: quorum.ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, found, err := quorum.BlindDelete(tc.read, now)
			if !errors.Is(err, tc.wantErr) || found != tc.wantFound || !slices.Equal(ctx, tc.wantCtx) {
				t.Errorf("BlindDelete = %v, %v, %v; want %v, %v, %v", ctx, found, err, tc.wantCtx, tc.wantFound, tc.wantErr)
			}
		})
	}
}
