package replica

import (
	"fmt"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/test/testutil"
)

// TestMachine_AsyncMatchesSync checks the async machine against a simple
// reference: the same machine writing synchronously. Writes land in the
// order they were handed out, at random moments; whatever the moment, every
// read must answer what the reference answers, and once everything has
// landed both stores must hold the same objects.
func TestMachine_AsyncMatchesSync(t *testing.T) {
	rng := testutil.Rand(t)
	for round := range 50 {
		ref, sut := newRig(t, false), newRig(t, true)
		var queue []Write // async writes handed out, not yet landed
		land := func() {
			w := queue[0]
			queue = queue[1:]
			sut.store.data[string(w.Key)] = w.Value
			sut.do(sut.m.WriteDone(w.ID, nil), false)
		}
		ctxs := map[string]dvv.VersionVector{}
		for step := range 60 {
			key := fmt.Sprintf("k%d", rng.IntN(3))
			var a, b Effects[string]
			switch op := rng.IntN(4); op {
			case 0, 1:
				req := PutRequest{Key: []byte(key), Value: dvv.Sibling{Value: fmt.Appendf(nil, "v%d", step)}}
				if rng.IntN(2) == 0 {
					req.Context = ctxs[key]
				}
				a, b = ref.m.Put("c", req, t0), sut.m.Put("c", req, t0)
			case 2:
				s, _ := parseSet(fmt.Sprintf("p%d@2:%d", step, step+1), "", 0)
				a, b = ref.m.Merge("p", []byte(key), s), sut.m.Merge("p", []byte(key), s)
			case 3:
				a, b = ref.m.Get("g", []byte(key)), sut.m.Get("g", []byte(key))
				if !a.Reply.Object.Equal(b.Reply.Object) {
					t.Fatalf("round %d step %d: read %s, the reference read %s", round, step, formatSet(b.Reply.Object), formatSet(a.Reply.Object))
				}
				ctxs[key] = a.Reply.Object.Context
			}
			ref.do(a, true)
			sut.do(b, false)
			if b.Write.Kind == WritePutAsync {
				queue = append(queue, b.Write)
			}
			for len(queue) > 0 && rng.IntN(3) == 0 {
				land()
			}
		}
		for len(queue) > 0 {
			land()
		}
		if sut.m.Pending() != 0 || sut.m.Root() != ref.m.Root() {
			t.Fatalf("round %d: %d pending, root %x; want 0 and the reference's %x", round, sut.m.Pending(), sut.m.Root(), ref.m.Root())
		}
		for k, v := range ref.store.data {
			if string(sut.store.data[k]) != string(v) {
				t.Fatalf("round %d: stored %s = %s, the reference stored %s", round, k, sut.store.data[k], v)
			}
		}
	}
}
