package quorum_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
)

// TestMachines_Scenarios runs the stories in testdata/scenarios: a
// coordinator's events in, the machine's effects out, one per line. After a
// deliberate change, rewrite the expected output with
//
//	go test ./internal/quorum -run Scenarios -rewrite
//
// The commands:
//
//	put n=3 w=2 [pw=1] targets=(a,b,d>c)   a write; "d>c": d is a fallback for c
//	get n=3 r=2 [pr=1] targets=(a,b,c)     a read (ReadTargets picks the primaries)
//	minted [node=a] obj=v1                 the coordinator's early answer
//	coordinated [node=a] obj=v1            the coordinator's write is durable
//	coordinator-late node=a                a's coordinator deadline passed
//	acked node=b | failed node=b           a replica's answer to the object
//	refused [node=a] msg=...               the coordinator refused the write
//
// A minted, coordinated or refused line without node= is the first
// coordinating replica's answer.
//
//	answered node=a obj=v1 | failed node=a a replica's answer to a read
//	timeout                                the request's deadline passed
//	send node=a kind=replicate             the ledger numbers a message
//	answer id=1 | again id=1 | late | give-up
//
// Objects are named: empty, v1, v2 and v3 (v2 and v3 concurrent successors
// of v1), v23 (their merge) and v4 (written over v23).
func TestMachines_Scenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		s := &story{objects: scenarioObjects(t)}
		datadriven.RunTest(t, path, s.run)
	})
}

type story struct {
	objects map[string]dvv.Set
	put     *quorum.Put
	get     *quorum.Get
	// coord is the write's first coordinating replica: the node of a
	// minted, coordinated or refused line that names none.
	coord  string
	ledger quorum.Ledger
	// ids of the ledger's messages, by the order they were sent.
	ids []uint64
}

func (s *story) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "put":
		s.put, s.get = quorum.NewPut(scanParams(t, d), scanTargets(t, d)), nil
		eff := s.put.Start()
		s.coord = ""
		if eff.Coordinate != nil {
			s.coord = eff.Coordinate.Node
		}
		return s.putEffects(eff)
	case "get":
		s.put, s.get = nil, quorum.NewGet(scanParams(t, d), quorum.ReadTargets(scanTargets(t, d)))
		return s.getEffects(s.get.Start())
	case "minted":
		return s.putEffects(s.put.Minted(s.coordinator(t, d), s.object(t, d)))
	case "coordinated":
		return s.putEffects(s.put.Coordinated(s.coordinator(t, d), s.object(t, d)))
	case "coordinator-late":
		return s.putEffects(s.put.CoordinatorLate(scanString(t, d, "node")))
	case "acked":
		return s.putEffects(s.put.Acked(scanString(t, d, "node")))
	case "refused":
		return s.putEffects(s.put.Refused(s.coordinator(t, d), errors.New(scanString(t, d, "msg"))))
	case "answered":
		return s.getEffects(s.get.Answered(scanString(t, d, "node"), s.object(t, d)))
	case "failed":
		if s.get != nil {
			return s.getEffects(s.get.Failed(scanString(t, d, "node")))
		}
		return s.putEffects(s.put.Failed(scanString(t, d, "node")))
	case "timeout":
		if s.get != nil {
			return s.getEffects(s.get.Timeout())
		}
		return s.putEffects(s.put.Timeout())
	default:
		return s.runLedger(t, d)
	}
}

func (s *story) runLedger(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "send":
		kind := parseKind(t, d, scanString(t, d, "kind"))
		id, awaited := s.ledger.Send(scanString(t, d, "node"), kind)
		s.ids = append(s.ids, id)
		return fmt.Sprintf("id=%d awaited=%t awaiting=%d", id, awaited, s.ledger.Awaiting())
	case "answer", "again":
		var id uint64
		d.ScanArgs(t, "id", &id)
		if d.Cmd == "again" {
			s.ledger.AwaitAgain(id, quorum.Outstanding{Node: scanString(t, d, "node"), Kind: parseKind(t, d, scanString(t, d, "kind"))})
			return fmt.Sprintf("awaiting=%d", s.ledger.Awaiting())
		}
		o, ok := s.ledger.Answer(id)
		if !ok {
			return fmt.Sprintf("stale: ignored; awaiting=%d", s.ledger.Awaiting())
		}
		return fmt.Sprintf("%s from %s; awaiting=%d", o.Kind, o.Node, s.ledger.Awaiting())
	case "late":
		return "hint for: " + orNone(s.ledger.Late())
	case "give-up":
		s.ledger.GiveUp()
		return fmt.Sprintf("awaiting=%d", s.ledger.Awaiting())
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return ""
}

func (s *story) putEffects(eff quorum.PutEffects) string {
	var out []string
	if t := eff.Coordinate; t != nil {
		out = append(out, "coordinate at "+t.Node)
	}
	if eff.Minter != "" && len(eff.Replicate) == 0 {
		out = append(out, fmt.Sprintf("%s minted %s", eff.Minter, s.name(eff.Object)))
	}
	for _, t := range eff.Replicate {
		if t.HintFor != "" {
			out = append(out, fmt.Sprintf("hint %s to %s for %s", s.name(eff.Object), t.Node, t.HintFor))
			continue
		}
		out = append(out, fmt.Sprintf("replicate %s to %s", s.name(eff.Object), t.Node))
	}
	if r := eff.Reply; r != nil {
		if r.Err != nil {
			out = append(out, fmt.Sprintf("reply error acks=%d: %v", r.Acks, r.Err))
		} else {
			out = append(out, fmt.Sprintf("reply ok acks=%d object=%s", r.Acks, s.name(r.Object)))
		}
	}
	out = append(out, fmt.Sprintf("done=%t", s.put.Done()))
	return strings.Join(out, "\n")
}

func (s *story) getEffects(eff quorum.GetEffects) string {
	var out []string
	if len(eff.Ask) > 0 {
		var nodes []string
		for _, t := range eff.Ask {
			nodes = append(nodes, t.Node)
		}
		out = append(out, "ask "+strings.Join(nodes, " "))
	}
	if r := eff.Reply; r != nil {
		if r.Err != nil {
			out = append(out, fmt.Sprintf("reply error: %v", r.Err))
		} else {
			out = append(out, "reply ok object="+s.name(r.Object))
		}
	}
	for _, t := range eff.Repair {
		out = append(out, fmt.Sprintf("repair %s with %s", t.Node, s.name(eff.Merged)))
	}
	out = append(out, fmt.Sprintf("done=%t", s.get.Done()))
	return strings.Join(out, "\n")
}

// name returns the name of a known object, or its live values.
func (s *story) name(obj dvv.Set) string {
	for _, n := range []string{"empty", "v1", "v2", "v3", "v23", "v4"} {
		if s.objects[n].Equal(obj) {
			return n
		}
	}
	var vals []string
	for _, sib := range obj.Siblings {
		vals = append(vals, string(sib.Value))
	}
	return "[" + strings.Join(vals, " ") + "]"
}

// coordinator returns the node= argument, or the write's first
// coordinating replica when there is none.
func (s *story) coordinator(t *testing.T, d *datadriven.TestData) string {
	if d.HasArg("node") {
		return scanString(t, d, "node")
	}
	return s.coord
}

func (s *story) object(t *testing.T, d *datadriven.TestData) dvv.Set {
	name := scanString(t, d, "obj")
	obj, ok := s.objects[name]
	if !ok {
		d.Fatalf(t, "unknown object %q", name)
	}
	return obj
}

// scenarioObjects builds the named objects with dvv's own Update and Merge,
// so that every one is a valid set.
func scenarioObjects(t *testing.T) map[string]dvv.Set {
	t.Helper()
	update := func(s dvv.Set, v string, d dvv.Dot) dvv.Set {
		out, err := s.Update(s.Context, dvv.Sibling{Value: []byte(v), ContentType: "text/plain", Timestamp: 1}, d, 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	o := map[string]dvv.Set{"empty": {}}
	o["v1"] = update(o["empty"], "v1", dvv.Dot{Actor: 1, Counter: 1})
	o["v2"] = update(o["v1"], "v2", dvv.Dot{Actor: 1, Counter: 2})
	o["v3"] = update(o["v1"], "v3", dvv.Dot{Actor: 2, Counter: 1})
	o["v23"] = dvv.Merge(o["v2"], o["v3"])
	o["v4"] = update(o["v23"], "v4", dvv.Dot{Actor: 1, Counter: 3})
	return o
}

func scanParams(t *testing.T, d *datadriven.TestData) quorum.Params {
	var p quorum.Params
	d.ScanArgs(t, "n", &p.N)
	d.MaybeScanArgs(t, "r", &p.R)
	d.MaybeScanArgs(t, "w", &p.W)
	d.MaybeScanArgs(t, "pr", &p.PR)
	d.MaybeScanArgs(t, "pw", &p.PW)
	return p
}

// scanTargets reads targets=(a,b,d>c): a and b primaries, d a fallback
// keeping hints for c.
func scanTargets(t *testing.T, d *datadriven.TestData) []quorum.Target {
	arg, ok := d.Arg("targets")
	if !ok {
		return nil
	}
	var ts []quorum.Target
	for _, v := range arg.Vals {
		if node, owner, found := strings.Cut(v, ">"); found {
			ts = append(ts, quorum.Target{Node: node, HintFor: owner})
			continue
		}
		ts = append(ts, quorum.Target{Node: v, Primary: true})
	}
	return ts
}

func scanString(t *testing.T, d *datadriven.TestData, key string) string {
	var v string
	d.ScanArgs(t, key, &v)
	return v
}

func parseKind(t *testing.T, d *datadriven.TestData, name string) quorum.Kind {
	for k := quorum.KindCoordinate; k <= quorum.KindRepair; k++ {
		if k.String() == name {
			return k
		}
	}
	d.Fatalf(t, "unknown kind %q", name)
	return 0
}

func orNone(nodes []string) string {
	if len(nodes) == 0 {
		return "none"
	}
	return strings.Join(nodes, " ")
}
