package checker

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dhtkv/dht/test/chaos/history"
)

// load reads a run that dhtchaos recorded: testdata/<name> holds its
// history.jsonl and final.json, gzipped. union and lww are 8 seconds of
// the partition scenario with 4 clients (-seed 42 -scenarios partition
// -faults 8s -clients 4 -keep), one with the clients merging siblings by
// union, one with the lossy last-write-wins resolver (-resolver lww).
// lww-registers is the self-test of a `make chaos-short` run (seed
// 576710523236286056, selftest-lww): 20 s of partitions, 8 clients
// resolving by last-write-wins, 2 shared registers.
func load(t *testing.T, name string) ([]history.Op, history.Final) {
	t.Helper()
	open := func(file string) *gzip.Reader {
		f, err := os.Open(filepath.Join("testdata", name, file+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	ops, err := history.Decode(open("history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	final, err := history.DecodeFinal(open("final.json"))
	if err != nil {
		t.Fatal(err)
	}
	return ops, final
}

// TestRecorded_UnionRunPasses: a real run whose clients keep every
// sibling loses nothing; take one acknowledged element out of the final
// state and the checker names exactly it.
func TestRecorded_UnionRunPasses(t *testing.T) {
	ops, final := load(t, "union")
	r := Check(ops, final)
	if !r.OK() || r.Acknowledged < 100 || r.Indeterminate == 0 {
		t.Fatalf("recorded union run: ok=%v acknowledged=%d indeterminate=%d lost=%v unexpected=%v stale=%v divergent=%v",
			r.OK(), r.Acknowledged, r.Indeterminate, r.Lost, r.Unexpected, r.Stale, r.Divergent)
	}

	// Drop the first acknowledged element of set/0 from every node's answer.
	var victim string
	for _, op := range ops {
		if op.Type == history.Ok && op.F == history.Add && op.Key == "set/0" {
			victim = op.Value
			break
		}
	}
	for node, read := range final.Reads["set/0"] {
		var sibs []history.FinalSibling
		for _, s := range read.Siblings {
			s.Elems = slices.DeleteFunc(slices.Clone(s.Elems), func(e string) bool { return e == victim })
			sibs = append(sibs, s)
		}
		read.Siblings = sibs
		final.Reads["set/0"][node] = read
	}
	r = Check(ops, final)
	if got := items(r.Lost); !slices.Equal(got, []string{"set/0 " + victim}) {
		t.Fatalf("after removing %s: lost = %v", victim, got)
	}
}

// TestRecorded_FoundNothingCountsExactlyTheEmptiedRead: the recorded union
// run has no read that found nothing after an acknowledgement; empty the
// answer of one read that came after one, and the checker counts that read
// and no other.
func TestRecorded_FoundNothingCountsExactlyTheEmptiedRead(t *testing.T) {
	ops, final := load(t, "union")
	if r := Check(ops, final); len(r.FoundNothing) != 0 {
		t.Fatalf("recorded union run: found nothing %d, e.g. %v", len(r.FoundNothing), r.FoundNothing[0])
	}
	acked := map[string]bool{}
	invokedAfterAck := map[int]bool{} // client -> its open read began after an ack of its key
	victim := -1
	for i, op := range ops {
		switch {
		case op.Type == history.Ok && op.IsWrite():
			acked[op.Key] = true
		case op.Type == history.Invoke && op.F == history.Read:
			invokedAfterAck[op.Client] = acked[op.Key]
		case op.Type == history.Ok && op.F == history.Read && len(op.Read) > 0 && invokedAfterAck[op.Client]:
			victim = i
		}
		if victim >= 0 {
			break
		}
	}
	if victim < 0 {
		t.Fatal("no read after an acknowledgement in the recorded run")
	}
	ops[victim].Read, ops[victim].Siblings = nil, 0
	r := Check(ops, final)
	if len(r.FoundNothing) != 1 || r.FoundNothing[0].Op != ops[victim].Index || r.FoundNothing[0].Key != ops[victim].Key {
		t.Fatalf("after emptying read op %d of %s: found nothing = %v", ops[victim].Index, ops[victim].Key, r.FoundNothing)
	}
}

// TestRecorded_LWWRunLosesSetElements: in a real run whose clients
// resolved siblings by last-write-wins, the checker reports lost set
// elements, and nothing it should not. The final state is checked as
// recorded, every sibling kept: the losses are the clients' own writes
// that dropped elements.
func TestRecorded_LWWRunLosesSetElements(t *testing.T) {
	ops, final := load(t, "lww")
	r := Check(ops, final)
	if len(r.Lost) == 0 {
		t.Fatal("the last-write-wins run passed the checker")
	}
	for _, f := range r.Lost {
		if !strings.HasPrefix(f.Key, history.SetPrefix) {
			t.Errorf("lost on a register, which has one writer: %v", f)
		}
	}
	if len(r.Unexpected) != 0 || len(r.Stale) != 0 || len(r.Divergent) != 0 {
		t.Errorf("unexpected=%v stale=%v divergent=%v", r.Unexpected, r.Stale, r.Divergent)
	}
	t.Logf("last-write-wins lost %d of %d acknowledged writes, e.g. %v", len(r.Lost), r.Acknowledged, r.Lost[0])
}

// TestRecorded_LWWSelfTestLosesRegisterWrites: in the self-test of a real
// run, whose clients resolved reads by last-write-wins and overwrote shared
// registers with the resolved read's context, the checker reports lost
// register writes by the register rule, as well as lost set elements, and
// nothing else. The final state keeps every sibling: the losses are the
// clients'.
func TestRecorded_LWWSelfTestLosesRegisterWrites(t *testing.T) {
	ops, final := load(t, "lww-registers")
	r := Check(ops, final)
	sets, regs := r.LostByKind()
	if sets == 0 || regs == 0 {
		t.Fatalf("lost set elements %d, lost register writes %d; want both > 0", sets, regs)
	}
	if !r.CleanButLost() {
		t.Fatalf("findings besides lost: unexpected=%v stale=%v divergent=%v excess=%v", r.Unexpected, r.Stale, r.Divergent, r.SiblingExcess)
	}
	for _, f := range r.Lost {
		if history.KindOf(f.Key) == history.KindRegister && !strings.Contains(f.Reason, "neither a final sibling nor superseded") {
			t.Errorf("register loss for another reason: %v", f)
		}
	}
	// Every final sibling was kept: more than one on some register, which
	// a last-write-wins reduction of the final state would have hidden.
	multi := 0
	for key, byNode := range final.Reads {
		if history.KindOf(key) == history.KindRegister && len(byNode["n1"].Siblings) > 1 {
			multi++
		}
	}
	var example Finding
	for _, f := range r.Lost {
		if history.KindOf(f.Key) == history.KindRegister {
			example = f
			break
		}
	}
	t.Logf("%d acknowledged writes: lost %d set elements and %d register writes, e.g. %v; registers with several final siblings: %d",
		r.Acknowledged, sets, regs, example, multi)
}
