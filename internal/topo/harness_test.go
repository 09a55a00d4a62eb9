package topo

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtkv/dht/cluster/ring"
)

// Helpers shared by the table tests and the stories.

var testShape = ring.Shape{Cluster: "c", Partitions: 8, N: 3}

// states builds a ring state from lines `id [zone=z] join=v [removed=v]`
// and `handoff id p=3 since=v`.
func parseState(t testing.TB, input string) ring.State {
	t.Helper()
	var s ring.State
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		kv := keyValues(f[1:])
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
			s.Handoffs = append(s.Handoffs, ring.Handoff{Member: f[1], Partition: uint32(num("p")), Since: num("since")})
			continue
		}
		s.Members = append(s.Members, ring.MemberState{ID: f[0], Zone: kv["zone"], JoinVersion: num("join"), RemoveVersion: num("removed"),
			RebuildVersion: num("rebuild")})
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("state: %v", err)
	}
	return s
}

func keyValues(fields []string) map[string]string {
	kv := map[string]string{}
	for _, x := range fields {
		k, v, _ := strings.Cut(x, "=")
		kv[k] = v
	}
	return kv
}

// printEffects prints eff one effect a line, in the order the actor
// carries them out.
func printEffects(eff Effects) string {
	var b strings.Builder
	if eff.Persist {
		b.WriteString("persist\n")
	}
	for _, l := range eff.Logs {
		fmt.Fprintf(&b, "log %s %q", l.Level, l.Msg)
		for i := 0; i+1 < len(l.Args); i += 2 {
			fmt.Fprintf(&b, " %v=%v", l.Args[i], l.Args[i+1])
		}
		b.WriteString("\n")
	}
	if eff.Publish {
		b.WriteString("publish\n")
	}
	if eff.Announce != nil {
		fmt.Fprintf(&b, "announce %s\n", eff.Announce)
	}
	for _, e := range eff.Events {
		fmt.Fprintf(&b, "event %s subject=%q %q\n", e.Kind, e.Subject, e.Detail)
	}
	if c := eff.Broadcast; c != nil {
		fmt.Fprintf(&b, "broadcast %s %s zone=%q join=%d removed=%d\n", c.Action, c.Entry.ID, c.Entry.Zone, c.Entry.JoinVersion, c.Entry.RemoveVersion)
	}
	if eff.Respond {
		b.WriteString("respond\n")
	}
	if eff.GossipTo != "" {
		fmt.Fprintf(&b, "gossip-to %s\n", eff.GossipTo)
	}
	if eff.LossChecked {
		b.WriteString("loss-checked\n")
	}
	if b.Len() == 0 {
		return "(nothing)\n"
	}
	return b.String()
}

// printState prints the machine's ring, a member a line, and its flags.
func printState(m *Machine) string {
	var b strings.Builder
	for _, e := range m.State().Members {
		fmt.Fprintf(&b, "%s", e.ID)
		if e.Zone != "" {
			fmt.Fprintf(&b, " zone=%s", e.Zone)
		}
		fmt.Fprintf(&b, " join=%d", e.JoinVersion)
		if e.RemoveVersion != 0 {
			fmt.Fprintf(&b, " removed=%d", e.RemoveVersion)
		}
		if e.RebuildVersion != 0 {
			fmt.Fprintf(&b, " rebuild=%d", e.RebuildVersion)
		}
		if e.Removed() {
			b.WriteString(" (owns nothing)")
		}
		b.WriteString("\n")
	}
	for _, h := range m.State().Handoffs {
		fmt.Fprintf(&b, "handoff %s p=%d since=%d\n", h.Member, h.Partition, h.Since)
	}
	fmt.Fprintf(&b, "synced=%v awaiting-join=%v\n", m.Synced(), m.AwaitingJoin())
	if n := m.Plan().Rebuilding(m.cfg.Self.ID); n > 0 {
		fmt.Fprintf(&b, "rebuilding=%d\n", n)
	}
	return b.String()
}

// hasLog reports whether eff logs msg at level.
func hasLog(eff Effects, level slog.Level, msg string) bool {
	for _, l := range eff.Logs {
		if l.Level == level && l.Msg == msg {
			return true
		}
	}
	return false
}

// fixedRand always picks i (bounded by n).
type fixedRand int

func (r fixedRand) IntN(n int) int { return min(int(r), n-1) }
