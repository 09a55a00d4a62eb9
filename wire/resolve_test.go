package wire

import (
	"errors"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/resolve"
)

// concurrentSet holds two live siblings and a tombstone, all concurrent.
func concurrentSet() dvv.Set {
	return dvv.Set{
		Context: dvv.NewVersionVector(dvv.Dot{Actor: 7, Counter: 3}, dvv.Dot{Actor: 9, Counter: 12}),
		Siblings: []dvv.Sibling{
			{Dot: dvv.Dot{Actor: 7, Counter: 2}, Value: []byte("old"), ContentType: "text/plain", Timestamp: 100},
			{Dot: dvv.Dot{Actor: 7, Counter: 3}, Tombstone: true, Timestamp: 300},
			{Dot: dvv.Dot{Actor: 9, Counter: 12}, Value: []byte("new"), ContentType: "text/plain", Timestamp: 200},
		},
	}
}

func selector(t *testing.T, def string, custom map[string]resolve.Resolver) *resolve.Selector {
	t.Helper()
	s, err := resolve.NewSelector(resolve.Config{Default: def, Custom: custom})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResolve_LiveSiblingsOnly(t *testing.T) {
	var seen []resolve.Sibling
	spy := resolve.Func(func(_ []byte, sibs []resolve.Sibling) (resolve.Resolution, error) {
		seen = sibs
		for _, s := range sibs {
			s.Value[0] = 'X' // must not reach the set
		}
		return resolve.Resolution{Value: []byte("merged")}, nil
	})
	s := concurrentSet()
	sib, choice, ok, err := Resolve(selector(t, "spy", map[string]resolve.Resolver{"spy": spy}), []byte("k"), s)
	if err != nil || !ok || choice.Name != "spy" {
		t.Fatalf("ok=%v err=%v choice=%+v", ok, err, choice)
	}
	if len(seen) != 2 {
		t.Fatalf("the resolver saw %d siblings, want the 2 live ones", len(seen))
	}
	if string(sib.Value) != "merged" || sib.ContentType != "text/plain" || sib.Tombstone || sib.Timestamp != 200 || sib.Dot != (dvv.Dot{}) {
		t.Errorf("sibling = %+v, want merged, text/plain, the newest live timestamp, no dot", sib)
	}
	if !s.Equal(concurrentSet()) {
		t.Errorf("the resolver changed the set: %+v", s)
	}
}

func TestResolve_NothingToDo(t *testing.T) {
	called := false
	spy := resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
		called = true
		return resolve.Resolution{}, nil
	})
	one := concurrentSet()
	one.Siblings = one.Siblings[:2] // one live value and a tombstone
	for name, tt := range map[string]struct {
		sel *resolve.Selector
		set dvv.Set
	}{
		"siblings resolver": {selector(t, resolve.NameSiblings, nil), concurrentSet()},
		"one live value":    {selector(t, "spy", map[string]resolve.Resolver{"spy": spy}), one},
		"empty":             {selector(t, "spy", map[string]resolve.Resolver{"spy": spy}), dvv.Set{}},
	} {
		t.Run(name, func(t *testing.T) {
			called = false
			if _, _, ok, err := Resolve(tt.sel, []byte("k"), tt.set); ok || err != nil || called {
				t.Errorf("ok=%v err=%v called=%v, want nothing done", ok, err, called)
			}
		})
	}
}

func TestResolve_DeleteAndFailure(t *testing.T) {
	del := resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
		return resolve.Resolution{Delete: true}, nil
	})
	sib, _, ok, err := Resolve(selector(t, "del", map[string]resolve.Resolver{"del": del}), []byte("k"), concurrentSet())
	if err != nil || !ok || !sib.Tombstone || len(sib.Value) != 0 {
		t.Errorf("delete: sib=%+v ok=%v err=%v, want a tombstone", sib, ok, err)
	}
	boom := resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) { panic("boom") })
	_, choice, ok, err := Resolve(selector(t, "boom", map[string]resolve.Resolver{"boom": boom}), []byte("k"), concurrentSet())
	var re *resolve.Error
	if ok || !errors.As(err, &re) || re.Reason() != resolve.ReasonPanic || choice.Name != "boom" {
		t.Errorf("panic: ok=%v err=%v choice=%+v, want a recovered *resolve.Error", ok, err, choice)
	}
}

// A resolution keeps the expiry of the newest live sibling: last-write-wins
// keeps that write's value, so it lives as long as that write asked.
func TestResolve_KeepsTheNewestExpiry(t *testing.T) {
	s := concurrentSet()
	s.Siblings[0].ExpiresAt = 150 // "old", timestamp 100
	s.Siblings[2].ExpiresAt = 900 // "new", timestamp 200
	sib, _, ok, err := Resolve(selector(t, "lww", nil), []byte("k"), s)
	if err != nil || !ok || string(sib.Value) != "new" || sib.ExpiresAt != 900 {
		t.Fatalf("lww = %+v, %v, %v; want new expiring at 900", sib, ok, err)
	}
	s.Siblings[2].ExpiresAt = 0
	if sib, _, _, _ := Resolve(selector(t, "lww", nil), []byte("k"), s); sib.ExpiresAt != 0 {
		t.Fatalf("lww over a newest sibling without expiry expires at %d", sib.ExpiresAt)
	}
}
