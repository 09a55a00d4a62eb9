package topology

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/remoteguard"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/test/testutil"
)

// node is one topology actor under test, with what it did to the world.
type node struct {
	id     string
	cfg    Config
	view   *View
	engine persistence.Engine
	pid    *actor.PID
	logs   *testutil.SyncBuffer

	mu         sync.Mutex
	events     []string
	broadcasts []*messages.ClusterCommand
	members    []membership.Member
	// announces are the ring marks announced, each with the mark of the
	// snapshot published when it was.
	announces []announce
}

type announce struct{ mark, published string }

// newNode returns a node of cluster c (Q=8, N=3) whose stored ring state
// is stored (nil: none); spawn starts it.
func newNode(t *testing.T, id string, seeded bool, stored *ring.State) *node {
	t.Helper()
	engine, err := persistence.Open(persistence.Options{Engine: persistence.EngineMemory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	n := &node{id: id, view: &View{}, engine: engine, logs: &testutil.SyncBuffer{}}
	n.cfg = Config{
		Self:    membership.Member{ID: id, RemoteAddr: id, Cluster: "c", Partitions: 8, N: 3, Status: membership.StatusAlive},
		Cluster: "c", Partitions: 8, N: 3,
		Engine: engine, View: n.view, GossipInterval: time.Hour, Seeded: seeded,
		Members: func() MembersSource { return n },
		PeerPID: func(string) *actor.PID { return nil },
		Broadcast: func(c *messages.ClusterCommand) error {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.broadcasts = append(n.broadcasts, c)
			return nil
		},
		Announce: func(mark string) {
			published := ""
			if s := n.view.Load(); s != nil {
				published = topo.MarkOf(s.State).String()
			}
			n.mu.Lock()
			defer n.mu.Unlock()
			n.announces = append(n.announces, announce{mark: mark, published: published})
		},
		OnEvent: func(kind, subject, detail string) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.events = append(n.events, fmt.Sprintf("%s %s %s", kind, subject, detail))
		},
		Logger: slog.New(slog.NewTextHandler(n.logs, nil)),
	}
	if stored != nil {
		raw, err := proto.Marshal(stateToProto(n.cfg, *stored))
		if err != nil {
			t.Fatal(err)
		}
		if err := engine.Put(metaRingState, raw); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// Members is the node's gossip view (MembersSource).
func (n *node) Members() []membership.Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]membership.Member(nil), n.members...)
}

func (n *node) setMembers(ms ...membership.Member) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.members = ms
}

func (n *node) spawn(t *testing.T, sys *actor.ActorSystem) {
	t.Helper()
	pid, err := sys.Root.SpawnNamed(Props(n.cfg), "topology-"+n.id)
	if err != nil {
		t.Fatal(err)
	}
	n.pid = pid
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	select {
	case <-n.view.Published():
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot published")
	}
}

// waitFor waits until the node's snapshot satisfies check.
func (n *node) waitFor(t *testing.T, what string, check func(*Snapshot) bool) *Snapshot {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if s := n.view.Load(); s == nil || !check(s) {
			return fmt.Errorf("%s: %s not yet", n.id, what)
		}
		return nil
	})
	return n.view.Load()
}

// stored reads the ring state the node persisted.
func (n *node) stored(t *testing.T) ring.State {
	t.Helper()
	raw, err := n.engine.Get(metaRingState)
	if err != nil {
		t.Fatal(err)
	}
	var rs messages.RingState
	if err := proto.Unmarshal(raw, &rs); err != nil {
		t.Fatal(err)
	}
	s, err := stateFromProto(&rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (n *node) eventLog() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.events...)
}

// waitForEvent waits until the node reported event.
func (n *node) waitForEvent(t *testing.T, event string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if ev := n.eventLog(); !slices.Contains(ev, event) {
			return fmt.Errorf("%s: events %q, want %q", n.id, ev, event)
		}
		return nil
	})
}

// ask sends the node an operator's command and returns the answer.
func (n *node) ask(t *testing.T, sys *actor.ActorSystem, action, node string) error {
	t.Helper()
	res, err := sys.Root.RequestFuture(n.pid, &Command{Action: action, Node: node}, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res.(*CommandResult).Err
}

// gossipFrom delivers gossip as the remote guard would: stamped with the
// peer it authenticated.
func gossipFrom(sys *actor.ActorSystem, to *actor.PID, peer string, env *messages.Envelope, sender *actor.PID) {
	sys.Root.Send(to, &actor.MessageEnvelope{
		Header:  map[string]string{remoteguard.PeerHeader: peer},
		Message: env,
		Sender:  sender,
	})
}

func ringEnvelope(cluster string, q, n int, s ring.State) *messages.Envelope {
	cfg := Config{Cluster: cluster, Partitions: q, N: n}
	return &messages.Envelope{Body: &messages.Envelope_RingGossip{RingGossip: &messages.RingGossip{State: stateToProto(cfg, s)}}}
}

func owners(s *Snapshot) []string {
	var ids []string
	for _, m := range s.State.Owners() {
		ids = append(ids, m.ID)
	}
	return ids
}

func joined(ids ...string) ring.State {
	var s ring.State
	for _, id := range ids {
		s = s.Join(ring.Member{ID: id})
	}
	return s
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
