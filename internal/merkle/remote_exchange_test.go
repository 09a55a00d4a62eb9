package merkle

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// TestExchange_RemoteAgreesWithLocal drives a descent between two remote
// trees, as the anti-entropy scheduler does (it owns neither), and checks
// that it names the same buckets in the same rounds as the local descent.
func TestExchange_RemoteAgreesWithLocal(t *testing.T) {
	r := testutil.Rand(t)
	for _, s := range shapes {
		for _, rate := range []int{0, 2, 50} {
			t.Run(fmt.Sprintf("%dx%d/rate=%d", s.Fanout, s.Depth, rate), func(t *testing.T) {
				a := randomDataset(r, 400)
				b := maps.Clone(a)
				for k := range a {
					if rate > 0 && r.IntN(rate) == 0 {
						b[k] = r.Uint64()
					}
				}
				ta, tb := buildTree(t, s, a), buildTree(t, s, b)
				local, err := NewExchange(ta, s)
				if err != nil {
					t.Fatal(err)
				}
				remote, err := NewRemoteExchange(s)
				if err != nil {
					t.Fatal(err)
				}
				for !local.Done() {
					req := local.Request()
					if got := remote.Request(); got.Level != req.Level || !slices.Equal(got.Parents, req.Parents) {
						t.Fatalf("remote asks %+v, local asks %+v", got, req)
					}
					mine, _ := ta.Level(req.Level, req.Parents)
					theirs, _ := tb.Level(req.Level, req.Parents)
					if err := local.Receive(theirs); err != nil {
						t.Fatal(err)
					}
					if err := remote.ReceiveBoth(mine, theirs); err != nil {
						t.Fatal(err)
					}
				}
				if !remote.Done() || !slices.Equal(remote.Buckets(), local.Buckets()) || remote.Stats() != local.Stats() {
					t.Fatalf("remote: done=%v buckets=%v stats=%+v; local: buckets=%v stats=%+v",
						remote.Done(), remote.Buckets(), remote.Stats(), local.Buckets(), local.Stats())
				}
			})
		}
	}
}

// TestExchange_RemoteRefuses covers the errors of a remote descent: a bad
// shape, Receive without a local tree, answers of the wrong length on either
// side, and answers after the end.
func TestExchange_RemoteRefuses(t *testing.T) {
	if _, err := NewRemoteExchange(Shape{Fanout: 3, Depth: 2}); err == nil {
		t.Fatal("NewRemoteExchange accepted fanout 3")
	}
	s := Shape{Fanout: 4, Depth: 2}
	ex, err := NewRemoteExchange(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Receive([]uint64{1}); !errors.Is(err, ErrNoLocalTree) {
		t.Fatalf("Receive on a remote descent: %v, want ErrNoLocalTree", err)
	}
	for _, tc := range []struct {
		name         string
		mine, theirs []uint64
	}{
		{"mine short", nil, []uint64{1}},
		{"theirs long", []uint64{1}, []uint64{1, 2}},
	} {
		if err := ex.ReceiveBoth(tc.mine, tc.theirs); !errors.Is(err, ErrBadResponse) {
			t.Fatalf("%s: %v, want ErrBadResponse", tc.name, err)
		}
	}
	if err := ex.ReceiveBoth([]uint64{1}, []uint64{2}); err != nil {
		t.Fatal(err)
	}
	if req := ex.Request(); req.Level != 1 || !slices.Equal(req.Parents, []int{0}) {
		t.Fatalf("after differing roots the request is %+v, want level 1 of [0]", req)
	}
	if err := ex.ReceiveBoth([]uint64{1, 2, 3}, []uint64{1, 2, 3, 4}); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("three hashes for four children: %v, want ErrBadResponse", err)
	}
	if err := ex.ReceiveBoth([]uint64{1, 2, 3, 4}, []uint64{1, 2, 3, 4}); err != nil || !ex.Done() || len(ex.Buckets()) != 0 {
		t.Fatalf("equal children: err=%v done=%v buckets=%v", err, ex.Done(), ex.Buckets())
	}
	if err := ex.ReceiveBoth([]uint64{1}, []uint64{1}); !errors.Is(err, ErrExchangeDone) {
		t.Fatalf("after the end: %v, want ErrExchangeDone", err)
	}
}
