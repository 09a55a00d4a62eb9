package topology

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	tu "github.com/dhtkv/dht/test/testutil"
)

// settledRing returns the ring of ids at q partitions and n replicas with
// every placement's handoff record: a cluster long at rest, whose state
// is as large as its members and partitions make it.
func settledRing(q, n int, ids []string) ring.State {
	s := joined(ids...)
	plan := ring.NewPlan(q, n, s)
	for p, slots := range plan.Slots {
		for _, sl := range slots {
			if !sl.Received {
				s = s.CompleteHandoff(sl.Node, uint32(p), sl.Since)
			}
		}
	}
	return s
}

// gossipMesh is k topology actors of one cluster at rest, each able to
// reach every other through a relay that stamps the sender as the remote
// guard does, each with its own gossip metrics.
type gossipMesh struct {
	sys     *actor.ActorSystem
	nodes   []*node
	metrics []*Metrics
	state   ring.State
}

func newGossipMesh(t *testing.T, k, q int, interval time.Duration) *gossipMesh {
	t.Helper()
	sys := actor.NewActorSystem()
	ids := make([]string, k)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%02d", i)
	}
	mesh := &gossipMesh{sys: sys, state: settledRing(q, 3, ids)}
	pid := func(name string) *actor.PID { return actor.NewPID(sys.Address(), name) }
	var members []membership.Member
	for _, id := range ids {
		members = append(members, membership.Member{ID: id, RemoteAddr: id, Cluster: "c", Partitions: q, N: 3, Status: membership.StatusAlive})
	}
	for i, id := range ids {
		for _, to := range ids {
			if to == id {
				continue
			}
			r := &relay{from: id, to: pid("topology-" + to), back: pid("relay-" + to + "-" + id)}
			if _, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return r }), "relay-"+id+"-"+to); err != nil {
				t.Fatal(err)
			}
		}
		n := newNode(t, id, false, nil)
		n.cfg.Partitions, n.cfg.Self = q, members[i]
		n.cfg.GossipInterval = interval
		n.cfg.PeerPID = func(addr string) *actor.PID { return pid("relay-" + id + "-" + addr) }
		n.cfg.Metrics = NewMetrics(prometheus.NewRegistry())
		raw, err := proto.Marshal(stateToProto(n.cfg, mesh.state))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.engine.Put(metaRingState, raw); err != nil {
			t.Fatal(err)
		}
		n.setMembers(members...)
		mesh.nodes = append(mesh.nodes, n)
		mesh.metrics = append(mesh.metrics, n.cfg.Metrics)
	}
	for _, n := range mesh.nodes {
		n.spawn(t, sys)
	}
	return mesh
}

// sent sums what the mesh's nodes sent of a kind: messages and bytes.
func (m *gossipMesh) sent(kind string) (msgs, bytes float64) {
	for _, mt := range m.metrics {
		msgs += counterValue(mt.Messages.WithLabelValues(kind))
		bytes += counterValue(mt.Bytes.WithLabelValues(kind))
	}
	return msgs, bytes
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// TestTopology_ConvergedGossipSendsDigestsOnly: in clusters of 3, 16 and
// 32 nodes at Q=256 that agree on their ring, the periodic gossip is a
// digest of a few dozen bytes and no full state crosses; a change made on
// one node (a handoff record, which no broadcast carries) still reaches
// every node through digest exchanges. It logs bytes per node per gossip
// interval against what full-state gossip sent (one full state per node
// per interval), the figures in the README.
func TestTopology_ConvergedGossipSendsDigestsOnly(t *testing.T) {
	const q, interval, window = 256, 20 * time.Millisecond, 25
	sizes := []int{3, 16, 32}
	if testing.Short() {
		sizes = []int{3, 16}
	}
	for _, k := range sizes {
		t.Run(fmt.Sprintf("nodes=%d", k), func(t *testing.T) {
			mesh := newGossipMesh(t, k, q, interval)
			full := proto.Size(ringEnvelope("c", q, 3, mesh.state))
			for _, n := range mesh.nodes {
				n.waitFor(t, "synced", func(s *Snapshot) bool { return s.Synced })
			}
			// A digest sent just before its sender synced still asks for
			// the full state (sender_unsynced), and the answer may cross
			// after the last node reports synced: wait until no full
			// state has been sent for 5 intervals in a row (at most 200).
			for quiet, last, i := 0, -1.0, 0; quiet < 5 && i < 200; i++ {
				if states, _ := mesh.sent(gossipKindState); states == last {
					quiet++
				} else {
					quiet, last = 0, states
				}
				time.Sleep(interval)
			}
			digests0, digestBytes0 := mesh.sent(gossipKindDigest)
			states0, _ := mesh.sent(gossipKindState)
			time.Sleep(window * interval)
			digests, digestBytes := mesh.sent(gossipKindDigest)
			states, _ := mesh.sent(gossipKindState)
			if states != states0 {
				t.Errorf("%v full states sent by nodes that agree; want none", states-states0)
			}
			if digests == digests0 {
				t.Fatal("no digest gossip sent")
			}
			perDigest := (digestBytes - digestBytes0) / (digests - digests0)
			if perDigest > 64 {
				t.Errorf("a digest gossip is %.0f bytes; want a few dozen", perDigest)
			}

			// One node completes a handoff again at a later placement:
			// only gossip spreads it.
			changed := mesh.nodes[k-1]
			want := mesh.state.CompleteHandoff(changed.id, 0, mesh.state.Clock()+1).Digest()
			statesBefore, stateBytesBefore := mesh.sent(gossipKindState)
			start := time.Now()
			mesh.sys.Root.Send(changed.pid, &HandoffDone{Partition: 0, Since: mesh.state.Clock() + 1})
			for _, n := range mesh.nodes {
				tu.Eventually(t, 20*time.Second, interval/4, func() error {
					if got := n.view.Load().State.Digest(); got != want {
						return fmt.Errorf("%s has not heard of the record", n.id)
					}
					return nil
				})
			}
			took := time.Since(start)
			statesAfter, stateBytesAfter := mesh.sent(gossipKindState)
			t.Logf("%2d nodes, Q=%d: full-state gossip %d B per node per interval; digest gossip %.0f B per node per interval (%.1f%%); one change reached all %d nodes in %v (%.0f intervals) with %v full states (%.0f B) sent",
				k, q, full, perDigest, 100*perDigest/float64(full), k, took.Round(time.Millisecond), float64(took)/float64(interval),
				statesAfter-statesBefore, stateBytesAfter-stateBytesBefore)
		})
	}
}

// TestTopology_DigestGossipHealsBothWays: only one node of two gossips
// (the other's interval is an hour), and each time its digest reaches a
// peer whose state differs. Whether the ticking node is the one that
// lacks something or the one that has it, one exchange leaves both with
// the union.
func TestTopology_DigestGossipHealsBothWays(t *testing.T) {
	base := joined("a", "b")
	more := base.CompleteHandoff("a", 3, base.Clock())
	for _, tc := range []struct {
		name              string
		ticker, quiet     ring.State
		tickerID, quietID string
	}{
		{name: "the ticking node lacks the record", ticker: base, quiet: more, tickerID: "b", quietID: "a"},
		{name: "the ticking node has the record", ticker: more, quiet: base, tickerID: "a", quietID: "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := actor.NewActorSystem()
			ticking := newNode(t, tc.tickerID, false, &tc.ticker)
			quiet := newNode(t, tc.quietID, false, &tc.quiet)
			pid := func(name string) *actor.PID { return actor.NewPID(sys.Address(), name) }
			tq, qt := "relay-"+ticking.id+"-"+quiet.id, "relay-"+quiet.id+"-"+ticking.id
			for name, r := range map[string]*relay{
				tq: {from: ticking.id, to: pid("topology-" + quiet.id), back: pid(qt)},
				qt: {from: quiet.id, to: pid("topology-" + ticking.id), back: pid(tq)},
			} {
				if _, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return r }), name); err != nil {
					t.Fatal(err)
				}
			}
			ticking.cfg.PeerPID = func(string) *actor.PID { return pid(tq) }
			quiet.cfg.PeerPID = func(string) *actor.PID { return pid(qt) }
			ticking.cfg.GossipInterval = 10 * time.Millisecond
			for _, n := range []*node{ticking, quiet} {
				n.cfg.Metrics = NewMetrics(prometheus.NewRegistry())
				n.setMembers(ticking.cfg.Self, quiet.cfg.Self)
			}
			quiet.spawn(t, sys)
			ticking.spawn(t, sys)
			for _, n := range []*node{ticking, quiet} {
				n.waitFor(t, "the record", func(s *Snapshot) bool { return s.State.Digest() == more.Digest() })
			}
			if m, _ := (&gossipMesh{metrics: []*Metrics{quiet.cfg.Metrics}}).sent(gossipKindDigest); m != 0 {
				t.Errorf("the quiet node sent %v digests", m)
			}
		})
	}
}
