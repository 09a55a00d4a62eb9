package dvv

import (
	"fmt"
	"testing"
)

// benchSet builds a set with the given number of siblings from as many
// actors, each sibling holding a 1 KiB value.
func benchSet(siblings int) Set {
	var s Set
	value := make([]byte, 1024)
	for i := 0; i < siblings; i++ {
		var err error
		s, err = s.Update(nil, Sibling{Value: value}, Dot{Actor: Actor(i + 1), Counter: uint64(i + 1)}, 0)
		if err != nil {
			panic(err)
		}
	}
	return s
}

func BenchmarkSet_Update(b *testing.B) {
	for _, n := range []int{1, 3, 16} {
		b.Run(fmt.Sprintf("siblings=%d", n), func(b *testing.B) {
			s := benchSet(n)
			value := Sibling{Value: make([]byte, 1024)}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// Resolve all siblings with a fresh dot each time.
				if _, err := s.Update(s.Context, value, Dot{Actor: 1 << 40, Counter: uint64(i + 1)}, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMerge(b *testing.B) {
	for _, n := range []int{1, 3, 16} {
		b.Run(fmt.Sprintf("siblings=%d", n), func(b *testing.B) {
			x := benchSet(n)
			y, _ := x.Update(nil, Sibling{Value: []byte("y")}, Dot{Actor: 1 << 40, Counter: 1}, 0)
			b.ReportAllocs()
			for b.Loop() {
				_ = Merge(x, y)
			}
		})
	}
}
