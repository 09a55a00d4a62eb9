package dvv

import (
	"slices"
	"testing"
)

func TestVersionVector_Bounded(t *testing.T) {
	stored := NewVersionVector(Dot{Actor: 1, Counter: 5}, Dot{Actor: 2, Counter: 3})
	small := NewVersionVector(Dot{Actor: 1, Counter: 4}, Dot{Actor: 9, Counter: 1})
	if got := small.Bounded(stored, 4); !slices.Equal(got, small) {
		t.Errorf("within the limit: Bounded = %v, want the context whole %v", got, small)
	}
	var invented []Dot
	for a := Actor(100); a < 1100; a++ {
		invented = append(invented, Dot{Actor: a, Counter: 1})
	}
	forged := NewVersionVector(append(invented, Dot{Actor: 2, Counter: 3})...)
	got := forged.Bounded(stored, MaxContextEntries)
	if want := NewVersionVector(Dot{Actor: 2, Counter: 3}); !slices.Equal(got, want) {
		t.Errorf("past the limit: Bounded = %v, want only the known actors %v", got, want)
	}
	// However many invented contexts arrive, the stored context stays
	// within the limit plus the actors that really coordinate.
	s := stored
	for w := range 64 {
		var c []Dot
		for i := range 1000 {
			c = append(c, Dot{Actor: Actor(10_000 + w*1000 + i), Counter: 1})
		}
		s = s.Merge(NewVersionVector(c...).Bounded(s, MaxContextEntries)).With(Dot{Actor: 1, Counter: uint64(6 + w)})
	}
	if len(s) > MaxContextEntries {
		t.Errorf("after 64 forged writes the stored context has %d entries, want at most %d", len(s), MaxContextEntries)
	}
}
