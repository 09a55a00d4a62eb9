package quorum_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/test/testutil"
)

// The randomised tests below drive the machines with random parameters,
// targets and event orders, and check each step against a deliberately
// simple reference: sets of nodes that answered or failed, and the quorum
// predicates written out directly (etcd's quorum/quick_test.go does the same
// for its majority logic).

const propertyIterations = 3000

// scenario is one random request: parameters and reachable targets.
type scenario struct {
	p       quorum.Params
	targets []quorum.Target
}

func randomScenario(rng *rand.Rand, write bool) scenario {
	n := 1 + rng.IntN(5)
	q := 1 + rng.IntN(n)
	pq := rng.IntN(q + 1)
	p := quorum.Params{N: n}
	if write {
		p.W, p.PW = q, pq
	} else {
		p.R, p.PR = q, pq
	}
	// Usually as many targets as replicas (primaries and fallbacks), sometimes
	// fewer, when no fallback could stand in.
	k := n
	if rng.IntN(4) == 0 {
		k = rng.IntN(n + 1)
	}
	targets := make([]quorum.Target, k)
	for i := range targets {
		targets[i] = quorum.Target{Node: fmt.Sprintf("n%d", i), Primary: rng.IntN(4) != 0}
	}
	return scenario{p: p, targets: targets}
}

func (s scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v targets=[", s.p)
	for i, t := range s.targets {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.Node)
		if !t.Primary {
			b.WriteString("(fallback)")
		}
	}
	b.WriteByte(']')
	return b.String()
}

// counts returns how many of targets satisfy in, and how many of those are
// primaries.
func counts(targets []quorum.Target, in func(string) bool) (all, primaries int) {
	for _, t := range targets {
		if in(t.Node) {
			all++
			if t.Primary {
				primaries++
			}
		}
	}
	return all, primaries
}

// checker collects the steps of one run so that a failure shows them.
type checker struct {
	t     *testing.T
	iter  int
	sc    scenario
	trace []string
}

func (c *checker) step(format string, args ...any) {
	c.trace = append(c.trace, fmt.Sprintf(format, args...))
}

func (c *checker) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("iteration %d, %v\nevents:\n  %s\n%s", c.iter, c.sc, strings.Join(c.trace, "\n  "), fmt.Sprintf(format, args...))
}

// ---- Get ----

type getEvent struct {
	kind string // "answer", "fail", "timeout"
	node string
	obj  dvv.Set
}

func (e getEvent) String() string {
	switch e.kind {
	case "answer":
		return fmt.Sprintf("Answered(%s, %v)", e.node, e.obj)
	case "fail":
		return fmt.Sprintf("Failed(%s)", e.node)
	}
	return "Timeout()"
}

// getRef is the reference model of a read.
type getRef struct {
	sc      scenario
	answers map[string]dvv.Set
	failed  map[string]bool
	replied bool
	done    bool
}

func (r *getRef) merged() dvv.Set {
	var out dvv.Set
	for _, t := range r.sc.targets {
		if obj, ok := r.answers[t.Node]; ok {
			out = dvv.Merge(out, obj)
		}
	}
	return out
}

func (r *getRef) succeeded() bool {
	n, p := counts(r.sc.targets, func(node string) bool { _, ok := r.answers[node]; return ok })
	return n >= r.sc.p.R && p >= r.sc.p.PR
}

func (r *getRef) impossible() bool {
	n, p := counts(r.sc.targets, func(node string) bool { return !r.failed[node] })
	return n < r.sc.p.R || p < r.sc.p.PR
}

func (r *getRef) allResolved() bool {
	n, _ := counts(r.sc.targets, func(node string) bool { _, ok := r.answers[node]; return ok || r.failed[node] })
	return n == len(r.sc.targets)
}

// repair returns the targets whose answer differs from the merge of all.
func (r *getRef) repair() []string {
	m := r.merged()
	var out []string
	for _, t := range r.sc.targets {
		if obj, ok := r.answers[t.Node]; ok && !obj.Equal(m) {
			out = append(out, t.Node)
		}
	}
	return out
}

func TestGet_RandomEventsMatchReference(t *testing.T) {
	seed := testutil.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	pool := newHistory(t).all()
	for iter := range propertyIterations {
		sc := randomScenario(rng, false)
		var events []getEvent
		for _, tg := range sc.targets {
			// Zero to two events per target: a straggler, an answer, a
			// failure, a duplicate or a contradicting second report.
			for range rng.IntN(3) {
				if rng.IntN(3) == 0 {
					events = append(events, getEvent{kind: "fail", node: tg.Node})
				} else {
					events = append(events, getEvent{kind: "answer", node: tg.Node, obj: pool[rng.IntN(len(pool))]})
				}
			}
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		if rng.IntN(2) == 0 {
			i := rng.IntN(len(events) + 1)
			events = slices.Insert(events, i, getEvent{kind: "timeout"})
		}
		// The deadline always fires in the end, unless the machine was done.
		events = append(events, getEvent{kind: "timeout"})
		runGet(&checker{t: t, iter: iter, sc: sc}, events)
	}
}

func runGet(c *checker, events []getEvent) {
	c.t.Helper()
	sc := c.sc
	ref := &getRef{sc: sc, answers: map[string]dvv.Set{}, failed: map[string]bool{}}
	f := quorum.NewGet(sc.p, sc.targets)
	replies, dones := 0, 0

	check := func(what string, eff quorum.GetEffects, timeout bool) {
		c.t.Helper()
		if eff.Reply != nil {
			replies++
			if replies > 1 {
				c.fatalf("%s: second reply %+v", what, *eff.Reply)
			}
		}
		wasReplied := ref.replied
		if !ref.replied {
			switch {
			case ref.succeeded():
				if eff.Reply == nil || eff.Reply.Err != nil {
					c.fatalf("%s: r=%d pr=%d are met but the reply is %+v, want success", what, sc.p.R, sc.p.PR, eff.Reply)
				}
				if want := ref.merged(); !eff.Reply.Object.Equal(want) {
					c.fatalf("%s: reply object %v, want the merge of the answers %v", what, eff.Reply.Object, want)
				}
				ref.replied = true
			case ref.impossible():
				if eff.Reply == nil || !errors.Is(eff.Reply.Err, quorum.ErrUnavailable) {
					c.fatalf("%s: quorum is out of reach but the reply is %+v, want ErrUnavailable", what, eff.Reply)
				}
				ref.replied = true
			case timeout:
				if eff.Reply == nil || !errors.Is(eff.Reply.Err, quorum.ErrTimeout) {
					c.fatalf("%s: the deadline passed before the quorum but the reply is %+v, want ErrTimeout", what, eff.Reply)
				}
				ref.replied = true
			}
		}
		if eff.Reply != nil && wasReplied {
			c.fatalf("%s: reply %+v after the client was answered", what, *eff.Reply)
		}
		if eff.Reply != nil && !ref.replied {
			c.fatalf("%s: premature reply %+v: quorum neither met nor out of reach", what, *eff.Reply)
		}
		if !ref.done && (timeout || ref.allResolved()) {
			ref.done = true
			if !eff.Done {
				c.fatalf("%s: Done = false, want true", what)
			}
			dones++
			want := ref.repair()
			if got := nodes(eff.Repair); !slices.Equal(got, want) {
				c.fatalf("%s: Repair = %v, want %v", what, got, want)
			}
			if len(want) > 0 && !eff.Merged.Equal(ref.merged()) {
				c.fatalf("%s: Merged = %v, want %v", what, eff.Merged, ref.merged())
			}
		} else {
			if eff.Done {
				c.fatalf("%s: Done = true, want false", what)
			}
			if len(eff.Repair) > 0 {
				c.fatalf("%s: Repair = %v before the machine is done", what, nodes(eff.Repair))
			}
		}
		if f.Done() != ref.done {
			c.fatalf("after %s: Done() = %v, want %v", what, f.Done(), ref.done)
		}
		if len(eff.Ask) > 0 {
			c.fatalf("%s: Ask = %v after Start", what, eff.Ask)
		}
	}

	c.step("Start()")
	eff := f.Start()
	_, prim := counts(sc.targets, func(string) bool { return true })
	if len(sc.targets) < sc.p.R || prim < sc.p.PR {
		if eff.Reply == nil || !errors.Is(eff.Reply.Err, quorum.ErrUnavailable) || len(eff.Ask) != 0 || !eff.Done {
			c.fatalf("Start: %+v, want ErrUnavailable, nothing asked, done", eff)
		}
		replies++
		ref.replied, ref.done = true, true
	} else {
		if !slices.Equal(eff.Ask, sc.targets) || eff.Reply != nil || eff.Done {
			c.fatalf("Start: %+v, want Ask of every target", eff)
		}
	}

	for _, ev := range events {
		c.step("%v", ev)
		what := ev.String()
		if ref.done {
			var eff quorum.GetEffects
			switch ev.kind {
			case "answer":
				eff = f.Answered(ev.node, ev.obj)
			case "fail":
				eff = f.Failed(ev.node)
			default:
				eff = f.Timeout()
			}
			if !isEmptyGet(eff) {
				c.fatalf("%s after done: %+v, want nothing", what, eff)
			}
			continue
		}
		switch ev.kind {
		case "answer":
			_, answered := ref.answers[ev.node]
			if !answered && !ref.failed[ev.node] {
				ref.answers[ev.node] = ev.obj
			}
			check(what, f.Answered(ev.node, ev.obj), false)
		case "fail":
			if _, answered := ref.answers[ev.node]; !answered {
				ref.failed[ev.node] = true
			}
			check(what, f.Failed(ev.node), false)
		default:
			check(what, f.Timeout(), true)
		}
	}
	if replies != 1 {
		c.fatalf("%d replies in all, want exactly 1", replies)
	}
	if !ref.done || !f.Done() {
		c.fatalf("not done after the deadline")
	}
	if dones > 1 {
		c.fatalf("Done reported %d times", dones)
	}
}

// ---- Put ----

type putEvent struct {
	kind string // "minted", "coordinated", "refused", "fail", "ack", "timeout"
	node string
	obj  dvv.Set
}

func (e putEvent) String() string {
	switch e.kind {
	case "minted":
		return fmt.Sprintf("Minted(%v)", e.obj)
	case "coordinated":
		return fmt.Sprintf("Coordinated(%v)", e.obj)
	case "refused":
		return "Refused(...)"
	case "fail":
		return fmt.Sprintf("Failed(%s)", e.node)
	case "ack":
		return fmt.Sprintf("Acked(%s)", e.node)
	}
	return "Timeout()"
}

var errRefusal = errors.New("test refusal")

func TestPut_RandomEventsMatchReference(t *testing.T) {
	seed := testutil.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	pool := newHistory(t).all()
	for iter := range propertyIterations {
		sc := randomScenario(rng, true)
		// The coordinator is the first primary.
		coord := ""
		for _, t := range sc.targets {
			if t.Primary {
				coord = t.Node
				break
			}
		}
		var events []putEvent
		obj := pool[1+rng.IntN(len(pool)-1)]
		switch x := rng.IntN(10); {
		case x < 4:
			events = append(events, putEvent{kind: "coordinated", node: coord, obj: obj})
		case x < 7:
			// The object first, then (or never) the coordinator's own
			// durable write or its failure.
			events = append(events, putEvent{kind: "minted", node: coord, obj: obj})
			switch rng.IntN(4) {
			case 0:
				events = append(events, putEvent{kind: "coordinated", node: coord, obj: obj})
			case 1:
				events = append(events, putEvent{kind: "fail", node: coord})
			case 2:
				// Its durable write refused after the object went out (a
				// storage error): the coordinator's failure, not a definite
				// refusal, since the others may store it.
				events = append(events, putEvent{kind: "refused", node: coord})
			}
		case x < 8:
			events = append(events, putEvent{kind: "refused", node: coord})
		case x < 9:
			events = append(events, putEvent{kind: "fail", node: coord})
		}
		for _, tg := range sc.targets {
			if tg.Node == coord {
				continue
			}
			for range rng.IntN(3) {
				if rng.IntN(3) == 0 {
					events = append(events, putEvent{kind: "fail", node: tg.Node})
				} else {
					events = append(events, putEvent{kind: "ack", node: tg.Node})
				}
			}
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		events = mintedFirst(events, coord)
		events = acksAfterCoordination(events)
		if rng.IntN(2) == 0 {
			i := rng.IntN(len(events) + 1)
			events = slices.Insert(events, i, putEvent{kind: "timeout"})
		}
		events = append(events, putEvent{kind: "timeout"})
		runPut(&checker{t: t, iter: iter, sc: sc}, coord, events)
	}
}

// mintedFirst puts a Minted event before the coordinator's durable answer or
// failure, which a vnode sends only after it.
func mintedFirst(events []putEvent, coord string) []putEvent {
	mi := slices.IndexFunc(events, func(e putEvent) bool { return e.kind == "minted" })
	if mi < 0 {
		return events
	}
	ci := slices.IndexFunc(events, func(e putEvent) bool {
		return e.node == coord && (e.kind == "coordinated" || e.kind == "fail" || e.kind == "refused")
	})
	if ci >= 0 && ci < mi {
		events[ci], events[mi] = events[mi], events[ci]
	}
	return events
}

// acksAfterCoordination moves acks that precede the coordinator's first
// answer (the object, minted or durable) to just after it: replicas receive
// the object only then. Without an object no replica can ack, so acks are
// dropped.
func acksAfterCoordination(events []putEvent) []putEvent {
	isCoordinated := func(e putEvent) bool { return e.kind == "coordinated" || e.kind == "minted" }
	ci := slices.IndexFunc(events, isCoordinated)
	var early, rest []putEvent
	for i, e := range events {
		if e.kind == "ack" && (ci < 0 || i < ci) {
			early = append(early, e)
		} else {
			rest = append(rest, e)
		}
	}
	if ci < 0 {
		return rest
	}
	return slices.Insert(rest, slices.IndexFunc(rest, isCoordinated)+1, early...)
}

// putRef is the reference model of a write.
type putRef struct {
	sc    scenario
	coord string
	// minted is set once the coordinator produced the object (Minted or
	// Coordinated): the others have it from then on.
	minted  bool
	object  dvv.Set
	acked   map[string]bool
	failed  map[string]bool
	replied bool
}

func (r *putRef) acks() (all, primaries int) {
	return counts(r.sc.targets, func(n string) bool { return r.acked[n] })
}

func (r *putRef) succeeded() bool {
	n, p := r.acks()
	return r.minted && n >= r.sc.p.W && p >= r.sc.p.PW
}

func (r *putRef) impossible() bool {
	if r.failed[r.coord] && !r.minted {
		return true
	}
	n, p := counts(r.sc.targets, func(node string) bool { return !r.failed[node] })
	return n < r.sc.p.W || p < r.sc.p.PW
}

func runPut(c *checker, coord string, events []putEvent) {
	c.t.Helper()
	sc := c.sc
	ref := &putRef{sc: sc, coord: coord, acked: map[string]bool{}, failed: map[string]bool{}}
	f := quorum.NewPut(sc.p, sc.targets)
	replies := 0

	// check compares the reply of eff with the reference; refused is the
	// error the coordinator refused with, if the event was a refusal.
	check := func(what string, eff quorum.PutEffects, timeout, refused bool) {
		c.t.Helper()
		if eff.Reply != nil {
			replies++
			if replies > 1 {
				c.fatalf("%s: second reply %+v", what, *eff.Reply)
			}
		}
		if ref.replied {
			if !isEmptyPut(eff) {
				c.fatalf("%s after the reply: %+v, want nothing", what, eff)
			}
			return
		}
		r := eff.Reply
		switch {
		case refused:
			if r == nil || !errors.Is(r.Err, errRefusal) || errors.Is(r.Err, quorum.ErrIndeterminate) {
				c.fatalf("%s: reply %+v, want the definite refusal", what, r)
			}
			ref.replied = true
		case ref.succeeded():
			n, _ := ref.acks()
			if r == nil || r.Err != nil {
				c.fatalf("%s: coordinated with w=%d pw=%d acks but the reply is %+v, want success", what, sc.p.W, sc.p.PW, r)
			}
			if !r.Object.Equal(ref.object) || r.Acks != n {
				c.fatalf("%s: reply %+v, want object %v with %d acks", what, *r, ref.object, n)
			}
			ref.replied = true
		case ref.impossible() || timeout:
			if r == nil || !errors.Is(r.Err, quorum.ErrIndeterminate) {
				c.fatalf("%s: reply %+v, want ErrIndeterminate", what, r)
			}
			ref.replied = true
		default:
			if r != nil {
				c.fatalf("%s: premature reply %+v: quorum neither met nor out of reach", what, *r)
			}
		}
		if f.Done() != ref.replied {
			c.fatalf("after %s: Done() = %v, want %v", what, f.Done(), ref.replied)
		}
	}

	c.step("Start() coordinator=%s", coord)
	eff := f.Start()
	_, prim := counts(sc.targets, func(string) bool { return true })
	if coord == "" || len(sc.targets) < sc.p.W || prim < sc.p.PW {
		if eff.Reply == nil || !errors.Is(eff.Reply.Err, quorum.ErrUnavailable) || eff.Coordinate != nil {
			c.fatalf("Start: %+v, want ErrUnavailable and nothing sent", eff)
		}
		replies++
		ref.replied = true
	} else {
		if eff.Coordinate == nil || eff.Coordinate.Node != coord || eff.Reply != nil {
			c.fatalf("Start: %+v, want Coordinate %s", eff, coord)
		}
	}

	for _, ev := range events {
		c.step("%v", ev)
		what := ev.String()
		switch ev.kind {
		case "minted", "coordinated":
			replied, first := ref.replied, !ref.minted
			if !replied && first {
				ref.minted, ref.object = true, ev.obj
			}
			if !replied && ev.kind == "coordinated" && !ref.failed[coord] {
				ref.acked[coord] = true
			}
			var eff quorum.PutEffects
			if ev.kind == "minted" {
				eff = f.Minted(coord, ev.obj)
			} else {
				eff = f.Coordinated(coord, ev.obj)
			}
			if !replied && !first && len(eff.Replicate) > 0 {
				c.fatalf("%s: Replicate %v again after the object was sent", what, eff.Replicate)
			}
			if !replied && first {
				var want []quorum.Target
				for _, t := range sc.targets {
					if t.Node != coord {
						want = append(want, t)
					}
				}
				if !slices.Equal(eff.Replicate, want) || !eff.Object.Equal(ev.obj) {
					c.fatalf("%s: Replicate %v of %v, want %v of %v", what, eff.Replicate, eff.Object, want, ev.obj)
				}
			}
			check(what, eff, false, false)
		case "refused":
			// A refusal before the object exists is definite: nothing was
			// stored anywhere. After it, the object has gone to the others,
			// and the refusal is the coordinator's failure.
			definite := !ref.replied && !ref.minted
			if !ref.replied && ref.minted && !ref.acked[coord] {
				ref.failed[coord] = true
			}
			check(what, f.Refused(coord, fmt.Errorf("coordinator: %w", errRefusal)), false, definite)
		case "fail":
			if !ref.replied && !ref.acked[ev.node] {
				ref.failed[ev.node] = true
			}
			check(what, f.Failed(ev.node), false, false)
		case "ack":
			if !ref.replied && !ref.failed[ev.node] {
				ref.acked[ev.node] = true
			}
			check(what, f.Acked(ev.node), false, false)
		default:
			check(what, f.Timeout(), true, false)
		}
	}
	if replies != 1 {
		c.fatalf("%d replies in all, want exactly 1", replies)
	}
}
