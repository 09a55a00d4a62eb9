package quorum_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/test/testutil"
)

// handoverRef is the reference model of a write whose coordination may be
// handed over: sets of nodes, written out directly.
type handoverRef struct {
	sc       scenario
	asked    []string
	minted   bool
	object   dvv.Set
	mintedBy map[string]bool
	sentTo   map[string]bool
	acked    map[string]bool
	failed   map[string]bool
	refused  map[string]bool
	replied  bool
}

func (r *handoverRef) target(node string) (quorum.Target, bool) {
	for _, t := range r.sc.targets {
		if t.Node == node {
			return t, true
		}
	}
	return quorum.Target{}, false
}

// next is who a late coordinator hands to: the first primary, not
// rebuilding, not asked, not failed.
func (r *handoverRef) next() string {
	for _, t := range r.sc.targets {
		if t.Primary && !t.WriteOnly && !slices.Contains(r.asked, t.Node) && !r.failed[t.Node] {
			return t.Node
		}
	}
	return ""
}

// outcome is what the client must be told now: "" (nothing yet), "ok",
// "refused" or "indeterminate".
func (r *handoverRef) outcome() string {
	acks, prim := counts(r.sc.targets, func(n string) bool { return r.acked[n] })
	if r.minted && acks >= r.sc.p.W && prim >= r.sc.p.PW {
		return "ok"
	}
	if !r.minted && !slices.ContainsFunc(r.asked, func(n string) bool { return !r.failed[n] }) {
		if !slices.ContainsFunc(r.asked, func(n string) bool { return !r.refused[n] }) {
			return "refused"
		}
		return "indeterminate"
	}
	live, livePrim := counts(r.sc.targets, func(n string) bool { return !r.failed[n] })
	if live < r.sc.p.W || livePrim < r.sc.p.PW {
		return "indeterminate"
	}
	return ""
}

// TestPut_HandoverRandomEventsMatchReference drives writes through random
// handovers and answers from every coordinator asked, in random order, and
// checks each step against handoverRef: whom a deadline hands to, what is
// replicated, when and how the client is answered, and that a replica
// counts once toward W.
func TestPut_HandoverRandomEventsMatchReference(t *testing.T) {
	seed := testutil.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	h := newHistory(t)
	pool := []dvv.Set{h.v1, h.v2, h.v3, h.v4}
	for iter := range propertyIterations {
		sc := randomScenario(rng, true)
		for i := range sc.targets {
			if sc.targets[i].Primary && rng.IntN(6) == 0 {
				sc.targets[i].WriteOnly = true
			}
		}
		c := &checker{t: t, iter: iter, sc: sc}
		ref := &handoverRef{sc: sc, mintedBy: map[string]bool{}, sentTo: map[string]bool{},
			acked: map[string]bool{}, failed: map[string]bool{}, refused: map[string]bool{}}
		f := quorum.NewPut(sc.p, sc.targets)
		eff := f.Start()
		c.step("Start()")
		if eff.Reply != nil {
			// Unavailable up front: covered by the single-coordinator test.
			continue
		}
		ref.asked = append(ref.asked, eff.Coordinate.Node)

		replies := 0
		check := func(what string, eff quorum.PutEffects) {
			c.t.Helper()
			if eff.Reply != nil {
				replies++
			}
			if ref.replied {
				if !isEmptyPut(eff) {
					c.fatalf("%s after the reply: %+v, want nothing", what, eff)
				}
				return
			}
			want, r := ref.outcome(), eff.Reply
			switch {
			case want == "" && r != nil:
				c.fatalf("%s: premature reply %+v", what, *r)
			case want == "":
			case r == nil:
				c.fatalf("%s: no reply, want %s", what, want)
			case want == "ok":
				acks, _ := counts(sc.targets, func(n string) bool { return ref.acked[n] })
				if r.Err != nil || !r.Object.Equal(ref.object) || r.Acks != acks {
					c.fatalf("%s: reply %+v, want success with %v and %d acks", what, *r, ref.object, acks)
				}
			case want == "refused":
				if !errors.Is(r.Err, errRefusal) || errors.Is(r.Err, quorum.ErrIndeterminate) {
					c.fatalf("%s: reply %+v, want the definite refusal", what, *r)
				}
			default:
				if !errors.Is(r.Err, quorum.ErrIndeterminate) {
					c.fatalf("%s: reply %+v, want ErrIndeterminate", what, *r)
				}
			}
			ref.replied = ref.replied || want != ""
			if f.Done() != ref.replied {
				c.fatalf("after %s: Done() = %v, want %v", what, f.Done(), ref.replied)
			}
		}
		// mint updates the model for node's object and checks what went out.
		mint := func(what, node string, obj dvv.Set, eff quorum.PutEffects) {
			if ref.minted {
				obj = dvv.Merge(ref.object, obj)
			}
			ref.minted, ref.object, ref.mintedBy[node] = true, obj, true
			var want []quorum.Target
			for _, t := range sc.targets {
				if t.Node != node {
					want = append(want, t)
					ref.sentTo[t.Node] = true
				}
			}
			if !slices.Equal(eff.Replicate, want) || !eff.Object.Equal(obj) || eff.Minter != node {
				c.fatalf("%s: Replicate %v of %v by %q, want %v of %v by %s", what, eff.Replicate, eff.Object, eff.Minter, want, obj, node)
			}
		}

		for step := 0; step < 12 && !ref.replied; step++ {
			nodes := nodes(sc.targets)
			node := nodes[rng.IntN(len(nodes))]
			if rng.IntN(2) == 0 {
				node = ref.asked[rng.IntN(len(ref.asked))]
			}
			obj := pool[rng.IntN(len(pool))]
			var what string
			switch rng.IntN(6) {
			case 0:
				node = ref.asked[len(ref.asked)-1]
				if rng.IntN(4) == 0 {
					node = nodes[rng.IntN(len(nodes))]
				}
				what = fmt.Sprintf("CoordinatorLate(%s)", node)
				c.step("%s", what)
				want := ""
				if !ref.minted && node == ref.asked[len(ref.asked)-1] && !ref.failed[node] {
					want = ref.next()
				}
				eff := f.CoordinatorLate(node)
				got := ""
				if eff.Coordinate != nil {
					got = eff.Coordinate.Node
					if tg, _ := ref.target(got); *eff.Coordinate != tg {
						c.fatalf("%s: Coordinate %+v, want the target %+v", what, *eff.Coordinate, tg)
					}
				}
				if got != want {
					c.fatalf("%s: handed to %q, want %q", what, got, want)
				}
				if want != "" {
					ref.asked = append(ref.asked, want)
				}
				check(what, eff)
			case 1:
				what = fmt.Sprintf("Minted(%s, %v)", node, obj)
				c.step("%s", what)
				eff := f.Minted(node, obj)
				if slices.Contains(ref.asked, node) && !ref.mintedBy[node] && !ref.failed[node] {
					mint(what, node, obj, eff)
				} else if len(eff.Replicate) > 0 || eff.Minter != "" {
					c.fatalf("%s: %+v, want nothing sent", what, eff)
				}
				check(what, eff)
			case 2:
				what = fmt.Sprintf("Coordinated(%s, %v)", node, obj)
				c.step("%s", what)
				eff := f.Coordinated(node, obj)
				if slices.Contains(ref.asked, node) && !ref.failed[node] {
					if !ref.mintedBy[node] {
						mint(what, node, obj, eff)
					} else if len(eff.Replicate) > 0 {
						c.fatalf("%s: replicates again: %v", what, eff.Replicate)
					}
					ref.acked[node] = true
				}
				check(what, eff)
			case 3:
				what = fmt.Sprintf("Refused(%s)", node)
				c.step("%s", what)
				if slices.Contains(ref.asked, node) && !ref.acked[node] {
					if !ref.minted {
						ref.refused[node] = !ref.failed[node] || ref.refused[node]
					}
					ref.failed[node] = true
				}
				check(what, f.Refused(node, fmt.Errorf("coordinator: %w", errRefusal)))
			case 4:
				what = fmt.Sprintf("Failed(%s)", node)
				c.step("%s", what)
				if _, ok := ref.target(node); ok && !ref.acked[node] {
					ref.failed[node] = true
				}
				check(what, f.Failed(node))
			default:
				what = fmt.Sprintf("Acked(%s)", node)
				c.step("%s", what)
				if ref.sentTo[node] && !ref.failed[node] {
					ref.acked[node] = true
				}
				check(what, f.Acked(node))
			}
		}
		c.step("Timeout()")
		eff = f.Timeout()
		if !ref.replied {
			if eff.Reply == nil || !errors.Is(eff.Reply.Err, quorum.ErrIndeterminate) {
				c.fatalf("Timeout: %+v, want ErrIndeterminate", eff)
			}
			replies++
		} else if !isEmptyPut(eff) {
			c.fatalf("Timeout after the reply: %+v", eff)
		}
		if replies != 1 {
			c.fatalf("%d replies in all, want exactly 1", replies)
		}
	}
}
