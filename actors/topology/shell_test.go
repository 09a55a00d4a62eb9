package topology

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/test/testutil"
)

func TestTopology_StartsAloneWithoutSeeds(t *testing.T) {
	sys := actor.NewActorSystem()
	a := newNode(t, "a", false, nil)
	a.spawn(t, sys)
	s := a.waitFor(t, "owner", func(s *Snapshot) bool { return s.State.Owner("a") })
	if s.Synced || s.Self != "a" || len(s.Plan.Slots) != 8 {
		t.Errorf("snapshot %+v: want a, unsynced, with an 8-partition plan", s)
	}
	if got := a.stored(t); !reflect.DeepEqual(got, s.State) {
		t.Errorf("stored %+v, published %+v", got, s.State)
	}
	if ev := a.eventLog(); !slices.Contains(ev, "ring-change  join: 1 owners, version 1") {
		t.Errorf("events %q: want the join reported", ev)
	}
}

func TestTopology_RestartKeepsTheStoredRing(t *testing.T) {
	sys := actor.NewActorSystem()
	stored := joined("a", "b", "c")
	a := newNode(t, "a", true, &stored)
	a.spawn(t, sys)
	s := a.waitFor(t, "the stored ring", func(s *Snapshot) bool { return len(s.State.Owners()) == 3 })
	if !reflect.DeepEqual(s.State, stored) {
		t.Errorf("state %+v, want the stored %+v", s.State, stored)
	}
}

func TestTopology_WrongShapeStoredIsIgnored(t *testing.T) {
	sys := actor.NewActorSystem()
	stored := joined("b", "c")
	a := newNode(t, "a", false, nil)
	raw := ringEnvelope("c", 16, 3, stored).GetRingGossip().GetState()
	if err := a.engine.Put(metaRingState, mustMarshal(t, raw)); err != nil {
		t.Fatal(err)
	}
	a.spawn(t, sys)
	s := a.waitFor(t, "a alone", func(s *Snapshot) bool { return s.State.Owner("a") })
	if got := owners(s); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("owners %v, want a alone", got)
	}
	if !strings.Contains(a.logs.String(), "ring state unreadable; starting from this node alone") {
		t.Errorf("logs %s: want the unreadable state reported", a.logs)
	}
}

func TestTopology_MembersOfAnotherShapeAreNotPublished(t *testing.T) {
	sys := actor.NewActorSystem()
	a := newNode(t, "a", false, nil)
	a.spawn(t, sys)
	sys.Root.Send(a.pid, &MembersChanged{Members: []membership.Member{
		{ID: "b", Cluster: "c", Partitions: 8, N: 3, Status: membership.StatusAlive},
		{ID: "x", Cluster: "other", Partitions: 8, N: 3, Status: membership.StatusAlive},
	}})
	s := a.waitFor(t, "b known", func(s *Snapshot) bool { return s.Alive("b") })
	if _, ok := s.Members["x"]; ok {
		t.Errorf("x of another cluster was published: %+v", s.Members)
	}
	if !strings.Contains(a.logs.String(), "ignoring a peer with another cluster name or ring shape") {
		t.Errorf("logs %s: want x reported", a.logs)
	}
}

func TestTopology_HandoffDoneIsRecorded(t *testing.T) {
	sys := actor.NewActorSystem()
	stored := joined("a", "b")
	a := newNode(t, "a", false, &stored)
	a.spawn(t, sys)
	sys.Root.Send(a.pid, &HandoffDone{Partition: 3, Since: 2})
	want := ring.Handoff{Member: "a", Partition: 3, Since: 2}
	a.waitFor(t, "the record", func(s *Snapshot) bool { return slices.Contains(s.State.Handoffs, want) })
	if got := a.stored(t).Handoffs; !slices.Contains(got, want) {
		t.Errorf("stored handoffs %v, want %v", got, want)
	}
}

func TestTopology_RemoteCommandsOfThisClusterAreMerged(t *testing.T) {
	sys := actor.NewActorSystem()
	stored := joined("a", "b", "c")
	a := newNode(t, "a", false, &stored)
	a.spawn(t, sys)
	// Another cluster's command first: mailbox order means it was handled
	// (and ignored) by the time the second one shows.
	sys.Root.Send(a.pid, &RemoteCommand{Command: &messages.ClusterCommand{Cluster: "other", Action: ActionDecommission, Node: "c", JoinVersion: 3, RemoveVersion: 4}})
	sys.Root.Send(a.pid, &RemoteCommand{Command: &messages.ClusterCommand{Cluster: "c", Action: ActionDecommission, Node: "b", JoinVersion: 2, RemoveVersion: 4}})
	s := a.waitFor(t, "b removed", func(s *Snapshot) bool { return !s.State.Owner("b") })
	if !s.State.Owner("c") {
		t.Error("another cluster's command was merged")
	}
	// The command is reported after the snapshot is published.
	a.waitForEvent(t, "cluster-event b decommission")
}

func TestTopology_CommandsAnswerWithTheirRules(t *testing.T) {
	sys := actor.NewActorSystem()
	stored := joined("a", "b", "c")
	a := newNode(t, "a", false, &stored)
	a.spawn(t, sys)
	sys.Root.Send(a.pid, &MembersChanged{Members: []membership.Member{
		{ID: "b", Cluster: "c", Partitions: 8, N: 3, Status: membership.StatusAlive},
		{ID: "c", Cluster: "c", Partitions: 8, N: 3, Status: membership.StatusFailed},
	}})
	// A node refuses commands until it has merged a live peer's ring.
	if err := a.ask(t, sys, ActionDecommission, "b"); !errors.Is(err, ErrRefused) || !errors.Is(err, topo.ErrUnsynced) {
		t.Fatalf("decommission before any gossip: %v, want a refusal wrapping %v", err, topo.ErrUnsynced)
	}
	gossipFrom(sys, a.pid, "b", ringEnvelope("c", 8, 3, stored), nil)
	a.waitFor(t, "synced", func(s *Snapshot) bool { return s.Synced })
	for _, tc := range []struct {
		action, node string
		kind, rule   error
		msg          string
	}{
		{ActionJoin, "b", ErrRefused, ring.ErrJoinOther, "refused: a node can only join itself; ask b"},
		{ActionDecommission, "x", ErrUnknownMember, ring.ErrNotMember, "not a member of the ring: x"},
		{ActionForceRemove, "b", ErrRefused, ring.ErrAlive, "refused: b is alive; decommission it instead, so it hands its data over"},
		{ActionForceRemove, "a", ErrRefused, ring.ErrRemoveSelf, "refused: a node cannot force-remove itself; decommission it, or force-remove it from another node once it is down"},
		{"rename", "b", ErrRefused, nil, `refused: unknown action "rename"`},
		{ActionForceRemove, "c", nil, nil, ""},
		{ActionForceRemove, "c", ErrRefused, ring.ErrAlreadyRemoved, "refused: c was already removed"},
		{ActionDecommission, "b", nil, nil, ""},
		{ActionDecommission, "a", ErrRefused, ring.ErrLastOwner, "refused: a is the last owner; removing it would leave the data with nobody"},
	} {
		err := a.ask(t, sys, tc.action, tc.node)
		switch {
		case tc.kind == nil && err != nil:
			t.Errorf("%s %s: %v, want nil", tc.action, tc.node, err)
		case tc.kind != nil && (err == nil || err.Error() != tc.msg || !errors.Is(err, tc.kind) || (tc.rule != nil && !errors.Is(err, tc.rule))):
			t.Errorf("%s %s: %v, want %q wrapping %v and %v", tc.action, tc.node, err, tc.msg, tc.kind, tc.rule)
		}
	}
	s := a.view.Load()
	if got := owners(s); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("owners %v, want a", got)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.broadcasts) != 2 {
		t.Fatalf("broadcasts %v, want the two removals", a.broadcasts)
	}
	got := a.broadcasts[0]
	if got.GetCluster() != "c" || got.GetAction() != ActionForceRemove || got.GetNode() != "c" || got.GetJoinVersion() != 3 || got.GetRemoveVersion() != 4 {
		t.Errorf("broadcast %v, want force-remove of c joined at 3, removed at 4", got)
	}
}

// The ring mark reaches gossip's tags after the snapshot with that ring is
// published, so that a peer reading it can count on this node routing by
// it; a finished handoff, which moves no owner, announces nothing.
func TestTopology_AnnouncesTheRingAfterPublishingIt(t *testing.T) {
	sys := actor.NewActorSystem()
	stored := joined("a", "b")
	a := newNode(t, "a", false, &stored)
	a.spawn(t, sys)
	sys.Root.Send(a.pid, &HandoffDone{Partition: 3, Since: 2})
	sys.Root.Send(a.pid, &RemoteCommand{Command: &messages.ClusterCommand{Cluster: "c", Action: ActionDecommission, Node: "b", JoinVersion: 2, RemoveVersion: 3}})
	s := a.waitFor(t, "b removed", func(s *Snapshot) bool { return !s.State.Owner("b") })
	removed := topo.MarkOf(s.State).String()
	want := []announce{{topo.MarkOf(stored).String(), topo.MarkOf(stored).String()}, {removed, removed}}
	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		if !slices.Equal(a.announces, want) {
			return fmt.Errorf("announced (mark, published) %v, want %v", a.announces, want)
		}
		return nil
	})
}
