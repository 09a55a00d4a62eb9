package ring

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestCommands_Stories runs the scenarios in testdata/commands: each file
// is one ring's story, commands in, outcome and state out. Rewrite the
// expected output with -rewrite after a deliberate change.
//
// The language:
//
//	join on=a [zone=z]                      a runs `dhtctl join a`
//	join on=a node=b                        a is asked to join b (refused)
//	decommission node=b                     `dhtctl decommission b`
//	force-remove on=a node=b [alive=b,c]    `dhtctl force-remove b` run on a
//	gossip peer=x                           x gossips the state in the input
//	compatible ours=c/256/3 theirs=d/256/3  would a peer of that shape be heard
//	hint-redirect target=d alive=a,b q=8 n=3  where d's hints go, per partition
//	state                                   print the ring
//
// A gossiped state's lines are `id [zone=z] join=v [removed=v]` and
// `handoff id p=3 since=v`.
func TestCommands_Stories(t *testing.T) {
	datadriven.Walk(t, "testdata/commands", func(t *testing.T, path string) {
		var s State
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var err error
			next := s
			switch d.Cmd {
			case "join":
				var on, zone string
				d.ScanArgs(t, "on", &on)
				d.MaybeScanArgs(t, "zone", &zone)
				node := on
				d.MaybeScanArgs(t, "node", &node)
				next, err = s.JoinSelf(Member{ID: on, Zone: zone}, node)
			case "decommission":
				var node string
				d.ScanArgs(t, "node", &node)
				next, err = s.Decommission(node)
			case "force-remove":
				var on, node string
				d.ScanArgs(t, "on", &on)
				d.ScanArgs(t, "node", &node)
				next, err = s.ForceRemove(node, on, aliveArg(t, d))
			case "gossip":
				var peer string
				d.MaybeScanArgs(t, "peer", &peer)
				theirs := parseState(t, d.Input)
				admitted := s.Admit(peer, theirs)
				s = Merge(s, admitted)
				return "admitted:\n" + indent(printState(admitted)) + "ring:\n" + indent(printState(s))
			case "compatible":
				ours, theirs := parseShape(t, d, "ours"), parseShape(t, d, "theirs")
				if ours.Compatible(theirs) {
					return "compatible"
				}
				return "incompatible: nothing it says is merged, it is never routed to"
			case "hint-redirect":
				return hintRedirect(t, d, s)
			case "state":
				return printState(s)
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			if err != nil {
				if next.Digest() != s.Digest() {
					t.Fatalf("a refused command changed the state")
				}
				return "refused: " + err.Error() + ruleName(err)
			}
			s = next
			return "ok\n" + printState(s)
		})
	})
}

func ruleName(err error) string {
	for name, rule := range map[string]error{
		"ErrNotMember": ErrNotMember, "ErrAlreadyRemoved": ErrAlreadyRemoved, "ErrLastOwner": ErrLastOwner,
		"ErrRemoveSelf": ErrRemoveSelf, "ErrAlive": ErrAlive, "ErrJoinOther": ErrJoinOther,
	} {
		if errors.Is(err, rule) {
			return " (" + name + ")"
		}
	}
	return ""
}

func hintRedirect(t *testing.T, d *datadriven.TestData, s State) string {
	var target string
	var q, n int
	d.ScanArgs(t, "target", &target)
	d.ScanArgs(t, "q", &q)
	d.ScanArgs(t, "n", &n)
	plan, alive := NewPlan(q, n, s), aliveArg(t, d)
	var b strings.Builder
	for p := range uint32(q) {
		serving, _ := plan.Serving(p, alive)
		to, redirect := plan.HintRedirect(target, p, alive)
		switch {
		case !redirect:
			fmt.Fprintf(&b, "p%d serving=%s: kept for %s\n", p, strings.Join(serving, ","), target)
		case to == "":
			fmt.Fprintf(&b, "p%d serving=%s: wait, no serving replica is alive\n", p, strings.Join(serving, ","))
		default:
			fmt.Fprintf(&b, "p%d serving=%s: to %s\n", p, strings.Join(serving, ","), to)
		}
	}
	return b.String()
}

func aliveArg(t *testing.T, d *datadriven.TestData) func(string) bool {
	set := map[string]bool{}
	if arg, ok := d.Arg("alive"); ok {
		for _, v := range arg.Vals {
			set[v] = true
		}
	}
	return func(id string) bool { return set[id] }
}

func parseShape(t *testing.T, d *datadriven.TestData, key string) Shape {
	var v string
	d.ScanArgs(t, key, &v)
	f := strings.Split(v, "/")
	if len(f) != 3 {
		d.Fatalf(t, "%s=%s: want cluster/q/n", key, v)
	}
	q, err1 := strconv.Atoi(f[1])
	n, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		d.Fatalf(t, "%s=%s: want cluster/q/n", key, v)
	}
	return Shape{Cluster: f[0], Partitions: q, N: n}
}

// parseState reads a gossiped state, one member or handoff a line.
func parseState(t *testing.T, input string) State {
	var s State
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		kv := map[string]string{}
		for _, x := range f[1:] {
			if k, v, ok := strings.Cut(x, "="); ok {
				kv[k] = v
			}
		}
		num := func(k string) uint64 {
			if kv[k] == "" {
				return 0
			}
			v, err := strconv.ParseUint(kv[k], 10, 64)
			if err != nil {
				t.Fatalf("%q: %s: %v", line, k, err)
			}
			return v
		}
		if f[0] == "handoff" {
			s.Handoffs = append(s.Handoffs, Handoff{Member: f[1], Partition: uint32(num("p")), Since: num("since")})
			continue
		}
		s.Members = append(s.Members, MemberState{ID: f[0], Zone: kv["zone"], JoinVersion: num("join"), RemoveVersion: num("removed")})
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("gossiped state: %v", err)
	}
	return s
}

// printState prints s, a member a line, then its handoff records.
func printState(s State) string {
	if len(s.Members) == 0 && len(s.Handoffs) == 0 {
		return "(empty)\n"
	}
	var b strings.Builder
	for _, m := range s.Members {
		fmt.Fprintf(&b, "%s", m.ID)
		if m.Zone != "" {
			fmt.Fprintf(&b, " zone=%s", m.Zone)
		}
		fmt.Fprintf(&b, " join=%d", m.JoinVersion)
		if m.RemoveVersion != 0 {
			fmt.Fprintf(&b, " removed=%d", m.RemoveVersion)
		}
		for _, sp := range m.Past {
			fmt.Fprintf(&b, " past=[zone=%s join=%d removed=%d]", sp.Zone, sp.Join, sp.Remove)
		}
		if m.Removed() {
			b.WriteString(" (owns nothing)")
		}
		b.WriteString("\n")
	}
	for _, h := range s.Handoffs {
		fmt.Fprintf(&b, "handoff %s p=%d since=%d\n", h.Member, h.Partition, h.Since)
	}
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}
