package entropy

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// reapLimit bounds the tombstones one phase examines.
const reapLimit = 100

// reapPhase reaps old tombstones of the partition just found in sync.
type reapPhase struct {
	primaries []string
	members   []string
	cutoff    int64
	keys      map[string]*candidate
}

// candidate gathers, for one tombstoned key, every primary's copy and every
// node's count of hints for it.
type candidate struct {
	copies  map[string]dvv.Set
	hints   uint32
	answers int
}

// afterInSync follows an exchange that found the replicas in sync: when
// reaping is on and every node of the cluster is alive — a down node may
// keep a hint that would resurrect what a tombstone deleted — it looks for
// tombstones old enough to reap.
func (s *scheduler) afterInSync(ctx actor.Context) {
	snap := s.cfg.View.Load()
	if s.cfg.Grace <= 0 || snap == nil {
		s.finish("in_sync")
		return
	}
	phase := &reapPhase{cutoff: s.cfg.Now().Add(-s.cfg.Grace).UnixMilli(), keys: map[string]*candidate{}}
	// Every node that could keep a hint: the owners, and any node gossip
	// knows (a newcomer not yet an owner may be a fallback).
	nodes := map[string]bool{}
	for _, m := range snap.State.Owners() {
		nodes[m.ID] = true
	}
	for id, m := range snap.Members {
		if m.Status != membership.StatusLeft {
			nodes[id] = true
		}
	}
	for id := range nodes {
		if !snap.Alive(id) {
			s.finish("in_sync")
			return
		}
		phase.members = append(phase.members, id)
	}
	// While a handoff of the partition runs, a replica may still lack the
	// tombstone it would be reaped from: wait until every slot has its data.
	for _, slot := range snap.Plan.Slots[s.ex.partition] {
		if !slot.Received {
			s.finish("in_sync")
			return
		}
	}
	phase.primaries = snap.Table.Preference(s.ex.partition)
	s.ex.reap = phase
	s.sendTo(ctx, s.cfg.VnodePID(s.cfg.Self, s.ex.partition), request{kind: "reap-list"}, &messages.Envelope{
		Body: &messages.Envelope_TombstonesRequest{TombstonesRequest: &messages.TombstonesRequest{
			Partition: s.ex.partition, OlderThanUnixMs: phase.cutoff, Limit: reapLimit,
		}},
	})
}

func (s *scheduler) onTombstones(ctx actor.Context, r *messages.TombstonesReply) {
	phase := s.ex.reap
	if phase == nil || len(r.GetKeys()) == 0 {
		s.finish("in_sync")
		return
	}
	for _, key := range r.GetKeys() {
		phase.keys[string(key)] = &candidate{copies: map[string]dvv.Set{}}
		for _, node := range phase.primaries {
			s.sendTo(ctx, s.cfg.VnodePID(node, s.ex.partition), request{kind: "reap-get", key: string(key), node: node},
				&messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Partition: s.ex.partition, Key: key}}})
		}
		for _, node := range phase.members {
			s.sendTo(ctx, s.cfg.HintsPID(node), request{kind: "reap-hints", key: string(key), node: node},
				&messages.Envelope{Body: &messages.Envelope_HintsForRequest{HintsForRequest: &messages.HintsForRequest{Partition: s.ex.partition, Key: key}}})
		}
	}
}

// onReapAnswer records one primary's copy (obj) or one node's hint count;
// once a key has every answer, it is reaped on every primary if
// dvv.Reapable agrees and no node keeps a hint for it.
func (s *scheduler) onReapAnswer(ctx actor.Context, req request, obj *dvv.Set, hints uint32) {
	phase := s.ex.reap
	c := phase.keys[req.key]
	if c == nil {
		return
	}
	if obj != nil {
		c.copies[req.node] = *obj
	}
	c.hints += hints
	c.answers++
	if c.answers < len(phase.primaries)+len(phase.members) {
		return
	}
	delete(phase.keys, req.key)
	copies := make([]dvv.Set, 0, len(phase.primaries))
	for _, node := range phase.primaries {
		if cp, ok := c.copies[node]; ok {
			copies = append(copies, cp)
		}
	}
	if c.hints == 0 && dvv.Reapable(copies, len(phase.primaries), phase.cutoff) {
		for _, node := range phase.primaries {
			s.sendTo(ctx, s.cfg.VnodePID(node, s.ex.partition), request{kind: "reap", key: req.key, node: node},
				&messages.Envelope{Body: &messages.Envelope_ReapRequest{ReapRequest: &messages.ReapRequest{
					Partition: s.ex.partition, Key: []byte(req.key), Object: wire.ObjectToProto(copies[0]),
				}}})
		}
	}
	s.maybeFinishReap()
}

func (s *scheduler) maybeFinishReap() {
	if s.ex != nil && len(s.ex.pending) == 0 {
		s.finish("in_sync")
	}
}

// sendTo sends a request of the current exchange to any actor.
func (s *scheduler) sendTo(ctx actor.Context, pid *actor.PID, req request, env *messages.Envelope) {
	s.nextID++
	s.ex.pending[s.nextID] = req
	env.RequestId = s.nextID
	env.DeadlineUnixMs = s.ex.deadline.UnixMilli()
	ctx.Request(pid, env)
}
