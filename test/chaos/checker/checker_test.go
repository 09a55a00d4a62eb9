package checker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/test/chaos/history"
)

// hist builds a synthetic history, one op after another.
type hist struct{ ops []history.Op }

func (h *hist) op(o history.Op) {
	o.Index = int64(len(h.ops))
	o.Time = time.Duration(o.Index) * time.Millisecond
	h.ops = append(h.ops, o)
}

// add records a read-modify-write of a set key by client: it read the
// siblings read under readCtx and wrote elem; end is how it ended and
// ackCtx the context an acknowledgement returned.
func (h *hist) add(client int, key, elem string, read []string, readCtx string, end history.Type, ackCtx string) {
	h.op(history.Op{Type: history.Invoke, Client: client, Node: "n1", F: history.Add, Key: key, Value: elem})
	done := history.Op{Type: end, Client: client, Node: "n1", F: history.Add, Key: key, Value: elem, CtxIn: readCtx, Read: read}
	if end == history.Ok {
		done.Ctx, done.Siblings = ackCtx, 1
	}
	h.op(done)
}

// write records a register write of value sent with ctxIn.
func (h *hist) write(client int, key, value, ctxIn string, end history.Type, ackCtx string) {
	h.op(history.Op{Type: history.Invoke, Client: client, Node: "n1", F: history.Write, Key: key, Value: value, CtxIn: ctxIn})
	done := history.Op{Type: end, Client: client, Node: "n1", F: history.Write, Key: key, Value: value}
	if end == history.Ok {
		done.Ctx, done.Siblings = ackCtx, 1
	}
	h.op(done)
}

// read records a read that saw ids under ctx.
func (h *hist) read(client int, key string, ids []string, ctx string) {
	h.op(history.Op{Type: history.Invoke, Client: client, Node: "n2", F: history.Read, Key: key})
	h.op(history.Op{Type: history.Ok, Client: client, Node: "n2", F: history.Read, Key: key, Read: ids, Ctx: ctx, Siblings: len(ids)})
}

// final is a final state in which every node answers the same.
type final struct{ f history.Final }

// newFinal returns a converged final state with a one-partition ring
// whose three replicas agree on its root.
func newFinal() *final {
	return &final{f: history.Final{Reads: map[string]map[string]history.FinalRead{}, Converged: true,
		Replicas: [][]string{{"n1", "n2", "n3"}},
		Roots:    map[string]map[uint32]uint64{"n1": {0: 7}, "n2": {0: 7}, "n3": {0: 7}}}}
}

func (f *final) same(key string, sibs ...history.FinalSibling) *final {
	f.f.Reads[key] = map[string]history.FinalRead{}
	for _, n := range []string{"n1", "n2", "n3"} {
		f.f.Reads[key][n] = history.FinalRead{Found: len(sibs) > 0, Siblings: sibs}
	}
	return f
}

func set(id string, ts int, elems ...string) history.FinalSibling {
	return history.FinalSibling{ID: id, Elems: history.Union(elems), Timestamp: time.Unix(int64(ts), 0)}
}

func reg(id string) history.FinalSibling { return history.FinalSibling{ID: id} }

func items(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key+" "+f.Item)
	}
	slices.Sort(out)
	return out
}

const (
	ok      = history.Ok
	fail    = history.Fail
	unknown = history.Indeterminate
)

// TestCheck_Sets covers set keys: lost, indeterminate and unexpected
// elements, and a concurrent pair of adds merged by a later one.
func TestCheck_Sets(t *testing.T) {
	const k = "set/0"
	// c0 and c1 add concurrently (both read nothing), c2 reads both and
	// merges them with its own element.
	base := func() *hist {
		h := &hist{}
		h.add(0, k, "a", nil, "", ok, "ctxA")
		h.add(1, k, "b", nil, "", ok, "ctxB")
		h.add(2, k, "c", []string{"a", "b"}, "ctxAB", ok, "ctxC")
		return h
	}
	tests := []struct {
		name           string
		hist           func() *hist
		final          *final
		lost, unexpect []string
	}{
		{name: "merged", hist: base, final: newFinal().same(k, set("c", 3, "a", "b", "c"))},
		{name: "concurrent siblings kept", hist: base,
			final: newFinal().same(k, set("c", 3, "a", "b", "c"), set("d", 4, "d")),
			// d was never written
			unexpect: []string{k + " d"}},
		{name: "acknowledged element missing", hist: base, final: newFinal().same(k, set("c", 3, "a", "c")), lost: []string{k + " b"}},
		{name: "indeterminate may be missing or present", hist: func() *hist {
			h := base()
			h.add(0, k, "x", []string{"c"}, "ctxC", unknown, "")
			h.add(1, k, "y", []string{"c"}, "ctxC", unknown, "")
			return h
		}, final: newFinal().same(k, set("x", 5, "a", "b", "c", "x"))},
		{name: "refused add present", hist: func() *hist {
			h := base()
			h.add(0, k, "z", []string{"c"}, "ctxC", fail, "")
			return h
		}, final: newFinal().same(k, set("z", 5, "a", "b", "c", "z")), unexpect: []string{k + " z"}},
		{name: "element never added", hist: base, final: newFinal().same(k, set("c", 3, "a", "b", "c", "q")), unexpect: []string{k + " q"}},
		{name: "never completed counts as indeterminate", hist: func() *hist {
			h := base()
			h.op(history.Op{Type: history.Invoke, Client: 3, F: history.Add, Key: k, Value: "w"})
			return h
		}, final: newFinal().same(k, set("w", 5, "a", "b", "c", "w"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.hist().ops, tc.final.f)
			if got := items(r.Lost); !slices.Equal(got, tc.lost) {
				t.Errorf("lost = %v, want %v", got, tc.lost)
			}
			if got := items(r.Unexpected); !slices.Equal(got, tc.unexpect) {
				t.Errorf("unexpected = %v, want %v", got, tc.unexpect)
			}
			if want := len(tc.lost) == 0 && len(tc.unexpect) == 0; r.OK() != want {
				t.Errorf("OK() = %v, want %v; report %+v", r.OK(), want, r)
			}
		})
	}
}

// TestCheck_RegisterSupersession: a register's final value must be its
// last acknowledged write or a write that superseded it; a superseded
// value must not come back.
func TestCheck_RegisterSupersession(t *testing.T) {
	const k = "reg/0/0"
	// v1 then v2, each with the previous acknowledgement's context.
	base := func() *hist {
		h := &hist{}
		h.write(0, k, "v1", "", ok, "c1")
		h.write(0, k, "v2", "c1", ok, "c2")
		return h
	}
	tests := []struct {
		name                string
		hist                func() *hist
		final               *final
		lost, unexpect, old []string
	}{
		{name: "last acknowledged", hist: base, final: newFinal().same(k, reg("v2"))},
		{name: "older than the last acknowledged", hist: base, final: newFinal().same(k, reg("v1")),
			// v2 is gone, and v1, which v2 superseded, is back.
			lost: []string{k + " v2"}, old: []string{k + " v1"}},
		{name: "superseded by a later indeterminate write", hist: func() *hist {
			h := base()
			h.write(0, k, "v3", "c2", unknown, "")
			return h
		}, final: newFinal().same(k, reg("v3"))},
		{name: "later write that did not see it", hist: func() *hist {
			// v3 timed out; the read that followed missed v2 (a sloppy
			// quorum) and v4 was written with its context: v2 and v4 are
			// concurrent, so v2 must survive as a sibling.
			h := base()
			h.write(0, k, "v3", "c2", unknown, "")
			h.read(0, k, []string{"v1"}, "r1")
			h.write(0, k, "v4", "r1", ok, "c4")
			return h
		}, final: newFinal().same(k, reg("v4")), lost: []string{k + " v2"}},
		{name: "concurrent siblings both kept", hist: func() *hist {
			h := base()
			h.write(0, k, "v3", "c2", unknown, "")
			h.read(0, k, []string{"v1"}, "r1")
			h.write(0, k, "v4", "r1", ok, "c4")
			return h
		}, final: newFinal().same(k, reg("v2"), reg("v4"))},
		{name: "superseded value back next to its successor", hist: base,
			final: newFinal().same(k, reg("v1"), reg("v2")), old: []string{k + " v1"}},
		{name: "never written", hist: base, final: newFinal().same(k, reg("v2"), reg("v9")), unexpect: []string{k + " v9"}},
		{name: "refused write present", hist: func() *hist {
			h := base()
			h.write(0, k, "v3", "c2", fail, "")
			return h
		}, final: newFinal().same(k, reg("v3")), unexpect: []string{k + " v3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.hist().ops, tc.final.f)
			if got := items(r.Lost); !slices.Equal(got, tc.lost) {
				t.Errorf("lost = %v, want %v", got, tc.lost)
			}
			if got := items(r.Unexpected); !slices.Equal(got, tc.unexpect) {
				t.Errorf("unexpected = %v, want %v", got, tc.unexpect)
			}
			if got := items(r.Stale); !slices.Equal(got, tc.old) {
				t.Errorf("stale = %v, want %v", got, tc.old)
			}
		})
	}
}

// TestCheck_ReadsDuringTheRun: what reads see while the run goes on must
// have been written, and not refused.
func TestCheck_ReadsDuringTheRun(t *testing.T) {
	const k = "reg/1/0"
	h := &hist{}
	h.read(1, k, []string{"v1"}, "r0") // before v1 was written
	h.write(0, k, "v1", "", ok, "c1")
	h.write(0, k, "v2", "c1", fail, "")
	h.read(1, k, []string{"v2"}, "r1")       // a refused write
	h.read(1, k, []string{"zzz"}, "r2")      // never written
	h.read(1, k, []string{"v1"}, "r3")       // fine
	h.write(0, k, "v3", "c1", ok, "c3")      // supersedes v1
	h.read(1, k, []string{"v1", "v3"}, "r4") // v1 next to what superseded it
	r := Check(h.ops, newFinal().same(k, reg("v3")).f)
	if got, want := items(r.Unexpected), []string{k + " v1", k + " v2", k + " zzz"}; !slices.Equal(got, want) {
		t.Errorf("unexpected = %v, want %v", got, want)
	}
	if got, want := items(r.Stale), []string{k + " v1"}; !slices.Equal(got, want) {
		t.Errorf("stale = %v, want %v", got, want)
	}
	if r.Reads != 5 || r.ReadsOK != 5 || r.Attempted != 3 || r.Acknowledged != 2 || r.Failed != 1 {
		t.Errorf("counts: %+v", r)
	}
}

// TestCheck_Divergent: nodes that disagree, a node that cannot answer, and
// partitions whose replicas' Merkle roots differ or are missing.
func TestCheck_Divergent(t *testing.T) {
	const k = "reg/0/0"
	h := &hist{}
	h.write(0, k, "v1", "", ok, "c1")
	h.write(0, k, "v2", "c1", unknown, "")

	agree := newFinal().same(k, reg("v2"))
	agree.f.Replicas = [][]string{{"n1", "n2", "n3"}}
	agree.f.Roots = map[string]map[uint32]uint64{"n1": {0: 7}, "n2": {0: 7}, "n3": {0: 7}}
	if r := Check(h.ops, agree.f); !r.OK() {
		t.Fatalf("agreeing nodes reported: %+v", r)
	}

	tests := []struct {
		name   string
		change func(f *history.Final)
		want   string
	}{
		{"final reads differ", func(f *history.Final) {
			f.Reads[k]["n3"] = history.FinalRead{Found: true, Siblings: []history.FinalSibling{reg("v1")}}
		}, "final reads differ"},
		{"node cannot read", func(f *history.Final) {
			f.Reads[k]["n2"] = history.FinalRead{Err: "timeout"}
		}, "could not read"},
		{"merkle roots differ", func(f *history.Final) { f.Roots["n2"] = map[uint32]uint64{0: 8} }, "roots differ"},
		{"merkle root missing", func(f *history.Final) { f.Roots["n3"] = map[uint32]uint64{} }, "no Merkle root"},
		{"key never read", func(f *history.Final) { delete(f.Reads, k) }, "no final read"},
		// Status failed on every node: no roots, and the ring is unknown.
		// The comparison cannot run, and that fails the run.
		{"no ring, no roots", func(f *history.Final) {
			f.Replicas, f.Roots = nil, map[string]map[uint32]uint64{}
			f.RootsErr = "n1 status: connection refused; n1 ring: connection refused"
		}, "not compared: no node answered with the ring: n1 status: connection refused"},
		{"status failed everywhere, ring known", func(f *history.Final) {
			f.Roots = map[string]map[uint32]uint64{}
		}, "no Merkle root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFinal().same(k, reg("v2")).f
			f.Replicas = agree.f.Replicas
			f.Roots = map[string]map[uint32]uint64{"n1": {0: 7}, "n2": {0: 7}, "n3": {0: 7}}
			tc.change(&f)
			r := Check(h.ops, f)
			if r.OK() || len(r.Divergent) != 1 || !strings.Contains(r.Divergent[0].Reason, tc.want) {
				t.Fatalf("divergent = %v, want one finding about %q", r.Divergent, tc.want)
			}
		})
	}

	notConverged := agree.f
	notConverged.Converged, notConverged.ConvergeErr = false, "hints pending"
	if r := Check(h.ops, notConverged); r.OK() {
		t.Fatal("a run that did not converge passed")
	}
}

// TestCheck_SiblingsAgainstConcurrency: siblings up to the number of
// truly concurrent writes are fine; more is a finding.
func TestCheck_SiblingsAgainstConcurrency(t *testing.T) {
	const k = "set/1"
	h := &hist{}
	// Two clients interleave 10 adds each, every one reading the other's
	// last write only: at most 2 concurrent writes at any point.
	lastA, lastB := "", ""
	for i := range 10 {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		var readA []string
		if lastB != "" {
			readA = []string{lastB}
		}
		h.add(0, k, a, readA, "ctx-"+lastB, ok, "ack-"+a)
		var readB []string
		if lastA != "" {
			readB = []string{lastA}
		}
		h.add(1, k, b, readB, "ctx-"+lastA, ok, "ack-"+b)
		lastA, lastB = a, b
	}
	var all []string
	for i := range 10 {
		all = append(all, fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i))
	}
	fin := newFinal().same(k, set("a9", 1, all...), set("b9", 2, all...))
	r := Check(h.ops, fin.f)
	if !r.OK() || r.MaxSiblings != 2 || r.KeyConcurrency != 2 {
		t.Fatalf("two interleaved writers: ok=%v max siblings %d, concurrency %d, findings %v %v %v",
			r.OK(), r.MaxSiblings, r.KeyConcurrency, r.Lost, r.Stale, r.SiblingExcess)
	}

	// One answer with three siblings where only two writes were ever
	// concurrent.
	h.op(history.Op{Type: history.Invoke, Client: 2, F: history.Read, Key: k})
	h.op(history.Op{Type: history.Ok, Client: 2, F: history.Read, Key: k, Read: []string{"a9", "b9"}, Siblings: 2})
	h.ops[len(h.ops)-1].Read = []string{"a9", "b9", "a8"}
	r = Check(h.ops, fin.f)
	// a8 is in b9's past: the answer is stale as well as too wide.
	if got, want := items(r.Stale), []string{k + " a8"}; !slices.Equal(got, want) || len(r.SiblingExcess) != 1 {
		t.Fatalf("stale = %v, want %v; excess = %v", got, want, r.SiblingExcess)
	}

	// An acknowledgement claiming 3 siblings, which two writers cannot
	// make.
	h2 := &hist{ops: slices.Clone(h.ops[:len(h.ops)-2])}
	h2.ops[len(h2.ops)-1].Siblings = 3
	r = Check(h2.ops, fin.f)
	if len(r.SiblingExcess) != 1 || r.OK() {
		t.Fatalf("an acknowledgement with 3 siblings from 2 writers: excess %v", r.SiblingExcess)
	}
}

// TestLWW_LosesConcurrentAdds is the checker proving it can fail: the same
// history and final state pass with the siblings kept, and report lost
// elements once a last-write-wins resolver reduced each final read to one
// sibling.
func TestLWW_LosesConcurrentAdds(t *testing.T) {
	h := &hist{}
	const k = "set/2"
	h.add(0, k, "a", nil, "", ok, "ca")
	h.add(1, k, "b", nil, "", ok, "cb") // concurrent with a
	h.add(2, k, "c", []string{"a"}, "cx", ok, "cc")
	h.write(3, "reg/3/0", "r1", "", ok, "cr1")
	fin := newFinal().same(k, set("c", 30, "a", "c"), set("b", 20, "b")).same("reg/3/0", reg("r1"))

	if r := Check(h.ops, fin.f); !r.OK() {
		t.Fatalf("siblings kept: %+v", r)
	}
	r := Check(h.ops, lwwFinal(fin.f))
	if got, want := items(r.Lost), []string{k + " b"}; !slices.Equal(got, want) {
		t.Fatalf("last-write-wins: lost = %v, want %v", got, want)
	}
	if r.OK() {
		t.Fatal("a lossy resolver passed the checker")
	}
	// LWW must not change its input.
	if len(fin.f.Reads[k]["n1"].Siblings) != 2 {
		t.Fatal("LWW changed the final state it was given")
	}
}

// TestCheck_RegisterLostByAResolvingClient: the register rule on shared
// registers. Clients 0 and 1 write A and B concurrently; client 2 reads
// (the server's context covers both) and writes C with that context. If
// its read handed it both, C superseded both and nothing is lost. If its
// client library resolved the read to the latest value only (B), the
// history shows C superseding B alone: A is lost, unless it survives.
func TestCheck_RegisterLostByAResolvingClient(t *testing.T) {
	const k = "reg/shared/0"
	base := func(seen ...string) *hist {
		h := &hist{}
		h.read(0, k, nil, "")
		h.write(0, k, "A", "", ok, "cA")
		h.read(1, k, nil, "")
		h.write(1, k, "B", "", ok, "cB")
		h.read(2, k, seen, "cAB")
		h.write(2, k, "C", "cAB", ok, "cC")
		return h
	}
	tests := []struct {
		name  string
		hist  *hist
		final *final
		lost  []string
	}{
		{"read saw both, C supersedes them", base("A", "B"), newFinal().same(k, reg("C")), nil},
		{"read resolved to B, A overwritten unseen", base("B"), newFinal().same(k, reg("C")), []string{k + " A"}},
		{"read resolved to B, A survives as a sibling", base("B"), newFinal().same(k, reg("A"), reg("C")), nil},
		{"supersession is transitive", func() *hist {
			h := base("A", "B")
			h.read(0, k, []string{"C"}, "cC2")
			h.write(0, k, "D", "cC2", ok, "cD")
			return h
		}(), newFinal().same(k, reg("D")), nil},
		{"a resolved read breaks the chain", func() *hist {
			h := base("B")
			h.read(0, k, []string{"C"}, "cC2")
			h.write(0, k, "D", "cC2", ok, "cD")
			return h
		}(), newFinal().same(k, reg("D")), []string{k + " A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.hist.ops, tc.final.f)
			if got := items(r.Lost); !slices.Equal(got, tc.lost) {
				t.Fatalf("lost = %v, want %v", got, tc.lost)
			}
			if !r.CleanButLost() {
				t.Fatalf("findings besides lost: %+v", r)
			}
			sets, regs := r.LostByKind()
			if sets != 0 || regs != len(tc.lost) {
				t.Fatalf("LostByKind = %d sets, %d registers; want 0, %d", sets, regs, len(tc.lost))
			}
		})
	}
}

// TestCheck_Malformed: a completion without its invoke is counted and
// fails the run rather than being ignored.
func TestCheck_Malformed(t *testing.T) {
	h := &hist{}
	h.op(history.Op{Type: history.Ok, Client: 0, F: history.Write, Key: "reg/0/0", Value: "v1", Ctx: "c"})
	r := Check(h.ops, newFinal().f)
	if r.Malformed != 1 || r.OK() {
		t.Fatalf("malformed = %d, ok = %v", r.Malformed, r.OK())
	}
}

// TestCheck_Availability counts every operation, reads included.
func TestCheck_Availability(t *testing.T) {
	h := &hist{}
	h.write(0, "reg/0/0", "v1", "", ok, "c1")
	h.write(0, "reg/0/0", "v2", "c1", unknown, "")
	h.write(0, "reg/0/0", "v3", "c1", fail, "")
	h.read(1, "reg/0/0", []string{"v1"}, "r")
	r := Check(h.ops, newFinal().same("reg/0/0", reg("v1"), reg("v2")).f)
	if r.Availability() != 50 || r.Indeterminate != 1 || r.Failed != 1 {
		t.Fatalf("availability %.1f%%, report %+v", r.Availability(), r)
	}
}

// TestWidth_MatchesBruteForce checks the Dilworth computation against a
// brute-force search for the largest antichain on random small orders.
func TestWidth_MatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + rng.IntN(11)
		// A random DAG in index order, then its transitive closure.
		pasts := make([]bitset, n)
		for j := range n {
			for i := range j {
				if rng.IntN(3) == 0 {
					pasts[j].set(i)
					pasts[j].orIn(pasts[i])
				}
			}
		}
		live := make([]int, n)
		for i := range live {
			live[i] = i
		}
		got, exact := width(live, pasts)
		want := 0
		for mask := 1; mask < 1<<n; mask++ {
			anti := true
			for a := 0; a < n && anti; a++ {
				for b := 0; b < n && anti; b++ {
					if mask&(1<<a) != 0 && mask&(1<<b) != 0 && pasts[b].has(a) {
						anti = false
					}
				}
			}
			if anti {
				want = max(want, bitset{uint64(mask)}.count())
			}
		}
		if got != want || !exact {
			t.Fatalf("trial %d (n=%d): width %d (exact %v), brute force %d; pasts %v", trial, n, got, exact, want, pasts)
		}
	}
}

// TestHistory_RoundTrip: a history survives its JSON-lines encoding.
func TestHistory_RoundTrip(t *testing.T) {
	h := &hist{}
	h.add(0, "set/0", "a", []string{"x", "y"}, "ctx", ok, "ack")
	h.op(history.Op{Type: history.Nemesis, Client: -1, Detail: "kill n2"})
	var b strings.Builder
	enc := history.NewEncoder(&b)
	for _, op := range h.ops {
		if err := enc.Encode(op); err != nil {
			t.Fatal(err)
		}
	}
	got, err := history.Decode(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(h.ops) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, h.ops)
	}
	if _, err := history.Decode(strings.NewReader(b.String() + `{"i":3,"ty`)); err == nil {
		t.Fatal("a cut last line decoded without error")
	}
}

// TestCheck_FoundNothing counts the reads that answered not-found for a
// key a write of which was acknowledged before the read was invoked, and
// only those: a read that began before the acknowledgement, a write never
// acknowledged, a read that failed or found something, and an add whose
// read may not have answered are not counted. The count is reported, not
// judged: the run stays OK.
func TestCheck_FoundNothing(t *testing.T) {
	const k, other = "reg/0/0", "reg/1/0"
	const s = "set/0"
	tests := []struct {
		name string
		hist func() *hist
		// want lists each counted read as "key item op", op being the
		// read's completion.
		want []string
	}{
		{name: "read before any write", hist: func() *hist {
			h := &hist{}
			h.read(1, k, nil, "")              // ops 0-1
			h.write(0, k, "v1", "", ok, "c1")  // ops 2-3
			h.read(1, k, []string{"v1"}, "r1") // ops 4-5
			return h
		}},
		{name: "read after the acknowledgement", hist: func() *hist {
			h := &hist{}
			h.write(0, k, "v1", "", ok, "c1") // ops 0-1
			h.read(1, k, nil, "")             // ops 2-3
			h.read(2, k, nil, "")             // ops 4-5
			return h
		}, want: []string{k + " v1 3", k + " v1 5"}},
		{name: "the first acknowledgement is named", hist: func() *hist {
			h := &hist{}
			h.write(0, k, "v1", "", ok, "c1")   // ops 0-1
			h.write(0, k, "v2", "c1", ok, "c2") // ops 2-3
			h.read(1, k, nil, "")               // ops 4-5
			return h
		}, want: []string{k + " v1 5"}},
		{name: "read invoked before the acknowledgement", hist: func() *hist {
			h := &hist{}
			h.op(history.Op{Type: history.Invoke, Client: 1, Node: "n2", F: history.Read, Key: k})
			h.op(history.Op{Type: history.Invoke, Client: 0, Node: "n1", F: history.Write, Key: k, Value: "v1"})
			h.op(history.Op{Type: history.Ok, Client: 0, Node: "n1", F: history.Write, Key: k, Value: "v1", Ctx: "c1", Siblings: 1})
			h.op(history.Op{Type: history.Ok, Client: 1, Node: "n2", F: history.Read, Key: k})
			return h
		}},
		{name: "writes not acknowledged", hist: func() *hist {
			h := &hist{}
			h.write(0, k, "v1", "", unknown, "")
			h.write(0, k, "v2", "", fail, "")
			h.read(1, k, nil, "")
			return h
		}},
		{name: "another key's acknowledgement", hist: func() *hist {
			h := &hist{}
			h.write(0, other, "w1", "", ok, "c1")
			h.read(1, k, nil, "")
			return h
		}},
		{name: "read that found something or failed", hist: func() *hist {
			h := &hist{}
			h.write(0, k, "v1", "", ok, "c1")
			h.read(1, k, []string{"v1"}, "r1")
			h.op(history.Op{Type: history.Invoke, Client: 1, Node: "n2", F: history.Read, Key: k})
			h.op(history.Op{Type: history.Fail, Client: 1, Node: "n2", F: history.Read, Key: k, Error: "503"})
			return h
		}},
		{name: "adds whose read found nothing", hist: func() *hist {
			h := &hist{}
			h.add(0, s, "a", nil, "", ok, "ca")              // ops 0-1: nothing acknowledged yet
			h.add(1, s, "b", nil, "", ok, "cb")              // ops 2-3: acknowledged, so it answered
			h.add(2, s, "c", nil, "", unknown, "")           // ops 4-5: the write was sent, so the read answered
			h.add(3, s, "d", nil, "ctx-empty", fail, "")     // ops 6-7: refused, the read's context shows it answered
			h.add(4, s, "e", []string{"a"}, "ca2", ok, "ce") // ops 8-9: found a
			return h
		}, want: []string{s + " a 3", s + " a 5", s + " a 7"}},
		{name: "adds whose read may not have answered", hist: func() *hist {
			h := &hist{}
			h.add(0, s, "a", nil, "", ok, "ca")
			// The read failed: nothing was written, nothing seen.
			h.op(history.Op{Type: history.Invoke, Client: 1, Node: "n1", F: history.Add, Key: s, Value: "b"})
			h.op(history.Op{Type: history.Fail, Client: 1, Node: "n1", F: history.Add, Key: s, Value: "b", Error: "read: 503"})
			// Never completed: the checker's stand-in completion says
			// nothing of what the read saw.
			h.op(history.Op{Type: history.Invoke, Client: 2, Node: "n1", F: history.Add, Key: s, Value: "c"})
			return h
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.hist()
			r := Check(h.ops, newFinal().f)
			var got []string
			for _, f := range r.FoundNothing {
				got = append(got, fmt.Sprintf("%s %s %d", f.Key, f.Item, f.Op))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("found nothing = %v, want %v; findings %v", got, tc.want, r.FoundNothing)
			}
		})
	}

	// A run with a false not-found and nothing else wrong passes OK: the
	// scenario, not the checker, says whether its faults allow one.
	h := &hist{}
	h.write(0, k, "v1", "", ok, "c1")
	h.read(1, k, nil, "")
	r := Check(h.ops, newFinal().same(k, reg("v1")).f)
	if len(r.FoundNothing) != 1 || !r.OK() {
		t.Fatalf("found nothing %v, OK %v: want one finding and OK; report %+v", r.FoundNothing, r.OK(), r)
	}
}
