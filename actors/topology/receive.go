package topology

import (
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/remoteguard"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/messages"
)

type tick struct{}

// Props returns the props of the topology actor.
func Props(cfg Config) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &topologyActor{
			cfg:       cfg,
			published: cfg.Partitions,
			m: topo.New(topo.Config{
				Self:        ring.Member{ID: cfg.Self.ID, Zone: cfg.Self.Zone},
				Shape:       cfg.shape(),
				Seeded:      cfg.Seeded,
				ResizesRing: cfg.OnPartitions != nil,
				NewEpoch:    cfg.NewEpoch != nil && cfg.NewEpoch.Load(),
				// What gossip sends and the node stores: compacting
				// must make it smaller.
				StateSize: func(s ring.State) int { return proto.Size(stateToProto(cfg, s)) },
			}),
			members: map[string]membership.Member{},
			// Whom to gossip to next is the machine's choice; the actor
			// only owns the randomness it chooses with.
			rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		}
	})
}

// topologyActor is the shell around topo.Machine: it converts messages to
// the machine's events and carries out the effects it returns.
type topologyActor struct {
	cfg Config
	m   *topo.Machine
	// members is gossip's view of the compatible peers, as published in
	// snapshots.
	members map[string]membership.Member
	ticker  *ticker.Ticker
	rng     *rand.Rand
	// published is the partition count of the last snapshot published,
	// the configured one before any.
	published int
}

func (a *topologyActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		loaded, err := a.load()
		if err != nil {
			a.cfg.Logger.Error("ring state unreadable; starting from this node alone", "err", err)
			loaded = ring.State{}
		}
		a.carry(ctx, a.m.Start(loaded))
		a.ticker = ticker.Start(ctx, a.cfg.GossipInterval, tick{})
	case *actor.Stopping, *actor.Restarting:
		// A restart builds a new actor with its own ticker.
		a.ticker.Stop()
	case *MembersChanged:
		a.carry(ctx, a.setMembers(msg.Members))
	case tick:
		if a.cfg.Members != nil {
			if src := a.cfg.Members(); src != nil {
				a.carry(ctx, a.setMembers(src.Members()))
			}
		}
		a.carry(ctx, a.m.Tick(a.rng))
	case *messages.Envelope:
		if g := msg.GetRingGossip(); g != nil {
			// The remote guard stamps the node it authenticated; gossip
			// without the stamp did not come through it.
			peer := ctx.MessageHeader().Get(remoteguard.PeerHeader)
			a.carry(ctx, a.m.Gossip(gossipFromProto(g, peer), time.Now()))
		}
	case JoinAlone:
		a.carry(ctx, a.m.JoinAlone())
	case *HandoffDone:
		a.carry(ctx, a.m.HandoffDone(msg.Partition, msg.Since))
	case *Command:
		eff, err := a.m.Command(msg.Action, msg.Node)
		a.carry(ctx, eff)
		if ctx.Sender() != nil {
			ctx.Respond(&CommandResult{Err: commandError(err, msg.Action)})
		}
	case *Resize:
		eff, err := a.m.Resize(msg.Partitions)
		a.carry(ctx, eff)
		if ctx.Sender() != nil {
			ctx.Respond(&CommandResult{Err: resizeError(err)})
		}
	case *RemoteCommand:
		a.carry(ctx, a.m.RemoteCommand(remoteCommandFromProto(msg.Command)))
	}
}

// setMembers hands gossip's member list to the machine, and keeps for
// snapshots the members it accepted.
func (a *topologyActor) setMembers(members []membership.Member) topo.Effects {
	peers := make([]topo.Peer, len(members))
	for i, m := range members {
		peers[i] = topo.Peer{
			ID: m.ID, RemoteAddr: m.RemoteAddr, Alive: m.Status == membership.StatusAlive,
			Shape: ring.Shape{Cluster: m.Cluster, Partitions: m.Partitions, N: m.N}, Ring: m.Ring,
			SettlesHandoffs: m.SettlesHandoffs, CompactsRing: m.CompactsRing, ResizesRing: m.ResizesRing,
		}
	}
	eff := a.m.SetMembers(peers)
	next := make(map[string]membership.Member, len(members))
	for _, m := range members {
		if a.m.Known(m.ID) {
			next[m.ID] = m
		}
	}
	a.members = next
	return eff
}
