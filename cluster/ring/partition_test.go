package ring

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/big"
	"testing"
)

func TestValidatePartitions(t *testing.T) {
	for _, tt := range []struct {
		q    int
		okay bool
	}{{8, true}, {256, true}, {65536, true}, {4, false}, {100, false}, {1 << 17, false}, {0, false}, {-8, false}} {
		if err := ValidatePartitions(tt.q); (err == nil) != tt.okay {
			t.Errorf("ValidatePartitions(%d) = %v, want ok=%v", tt.q, err, tt.okay)
		}
	}
}

// TestPartitionOf_MatchesRingArcs checks the partition against the
// definition: the arc of the 128-bit ring that holds the key's MD5, computed
// with big integers.
func TestPartitionOf_MatchesRingArcs(t *testing.T) {
	ringSize := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, q := range []int{8, 256, 1024, 65536} {
		arc := new(big.Int).Div(ringSize, big.NewInt(int64(q)))
		for i := 0; i < 2000; i++ {
			key := []byte(fmt.Sprintf("key-%d", i))
			h := md5.Sum(key)
			want := new(big.Int).Div(new(big.Int).SetBytes(h[:]), arc).Int64()
			if got := PartitionOf(key, q); int64(got) != want {
				t.Fatalf("PartitionOf(%q, %d) = %d, want %d", key, q, got, want)
			}
		}
	}
}

func TestPartitionOf_Spread(t *testing.T) {
	const q, keys = 256, 256 * 200
	counts := make([]int, q)
	for i := 0; i < keys; i++ {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		counts[PartitionOf(k[:], q)]++
	}
	for p, c := range counts {
		// 200 expected per partition; MD5 is uniform, so ±50% has
		// negligible probability of failing by chance.
		if c < 100 || c > 300 {
			t.Errorf("partition %d holds %d keys, expected about 200", p, c)
		}
	}
}

// TestOverlapping: a partition maps onto the one it lies in on a smaller
// ring, onto those it splits into on a larger one, onto itself on its
// own; and every key of p lies in the range given, on any other count.
func TestOverlapping(t *testing.T) {
	for _, tt := range []struct {
		p           uint32
		from, to    int
		first, last uint32
		ok          bool
	}{
		{5, 64, 64, 5, 5, true},
		{5, 64, 32, 2, 2, true},
		{5, 64, 16, 1, 1, true},
		{5, 64, 128, 10, 11, true},
		{5, 64, 256, 20, 23, true},
		{5, 64, 48, 0, 0, false},
		{5, 0, 64, 0, 0, false},
	} {
		first, last, ok := Overlapping(tt.p, tt.from, tt.to)
		if first != tt.first || last != tt.last || ok != tt.ok {
			t.Errorf("Overlapping(%d, %d, %d) = %d, %d, %v; want %d, %d, %v", tt.p, tt.from, tt.to, first, last, ok, tt.first, tt.last, tt.ok)
		}
	}
	for i := range 2000 {
		key := fmt.Appendf(nil, "key-%d", i)
		for _, to := range []int{8, 32, 64, 128, 1024} {
			p := PartitionOf(key, 64)
			first, last, _ := Overlapping(p, 64, to)
			if got := PartitionOf(key, to); got < first || got > last {
				t.Fatalf("key %q: partition %d of 64, %d of %d, outside %d…%d", key, p, got, to, first, last)
			}
		}
	}
}
