package topo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/dhtkv/dht/cluster/ring"
)

// TestMachine_Stories runs the scenarios in testdata: each file is one
// node's story, events in and effects out, one effect a line. Rewrite the
// expected output with -rewrite after a deliberate change.
//
// The language (cluster c, Q=8, N=3 unless a line says otherwise):
//
//	new self=a [zone=z] [seeded] [new-epoch]
//	                                    the node, before it starts; new-epoch:
//	                                    its storage started empty
//	start                               it starts; the input is its stored state
//	members                             gossip's member list, a peer a line:
//	                                    `id [alive] [addr=host:port] [cluster=c q=8 n=3]`
//	tick [pick=i]                       the gossip interval; pick chooses the i-th candidate
//	gossip peer=b [at=30s] [cluster= q= n=] [malformed]
//	                                    a peer's ring state (the input) arrives
//	command action=decommission node=b  an operator's command on this node
//	remote-command action=a node=b join=v [removed=v] [cluster=c]
//	handoff-done p=3 since=v            this node received partition p
//	join-alone                          no peer answered a seeded node
//	state                               the node's ring and flags
func TestMachine_Stories(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var m *Machine
		epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "new":
				var self, zone string
				d.ScanArgs(t, "self", &self)
				d.MaybeScanArgs(t, "zone", &zone)
				m = New(Config{Self: ring.Member{ID: self, Zone: zone}, Shape: testShape, Seeded: d.HasArg("seeded"),
					NewEpoch: d.HasArg("new-epoch")})
				return "ok"
			case "start":
				var loaded ring.State
				if strings.TrimSpace(d.Input) != "" {
					loaded = parseState(t, d.Input)
				}
				return printEffects(m.Start(loaded))
			case "members":
				return printEffects(m.SetMembers(parsePeers(d.Input)))
			case "tick":
				pick := 0
				d.MaybeScanArgs(t, "pick", &pick)
				return printEffects(m.Tick(fixedRand(pick)))
			case "gossip":
				g := Gossip{Shape: argShape(t, d)}
				d.MaybeScanArgs(t, "peer", &g.Peer)
				var at time.Duration
				d.MaybeScanArgs(t, "at", &at)
				if d.HasArg("malformed") {
					g.Err = errors.New("topology: ring state: handoff record for partition 9 of 8")
				} else {
					g.State = parseState(t, d.Input)
				}
				return printEffects(m.Gossip(g, epoch.Add(at)))
			case "command":
				var action, node string
				d.ScanArgs(t, "action", &action)
				d.ScanArgs(t, "node", &node)
				eff, err := m.Command(action, node)
				if err != nil {
					return "error: " + err.Error() + "\n" + printEffects(eff)
				}
				return printEffects(eff)
			case "remote-command":
				c := RemoteCommand{Cluster: testShape.Cluster}
				d.ScanArgs(t, "action", &c.Action)
				d.ScanArgs(t, "node", &c.Entry.ID)
				d.MaybeScanArgs(t, "cluster", &c.Cluster)
				d.MaybeScanArgs(t, "join", &c.Entry.JoinVersion)
				d.MaybeScanArgs(t, "removed", &c.Entry.RemoveVersion)
				return printEffects(m.RemoteCommand(c))
			case "handoff-done":
				var p int
				var since uint64
				d.ScanArgs(t, "p", &p)
				d.ScanArgs(t, "since", &since)
				return printEffects(m.HandoffDone(uint32(p), since))
			case "join-alone":
				return printEffects(m.JoinAlone())
			case "state":
				return printState(m)
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

func argShape(t *testing.T, d *datadriven.TestData) ring.Shape {
	s := testShape
	d.MaybeScanArgs(t, "cluster", &s.Cluster)
	d.MaybeScanArgs(t, "q", &s.Partitions)
	d.MaybeScanArgs(t, "n", &s.N)
	return s
}

func parsePeers(input string) []Peer {
	var out []Peer
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		kv := keyValues(f[1:])
		p := Peer{ID: f[0], RemoteAddr: kv["addr"], Shape: testShape}
		_, p.Alive = kv["alive"]
		if c, ok := kv["cluster"]; ok {
			p.Shape.Cluster = c
		}
		if q, ok := kv["q"]; ok {
			p.Shape.Partitions = atoi(q)
		}
		if n, ok := kv["n"]; ok {
			p.Shape.N = atoi(n)
		}
		out = append(out, p)
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
