package quorum_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
)

var abc = []quorum.Target{primary("a"), primary("b"), primary("c")}

// startPut builds a write and starts it, failing the test unless Start asked
// for the write to be coordinated.
func startPut(t *testing.T, p quorum.Params, targets []quorum.Target) *quorum.Put {
	t.Helper()
	f := quorum.NewPut(p, targets)
	eff := f.Start()
	if eff.Coordinate == nil || eff.Reply != nil {
		t.Fatalf("Start() = %+v, want a Coordinate and no Reply", eff)
	}
	return f
}

func isEmptyPut(eff quorum.PutEffects) bool {
	return eff.Coordinate == nil && len(eff.Replicate) == 0 && eff.Reply == nil && eff.Object.Equal(dvv.Set{})
}

func wantNoPutReply(t *testing.T, what string, eff quorum.PutEffects) {
	t.Helper()
	if eff.Reply != nil {
		t.Fatalf("%s replied %+v, want no reply yet", what, *eff.Reply)
	}
}

func wantPutSuccess(t *testing.T, what string, eff quorum.PutEffects, obj dvv.Set, acks int) {
	t.Helper()
	r := eff.Reply
	if r == nil {
		t.Fatalf("%s: no reply, want success", what)
	}
	if r.Err != nil {
		t.Fatalf("%s: reply error %v, want success", what, r.Err)
	}
	if !r.Object.Equal(obj) {
		t.Errorf("%s: reply object %v, want the coordinated %v", what, r.Object, obj)
	}
	if r.Acks != acks {
		t.Errorf("%s: reply Acks = %d, want %d", what, r.Acks, acks)
	}
}

func wantPutError(t *testing.T, what string, eff quorum.PutEffects, target error) *quorum.PutResult {
	t.Helper()
	r := eff.Reply
	if r == nil {
		t.Fatalf("%s: no reply, want %v", what, target)
	}
	if !errors.Is(r.Err, target) {
		t.Fatalf("%s: reply error %v, want %v", what, r.Err, target)
	}
	return r
}

func TestPut_StartUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		p       quorum.Params
		targets []quorum.Target
	}{
		{"no targets", quorum.Params{N: 3, W: 1}, nil},
		{"fewer targets than w", quorum.Params{N: 3, W: 3}, abc[:2]},
		{"fewer primaries than pw", quorum.Params{N: 3, W: 2, PW: 2}, []quorum.Target{primary("a"), fallback("b"), fallback("c")}},
		{"only fallbacks and pw one", quorum.Params{N: 3, W: 1, PW: 1}, []quorum.Target{fallback("d"), fallback("e")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := quorum.NewPut(tc.p, tc.targets)
			eff := f.Start()
			if eff.Coordinate != nil || len(eff.Replicate) != 0 {
				t.Errorf("Start() sends %+v / %v, want nothing sent", eff.Coordinate, eff.Replicate)
			}
			r := wantPutError(t, "Start", eff, quorum.ErrUnavailable)
			if errors.Is(r.Err, quorum.ErrIndeterminate) {
				t.Errorf("error %v is indeterminate, but nothing was sent", r.Err)
			}
			if r.Acks != 0 {
				t.Errorf("Acks = %d, want 0", r.Acks)
			}
			if !f.Done() {
				t.Error("Done() = false after the reply")
			}
			if eff := f.Timeout(); !isEmptyPut(eff) {
				t.Errorf("Timeout() after the reply = %+v, want nothing", eff)
			}
		})
	}
}

func TestPut_CoordinatorIsTheFirstPrimary(t *testing.T) {
	tests := []struct {
		name    string
		targets []quorum.Target
		want    quorum.Target
	}{
		{"the first owner", abc, primary("a")},
		{"the first owner alive", []quorum.Target{primary("b"), primary("c")}, primary("b")},
		// A fallback keeps hints, not replicas, so it never coordinates.
		{"a fallback first", []quorum.Target{fallback("d"), primary("b")}, primary("b")},
		{"a fallback last", []quorum.Target{primary("a"), primary("b"), fallback("d")}, primary("a")},
		// A primary rebuilding after a data loss coordinates only when no
		// other primary is there: it lacks what it has not received yet.
		{"a rebuilding primary first", []quorum.Target{rebuilding("a"), primary("b"), primary("c")}, primary("b")},
		{"only a rebuilding primary", []quorum.Target{fallback("d"), rebuilding("a")}, rebuilding("a")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := quorum.NewPut(quorum.Params{N: 3, W: 1}, tc.targets)
			eff := f.Start()
			if eff.Coordinate == nil {
				t.Fatalf("Start() = %+v, want a Coordinate", eff)
			}
			if *eff.Coordinate != tc.want {
				t.Errorf("Coordinate = %+v, want %+v", *eff.Coordinate, tc.want)
			}
			if eff.Reply != nil || len(eff.Replicate) != 0 {
				t.Errorf("Start() = %+v, want only a Coordinate", eff)
			}
			if f.Done() {
				t.Error("Done() = true before any answer")
			}
		})
	}
}

func TestPut_ReplicateToAllButCoordinator(t *testing.T) {
	h := newHistory(t)
	for i, targets := range [][]quorum.Target{
		{primary("a"), primary("b"), fallback("d"), primary("c")},
		{fallback("d"), primary("b"), primary("a"), primary("c")},
		{primary("c"), primary("a"), fallback("d"), primary("b")},
	} {
		t.Run(fmt.Sprint("order ", i), func(t *testing.T) {
			f := quorum.NewPut(quorum.Params{N: 3, W: 3}, targets)
			coord := *f.Start().Coordinate
			eff := f.Coordinated(coord.Node, h.v23)
			var want []quorum.Target
			for _, tg := range targets {
				if tg != coord {
					want = append(want, tg)
				}
			}
			if !slices.Equal(eff.Replicate, want) {
				t.Errorf("Replicate = %v, want %v (every target but %v)", eff.Replicate, want, coord)
			}
			if !eff.Object.Equal(h.v23) {
				t.Errorf("Object = %v, want the coordinated %v", eff.Object, h.v23)
			}
			if eff.Coordinate != nil {
				t.Errorf("Coordinated() asks to coordinate again: %+v", eff.Coordinate)
			}
			wantNoPutReply(t, "Coordinated with w=3", eff)
		})
	}
}

func TestPut_SingleTargetW1(t *testing.T) {
	h := newHistory(t)
	f := startPut(t, quorum.Params{N: 1, W: 1}, abc[:1])
	eff := f.Coordinated("a", h.v1)
	if len(eff.Replicate) != 0 {
		t.Errorf("Replicate = %v, want none with a single target", eff.Replicate)
	}
	wantPutSuccess(t, "Coordinated", eff, h.v1, 1)
}

func TestPut_ReplyAtW(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name string
		w    int
	}{{"w=1", 1}, {"w=2", 2}, {"w=3", 3}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startPut(t, quorum.Params{N: 3, W: tc.w}, abc)
			eff := f.Coordinated("a", h.v2)
			acks := 1
			for _, node := range []string{"b", "c"} {
				if acks == tc.w {
					break
				}
				wantNoPutReply(t, "before w acks", eff)
				if f.Done() {
					t.Fatalf("Done() = true with %d of w=%d acks", acks, tc.w)
				}
				eff = f.Acked(node)
				acks++
			}
			wantPutSuccess(t, "at w acks", eff, h.v2, tc.w)
			if !f.Done() {
				t.Error("Done() = false after the reply")
			}
		})
	}
}

func TestPut_ReplyOnce(t *testing.T) {
	h := newHistory(t)
	later := []struct {
		name string
		do   func(*quorum.Put) quorum.PutEffects
	}{
		{"Acked", func(f *quorum.Put) quorum.PutEffects { return f.Acked("c") }},
		{"Acked again", func(f *quorum.Put) quorum.PutEffects { return f.Acked("b") }},
		{"Acked unknown", func(f *quorum.Put) quorum.PutEffects { return f.Acked("z") }},
		{"Failed", func(f *quorum.Put) quorum.PutEffects { return f.Failed("c") }},
		{"Failed coordinator", func(f *quorum.Put) quorum.PutEffects { return f.Failed("a") }},
		{"Timeout", func(f *quorum.Put) quorum.PutEffects { return f.Timeout() }},
		{"Coordinated", func(f *quorum.Put) quorum.PutEffects { return f.Coordinated("a", h.v4) }},
		{"Refused", func(f *quorum.Put) quorum.PutEffects { return f.Refused("a", errors.New("late")) }},
	}
	replies := []struct {
		name string
		run  func(t *testing.T, f *quorum.Put)
	}{
		{"after success", func(t *testing.T, f *quorum.Put) {
			f.Coordinated("a", h.v1)
			wantPutSuccess(t, "Acked", f.Acked("b"), h.v1, 2)
		}},
		{"after indeterminate", func(t *testing.T, f *quorum.Put) {
			wantPutError(t, "Timeout", f.Timeout(), quorum.ErrIndeterminate)
		}},
		{"after refusal", func(t *testing.T, f *quorum.Put) {
			wantPutError(t, "Refused", f.Refused("a", dvv.ErrTooManySiblings), dvv.ErrTooManySiblings)
		}},
	}
	for _, rp := range replies {
		for _, l := range later {
			t.Run(rp.name+"/"+l.name, func(t *testing.T) {
				f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
				rp.run(t, f)
				if !f.Done() {
					t.Fatal("Done() = false after the reply")
				}
				if eff := l.do(f); !isEmptyPut(eff) {
					t.Errorf("%s after the reply = %+v, want nothing", l.name, eff)
				}
				if !f.Done() {
					t.Error("Done() = false after a later event")
				}
			})
		}
	}
}

func TestPut_Refused(t *testing.T) {
	refusal := errors.New("sibling limit")
	f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
	r := wantPutError(t, "Refused", f.Refused("a", refusal), refusal)
	if errors.Is(r.Err, quorum.ErrIndeterminate) || errors.Is(r.Err, quorum.ErrUnavailable) {
		t.Errorf("refusal reported as %v, want a definite error", r.Err)
	}
	if r.Acks != 0 {
		t.Errorf("Acks = %d, want 0", r.Acks)
	}
	if !f.Done() {
		t.Error("Done() = false after the refusal")
	}
}

func TestPut_CoordinatorFailed(t *testing.T) {
	for i, targets := range [][]quorum.Target{abc, {primary("b"), primary("c"), primary("a")}} {
		t.Run(fmt.Sprint("order ", i), func(t *testing.T) {
			f := quorum.NewPut(quorum.Params{N: 3, W: 1}, targets)
			coord := f.Start().Coordinate.Node
			r := wantPutError(t, "Failed(coordinator)", f.Failed(coord), quorum.ErrIndeterminate)
			if r.Acks != 0 {
				t.Errorf("Acks = %d, want 0", r.Acks)
			}
			if !f.Done() {
				t.Error("Done() = false after the reply")
			}
		})
	}
}

func TestPut_ReplicaFailures(t *testing.T) {
	h := newHistory(t)
	t.Run("w unreachable after coordination", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 3}, abc)
		wantNoPutReply(t, "Coordinated", f.Coordinated("a", h.v1))
		r := wantPutError(t, "Failed(b)", f.Failed("b"), quorum.ErrIndeterminate)
		if r.Acks != 1 {
			t.Errorf("Acks = %d, want 1 (the coordinator)", r.Acks)
		}
		if !r.Object.Equal(h.v1) {
			t.Errorf("Object = %v, want the coordinated %v", r.Object, h.v1)
		}
	})
	t.Run("w still reachable", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		f.Coordinated("a", h.v1)
		wantNoPutReply(t, "Failed(b)", f.Failed("b"))
		wantPutError(t, "Failed(c)", f.Failed("c"), quorum.ErrIndeterminate)
	})
	t.Run("w unreachable before coordination", func(t *testing.T) {
		// The write went to the coordinator, so even a failure before it
		// answered leaves the outcome unknown.
		f := startPut(t, quorum.Params{N: 3, W: 3}, abc)
		r := wantPutError(t, "Failed(c)", f.Failed("c"), quorum.ErrIndeterminate)
		if errors.Is(r.Err, quorum.ErrUnavailable) {
			t.Errorf("error %v claims unavailability after the write was sent", r.Err)
		}
	})
	t.Run("failure then ack of one node", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		f.Coordinated("a", h.v1)
		wantNoPutReply(t, "Failed(b)", f.Failed("b"))
		wantNoPutReply(t, "Acked(b) after Failed(b)", f.Acked("b"))
		wantPutSuccess(t, "Acked(c)", f.Acked("c"), h.v1, 2)
	})
	t.Run("ack then failure of one node", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 3}, abc)
		f.Coordinated("a", h.v1)
		wantNoPutReply(t, "Acked(b)", f.Acked("b"))
		wantNoPutReply(t, "Failed(b) after Acked(b)", f.Failed("b"))
		wantPutSuccess(t, "Acked(c)", f.Acked("c"), h.v1, 3)
	})
	t.Run("duplicate ack counts once", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 3}, abc)
		f.Coordinated("a", h.v1)
		wantNoPutReply(t, "Acked(b)", f.Acked("b"))
		wantNoPutReply(t, "Acked(b) again", f.Acked("b"))
		wantPutSuccess(t, "Acked(c)", f.Acked("c"), h.v1, 3)
	})
	t.Run("coordinator failure after coordination is ignored", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		f.Coordinated("a", h.v1)
		wantNoPutReply(t, "Failed(a)", f.Failed("a"))
		wantPutSuccess(t, "Acked(b)", f.Acked("b"), h.v1, 2)
	})
}

func TestPut_PrimaryWrites(t *testing.T) {
	h := newHistory(t)
	mixed := []quorum.Target{primary("a"), primary("b"), fallback("d"), fallback("e")}
	t.Run("fallback acks do not satisfy pw", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2, PW: 2}, mixed)
		wantNoPutReply(t, "Coordinated", f.Coordinated("a", h.v1))
		wantNoPutReply(t, "Acked(d)", f.Acked("d"))
		wantNoPutReply(t, "Acked(e)", f.Acked("e"))
		wantPutSuccess(t, "Acked(b)", f.Acked("b"), h.v1, 4)
	})
	t.Run("a fallback's ack counts toward w but not pw", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2, PW: 2}, mixed)
		wantNoPutReply(t, "Coordinated at a", f.Coordinated("a", h.v1))
		wantNoPutReply(t, "Acked(e)", f.Acked("e"))
		wantPutSuccess(t, "Acked(b)", f.Acked("b"), h.v1, 3)
	})
	t.Run("only fallbacks reachable: nothing to coordinate", func(t *testing.T) {
		f := quorum.NewPut(quorum.Params{N: 3, W: 1}, []quorum.Target{fallback("d"), fallback("e")})
		eff := f.Start()
		if eff.Reply == nil || !errors.Is(eff.Reply.Err, quorum.ErrUnavailable) || eff.Coordinate != nil {
			t.Fatalf("Start() = %+v, want ErrUnavailable and nothing sent", eff)
		}
	})
	t.Run("pw zero lets fallbacks complete w", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, mixed)
		f.Coordinated("a", h.v1)
		wantPutSuccess(t, "Acked(d)", f.Acked("d"), h.v1, 2)
	})
	t.Run("pw unreachable", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2, PW: 2}, mixed)
		f.Coordinated("a", h.v1)
		wantNoPutReply(t, "Acked(d)", f.Acked("d"))
		wantPutError(t, "Failed(b)", f.Failed("b"), quorum.ErrIndeterminate)
	})
	t.Run("fallback failure leaves pw reachable", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2, PW: 2}, mixed)
		f.Coordinated("a", h.v1)
		wantNoPutReply(t, "Failed(d)", f.Failed("d"))
		wantNoPutReply(t, "Failed(e)", f.Failed("e"))
		wantPutSuccess(t, "Acked(b)", f.Acked("b"), h.v1, 2)
	})
}

func TestPut_Timeout(t *testing.T) {
	h := newHistory(t)
	t.Run("before start", func(t *testing.T) {
		f := quorum.NewPut(quorum.Params{N: 3, W: 2}, abc)
		r := wantPutError(t, "Timeout", f.Timeout(), quorum.ErrUnavailable)
		if errors.Is(r.Err, quorum.ErrIndeterminate) {
			t.Errorf("error %v is indeterminate, but nothing was sent", r.Err)
		}
	})
	t.Run("before coordination", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		r := wantPutError(t, "Timeout", f.Timeout(), quorum.ErrIndeterminate)
		if r.Acks != 0 {
			t.Errorf("Acks = %d, want 0", r.Acks)
		}
		if !f.Done() {
			t.Error("Done() = false after the reply")
		}
	})
	t.Run("short of w", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 3}, abc)
		f.Coordinated("a", h.v3)
		f.Acked("b")
		r := wantPutError(t, "Timeout", f.Timeout(), quorum.ErrIndeterminate)
		if r.Acks != 2 {
			t.Errorf("Acks = %d, want 2", r.Acks)
		}
		if !r.Object.Equal(h.v3) {
			t.Errorf("Object = %v, want the coordinated %v", r.Object, h.v3)
		}
	})
}

func TestPut_OneMachineCountsOnce(t *testing.T) {
	// "a" listed as a primary and again as a fallback is one machine: w=3
	// cannot be met by two machines, so the write is refused up front.
	targets := []quorum.Target{primary("a"), primary("b"), fallback("a")}
	f := quorum.NewPut(quorum.Params{N: 3, W: 3}, targets)
	eff := f.Start()
	if eff.Reply == nil || !errors.Is(eff.Reply.Err, quorum.ErrUnavailable) || eff.Coordinate != nil {
		t.Fatalf("Start() = %+v, want ErrUnavailable and nothing sent", eff)
	}
}

func TestPut_IgnoresAcksThatCannotBeOfThisWrite(t *testing.T) {
	f := startPut(t, quorum.Params{N: 3, W: 1}, []quorum.Target{primary("a"), primary("b"), primary("c")})
	if eff := f.Acked("b"); eff.Reply != nil {
		t.Fatalf("an ack before the coordinated object answered the client: %+v", *eff.Reply)
	}
	h := newHistory(t)
	f.Coordinated("a", h.v1)
	f2 := startPut(t, quorum.Params{N: 3, W: 2}, []quorum.Target{primary("a"), primary("b"), primary("c")})
	f2.Coordinated("a", h.v1)
	if eff := f2.Acked("zz"); eff.Reply != nil {
		t.Fatalf("an ack from a non-target met the quorum: %+v", *eff.Reply)
	}
}

// TestPut_Minted covers the coordinator's early answer: the object goes to
// the other replicas before the coordinator's own write is durable, and
// that write then counts like any replica's.
func TestPut_Minted(t *testing.T) {
	h := newHistory(t)
	t.Run("replicates at once, without counting the coordinator", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		eff := f.Minted("a", h.v1)
		if got := nodes(eff.Replicate); !slices.Equal(got, []string{"b", "c"}) || !eff.Object.Equal(h.v1) {
			t.Fatalf("Minted: Replicate %v of %v, want [b c] of %v", got, eff.Object, h.v1)
		}
		wantNoPutReply(t, "Minted", eff)
		wantNoPutReply(t, "Acked(b)", f.Acked("b"))
		eff = f.Coordinated("a", h.v1)
		if len(eff.Replicate) != 0 {
			t.Errorf("Coordinated after Minted replicates again: %v", eff.Replicate)
		}
		wantPutSuccess(t, "Coordinated after Minted", eff, h.v1, 2)
	})
	t.Run("the others reach w before the coordinator is durable", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		f.Minted("a", h.v1)
		wantNoPutReply(t, "Acked(b)", f.Acked("b"))
		wantPutSuccess(t, "Acked(c)", f.Acked("c"), h.v1, 2)
	})
	t.Run("a coordinator failing after it minted is one replica's failure", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		f.Minted("a", h.v1)
		wantNoPutReply(t, "Failed(a)", f.Failed("a"))
		wantNoPutReply(t, "Coordinated after Failed(a)", f.Coordinated("a", h.v1))
		wantNoPutReply(t, "Acked(b)", f.Acked("b"))
		wantPutSuccess(t, "Acked(c)", f.Acked("c"), h.v1, 2)
	})
	t.Run("and fails the write when w is out of reach", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 3}, abc)
		f.Minted("a", h.v1)
		r := wantPutError(t, "Failed(a) at w=3", f.Failed("a"), quorum.ErrIndeterminate)
		if !r.Object.Equal(h.v1) {
			t.Errorf("indeterminate reply carries %v, want the minted %v", r.Object, h.v1)
		}
	})
	t.Run("the coordinator's own ack counts only through Coordinated", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 1}, abc)
		f.Minted("a", h.v1)
		wantNoPutReply(t, "Acked(a)", f.Acked("a"))
		wantPutSuccess(t, "Coordinated", f.Coordinated("a", h.v1), h.v1, 1)
	})
	t.Run("a second Minted is ignored", func(t *testing.T) {
		f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
		f.Minted("a", h.v1)
		if eff := f.Minted("a", h.v2); !isEmptyPut(eff) {
			t.Errorf("second Minted: %+v, want nothing", eff)
		}
	})
}

// TestPut_RefusedAfterMinted: a refusal is definite only while nothing was
// sent; once the object went to the others it is the coordinator's failure.
func TestPut_RefusedAfterMinted(t *testing.T) {
	h := newHistory(t)
	f := startPut(t, quorum.Params{N: 3, W: 2}, abc)
	f.Minted("a", h.v1)
	wantNoPutReply(t, "Refused after Minted", f.Refused("a", dvv.ErrTooManySiblings))
	wantNoPutReply(t, "Acked(b)", f.Acked("b"))
	wantPutSuccess(t, "Acked(c)", f.Acked("c"), h.v1, 2)
}

// A rebuilding primary's ack counts toward W and PW: it stores the write
// in its own slot, as any replica does.
func TestPut_RebuildingPrimaryCountsTowardW(t *testing.T) {
	h := newHistory(t)
	targets := []quorum.Target{primary("b"), rebuilding("a"), primary("c")}
	f := startPut(t, quorum.Params{N: 3, W: 3, PW: 3}, targets)
	eff := f.Coordinated("b", h.v2)
	eff = f.Acked("a")
	wantNoPutReply(t, "two of w=3", eff)
	eff = f.Acked("c")
	wantPutSuccess(t, "three of w=3", eff, h.v2, 3)
}
