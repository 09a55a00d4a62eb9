package topology

import (
	"reflect"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/remoteguard"
	"github.com/dhtkv/dht/messages"
)

// relay stands in for the remote and its guard between two topology
// actors: it stamps the sending node's id, as the guard does after
// authenticating it, and routes the answer back the same way.
type relay struct {
	from     string
	to, back *actor.PID
}

func (r *relay) Receive(ctx actor.Context) {
	if env, ok := ctx.Message().(*messages.Envelope); ok {
		// A plain send (ctx.Respond) reaches the remote peer without a
		// sender, as through the real remote: nothing can answer it.
		var back *actor.PID
		if ctx.Sender() != nil {
			back = r.back
		}
		ctx.Send(r.to, &actor.MessageEnvelope{
			Header:  map[string]string{remoteguard.PeerHeader: r.from},
			Message: env,
			Sender:  back,
		})
	}
}

// TestTopology_GossipJoinsASeededNode: a starts the cluster; b, seeded,
// waits for a's ring, joins on top of it, and a learns b's join from b's
// own gossip. Both end with the same ring, synced.
func TestTopology_GossipJoinsASeededNode(t *testing.T) {
	sys := actor.NewActorSystem()
	a, b := newNode(t, "a", false, nil), newNode(t, "b", true, nil)
	// Every PID is known by name before anything runs.
	pid := func(name string) *actor.PID { return actor.NewPID(sys.Address(), name) }
	toA, toB, relayAB, relayBA := pid("topology-a"), pid("topology-b"), pid("relay-ab"), pid("relay-ba")
	for name, r := range map[string]*relay{"relay-ab": {from: "a", to: toB, back: relayBA}, "relay-ba": {from: "b", to: toA, back: relayAB}} {
		if _, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return r }), name); err != nil {
			t.Fatal(err)
		}
	}
	a.cfg.PeerPID = func(string) *actor.PID { return relayAB }
	b.cfg.PeerPID = func(string) *actor.PID { return relayBA }
	both := []membership.Member{a.cfg.Self, b.cfg.Self}
	for _, n := range []*node{a, b} {
		n.cfg.GossipInterval = 10 * time.Millisecond
		n.setMembers(both...)
	}
	// b first, so that its ring is seen waiting before a exists.
	b.spawn(t, sys)
	if s := b.view.Load(); s.State.Owner("b") {
		t.Fatal("a seeded node joined before it heard the cluster's ring")
	}
	a.spawn(t, sys)

	want := []string{"a", "b"}
	for _, n := range []*node{a, b} {
		s := n.waitFor(t, "a and b synced", func(s *Snapshot) bool {
			return s.Synced && reflect.DeepEqual(owners(s), want)
		})
		if s.State.Members[1].JoinVersion <= s.State.Members[0].JoinVersion {
			t.Errorf("%s: b joined at %d, not after a's %d", n.id, s.State.Members[1].JoinVersion, s.State.Members[0].JoinVersion)
		}
	}
	if sa, sb := a.view.Load(), b.view.Load(); sa.State.Digest() != sb.State.Digest() {
		t.Errorf("rings differ: %+v and %+v", sa.State, sb.State)
	}
}

// TestTopology_OutsiderGossipAnnouncesOnlyItself: a node that is not a
// member may add itself, and nothing else; unstamped gossip adds nothing.
func TestTopology_OutsiderGossipAnnouncesOnlyItself(t *testing.T) {
	sys := actor.NewActorSystem()
	stored := joined("a", "b")
	a := newNode(t, "a", false, &stored)
	a.spawn(t, sys)
	claim := joined("a", "b", "x").Remove("b")
	gossipFrom(sys, a.pid, "x", ringEnvelope("c", 8, 3, claim), nil)
	gossipFrom(sys, a.pid, "", ringEnvelope("c", 8, 3, joined("a", "b", "x", "y")), nil)
	gossipFrom(sys, a.pid, "z", ringEnvelope("other", 8, 3, joined("a", "b", "z")), nil)
	// The command's answer comes after the gossip in a's mailbox.
	if err := a.ask(t, sys, "noop", "a"); err == nil {
		t.Fatal("an unknown action was accepted")
	}
	s := a.view.Load()
	if got := owners(s); !reflect.DeepEqual(got, []string{"a", "b", "x"}) {
		t.Errorf("owners %v, want a, b and x (x's claim that b left refused; y unannounced; z of another cluster)", got)
	}
}
