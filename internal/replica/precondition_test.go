package replica

import (
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
)

// TestMachine_PutPreconditions checks a conditional write's verdict against
// the stored object, in the step that mints it: a failed test stores
// nothing; a passed one without a context replaces what it tested.
func TestMachine_PutPreconditions(t *testing.T) {
	type state int
	const (
		empty    state = iota
		live           // one value
		siblings       // two concurrent values
		deleted        // only a tombstone
	)
	tagOf := func(r *rig) dvv.Tag {
		replies := r.do(r.m.Get("c", []byte("k")), true)
		return replies[0].Object.Context.Tag()
	}
	stale := dvv.NewVersionVector(dvv.Dot{Actor: 9, Counter: 1}).Tag()
	for _, tc := range []struct {
		name  string
		state state
		cond  func(current dvv.Tag) Precondition
		pass  bool
	}{
		{"If-None-Match * on an empty key", empty, func(dvv.Tag) Precondition { return Precondition{IfNoneMatch: &TagTest{Any: true}} }, true},
		{"If-None-Match * on a deleted key", deleted, func(dvv.Tag) Precondition { return Precondition{IfNoneMatch: &TagTest{Any: true}} }, true},
		{"If-None-Match * on a live key", live, func(dvv.Tag) Precondition { return Precondition{IfNoneMatch: &TagTest{Any: true}} }, false},
		{"If-Match * on a live key", live, func(dvv.Tag) Precondition { return Precondition{IfMatch: &TagTest{Any: true}} }, true},
		{"If-Match * on a deleted key", deleted, func(dvv.Tag) Precondition { return Precondition{IfMatch: &TagTest{Any: true}} }, false},
		{"If-Match current", siblings, func(c dvv.Tag) Precondition { return Precondition{IfMatch: &TagTest{Tags: []dvv.Tag{c}}} }, true},
		{"If-Match current in a list", live, func(c dvv.Tag) Precondition { return Precondition{IfMatch: &TagTest{Tags: []dvv.Tag{stale, c}}} }, true},
		{"If-Match stale", live, func(dvv.Tag) Precondition { return Precondition{IfMatch: &TagTest{Tags: []dvv.Tag{stale}}} }, false},
		{"If-Match with no usable tag", live, func(dvv.Tag) Precondition { return Precondition{IfMatch: &TagTest{}} }, false},
		{"If-Match on a key never written", empty, func(c dvv.Tag) Precondition { return Precondition{IfMatch: &TagTest{Tags: []dvv.Tag{c}}} }, true},
		{"If-None-Match current", live, func(c dvv.Tag) Precondition { return Precondition{IfNoneMatch: &TagTest{Tags: []dvv.Tag{c}}} }, false},
		{"If-None-Match stale", live, func(dvv.Tag) Precondition { return Precondition{IfNoneMatch: &TagTest{Tags: []dvv.Tag{stale}}} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			switch tc.state {
			case live:
				r.put("k", "old", nil, 0)
			case siblings:
				r.put("k", "old-a", nil, 0)
				r.put("k", "old-b", nil, 0)
			case deleted:
				ctx := r.put("k", "old", nil, 0).Object.Context
				r.do(r.m.Put("c", PutRequest{Key: []byte("k"), Context: ctx, Value: dvv.Sibling{Tombstone: true}}, t0), true)
			}
			before := r.do(r.m.Get("c", []byte("k")), true)[0].Object
			eff := r.m.Put("c", PutRequest{Key: []byte("k"), Value: dvv.Sibling{Value: []byte("new")}, Precondition: tc.cond(tagOf(r))}, t0)
			replies := r.do(eff, true)
			last := replies[len(replies)-1]
			after := r.do(r.m.Get("c", []byte("k")), true)[0].Object
			if !tc.pass {
				if last.Code != CodePreconditionFailed || eff.Write.Kind != WriteNone {
					t.Fatalf("verdict %d (%s), write %v; want CodePreconditionFailed and no write", last.Code, last.Message, eff.Write.Kind)
				}
				if !after.Equal(before) {
					t.Fatalf("stored %v after a failed precondition, want %v unchanged", after, before)
				}
				return
			}
			if last.Code != CodeNone {
				t.Fatalf("verdict %d (%s), want the write", last.Code, last.Message)
			}
			// No context was sent: the write replaces what was tested.
			if len(after.Siblings) != 1 || string(after.Siblings[0].Value) != "new" {
				t.Fatalf("stored %v, want the one new value", after.Siblings)
			}
		})
	}
}
