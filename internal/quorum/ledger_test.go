package quorum_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dhtkv/dht/internal/quorum"
)

func TestKind_Rules(t *testing.T) {
	tests := []struct {
		kind          quorum.Kind
		name          string
		awaited, hint bool
	}{
		{quorum.KindCoordinate, "coordinate", true, false},
		{quorum.KindReplicate, "replicate", true, true},
		{quorum.KindHint, "hint", true, false},
		{quorum.KindPending, "pending", true, true},
		{quorum.KindRead, "read", true, false},
		{quorum.KindRepair, "repair", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.kind.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			if got := tt.kind.AwaitsAnswer(); got != tt.awaited {
				t.Errorf("AwaitsAnswer() = %t, want %t", got, tt.awaited)
			}
			if got := tt.kind.HintedWhenLate(); got != tt.hint {
				t.Errorf("HintedWhenLate() = %t, want %t", got, tt.hint)
			}
		})
	}
}

func TestLedger_Behavior(t *testing.T) {
	t.Run("ids are distinct and answers are taken once", func(t *testing.T) {
		var l quorum.Ledger
		a, _ := l.Send("a", quorum.KindRead)
		b, _ := l.Send("b", quorum.KindRead)
		if a == b || a == 0 || b == 0 {
			t.Fatalf("ids %d and %d, want distinct and non-zero", a, b)
		}
		if o, ok := l.Answer(b); !ok || o != (quorum.Outstanding{Node: "b", Kind: quorum.KindRead}) {
			t.Fatalf("Answer(%d) = %+v, %t", b, o, ok)
		}
		if _, ok := l.Answer(b); ok {
			t.Fatal("an answer was taken twice")
		}
		if l.Awaiting() != 1 {
			t.Fatalf("awaiting %d, want 1", l.Awaiting())
		}
	})
	t.Run("ids carry the ledger's base, so ledgers sharing an actor never collide", func(t *testing.T) {
		a := quorum.Ledger{Base: 7 << quorum.MessageBits}
		b := quorum.Ledger{Base: 8 << quorum.MessageBits}
		seen := map[uint64]string{}
		for i := range 100 {
			for name, l := range map[string]*quorum.Ledger{"a": &a, "b": &b} {
				id, _ := l.Send(fmt.Sprint(i), quorum.KindRead)
				if other, dup := seen[id]; dup {
					t.Fatalf("id %d sent by ledger %s and %s", id, other, name)
				}
				seen[id] = name
				if want := l.Base >> quorum.MessageBits; id>>quorum.MessageBits != want {
					t.Fatalf("id %d of ledger %s names request %d, want %d", id, name, id>>quorum.MessageBits, want)
				}
				if _, ok := l.Answer(id); !ok {
					t.Fatalf("ledger %s does not await its own id %d", name, id)
				}
			}
		}
	})
	t.Run("a repair is not awaited", func(t *testing.T) {
		var l quorum.Ledger
		id, awaited := l.Send("c", quorum.KindRepair)
		if awaited || l.Awaiting() != 0 {
			t.Fatalf("repair awaited=%t awaiting=%d", awaited, l.Awaiting())
		}
		if _, ok := l.Answer(id); ok {
			t.Fatal("a repair's answer was taken")
		}
	})
	t.Run("late lists unanswered replicate and pending once each in send order", func(t *testing.T) {
		var l quorum.Ledger
		coord, _ := l.Send("a", quorum.KindCoordinate)
		l.Send("p", quorum.KindPending)
		l.Send("d", quorum.KindHint)
		l.Send("b", quorum.KindReplicate)
		o, _ := l.Answer(coord)
		l.AwaitAgain(coord, o)
		l.AwaitAgain(coord, o)
		if got, want := l.Late(), []string{"p", "b"}; !slices.Equal(got, want) {
			t.Fatalf("Late() = %q, want %q", got, want)
		}
		l.GiveUp()
		if l.Awaiting() != 0 || len(l.Late()) != 0 {
			t.Fatalf("after GiveUp: awaiting %d, late %q", l.Awaiting(), l.Late())
		}
	})
}

func TestReadTargets_Table(t *testing.T) {
	// Neither a fallback (it keeps hints) nor a primary rebuilding after a
	// data loss (its answers are not the key's state) is read from.
	in := []quorum.Target{{Node: "a", Primary: true}, {Node: "d", HintFor: "b"}, {Node: "c", Primary: true},
		{Node: "e", Primary: true, WriteOnly: true}}
	if got := quorum.ReadTargets(in); !slices.Equal(got, []quorum.Target{in[0], in[2]}) {
		t.Fatalf("ReadTargets = %+v", got)
	}
	if got := quorum.ReadTargets(nil); got != nil {
		t.Fatalf("ReadTargets(nil) = %+v, want nil", got)
	}
}
