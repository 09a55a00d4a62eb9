package entropy

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// carry does what the machine asked, in its order: record the round that
// ended, send the requests, then, when the machine needs the cluster's view
// to decide on reaping, give it and carry out what follows.
func (s *scheduler) carry(ctx actor.Context, eff antientropy.Effects) {
	if eff.Done != nil {
		s.record(eff.Done)
		// The next round may start now (a repair goes again back to
		// back), as far as the rate limit allows; the ticker covers the
		// rest of the gap.
		ctx.Send(ctx.Self(), tick{})
	}
	if st := eff.Started; st != nil {
		s.cfg.Logger.Debug("anti-entropy exchange", "partition", st.Partition, "peer", st.Peer, "why", st.Why)
	}
	for _, req := range eff.Send {
		pid := s.cfg.VnodePID(req.Node, req.Partition)
		if req.Kind == antientropy.HintsFor {
			pid = s.cfg.HintsPID(req.Node)
		}
		env := envelope(req)
		env.RequestId = req.ID
		env.DeadlineUnixMs = req.Deadline.UnixMilli()
		if stamped(req.Kind) {
			env.RingPartitions = uint32(s.partitions)
		}
		ctx.Request(pid, env)
	}
	if eff.NeedView {
		s.carry(ctx, s.m.Reap(s.view(), s.cfg.Now()))
	}
}

// record counts a finished round, announces its repairs and logs it.
func (s *scheduler) record(r *antientropy.Result) {
	s.cfg.Metrics.record(r)
	switch {
	case errors.Is(r.Err, antientropy.ErrPeerFailed):
		s.cfg.Logger.Debug("anti-entropy exchange failed", "partition", r.Partition, "peer", r.Peer, "err", r.Err)
	case errors.Is(r.Err, antientropy.ErrUnreadable):
		s.cfg.Logger.Warn("anti-entropy: unreadable object", "partition", r.Partition, "err", r.Err)
	case errors.Is(r.Err, antientropy.ErrBadReply):
		s.cfg.Logger.Warn("anti-entropy exchange abandoned", "partition", r.Partition, "peer", r.Peer, "err", r.Err)
	}
	if r.Repaired > 0 && s.cfg.OnRepair != nil {
		s.cfg.OnRepair(r.Partition, r.Peer, r.Repaired)
	}
	if r.Repaired > 0 {
		s.cfg.Logger.Info("anti-entropy repaired replicas", "partition", r.Partition, "peer", r.Peer,
			"copies_repaired", r.Repaired, "bytes", r.Bytes)
	}
}

// stamped reports whether a request of kind k names a partition rather
// than a key: its envelope says the ring's partition count
// (Envelope.ring_partitions), so that while a resize reaches the nodes a
// vnode of a ring of another size refuses it as not ready, and the round
// fails and is tried again, instead of comparing trees or listing buckets
// of another arc under the same number. Requests for one key need no
// stamp: a vnode sends a key of another partition on to it.
func stamped(k antientropy.Kind) bool {
	switch k {
	case antientropy.MerkleLevel, antientropy.BucketKeys, antientropy.Tombstones:
		return true
	}
	return false
}

// envelope is the message of a machine's request.
func envelope(req antientropy.Request) *messages.Envelope {
	p := req.Partition
	switch req.Kind {
	case antientropy.MerkleLevel:
		parents := make([]uint32, len(req.Parents))
		for i, x := range req.Parents {
			parents[i] = uint32(x)
		}
		return &messages.Envelope{Body: &messages.Envelope_MerkleRequest{MerkleRequest: &messages.MerkleRequest{
			Partition: p, Level: uint32(req.Level), Parents: parents}}}
	case antientropy.BucketKeys:
		buckets := make([]uint32, len(req.Buckets))
		for i, b := range req.Buckets {
			buckets[i] = uint32(b)
		}
		return &messages.Envelope{Body: &messages.Envelope_BucketKeysRequest{BucketKeysRequest: &messages.BucketKeysRequest{
			Partition: p, Buckets: buckets}}}
	case antientropy.Get:
		return &messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Partition: p, Key: req.Key}}}
	case antientropy.Merge:
		return &messages.Envelope{Body: &messages.Envelope_MergeRequest{MergeRequest: mergeRequest(p, req.Key, req.Object)}}
	case antientropy.Tombstones:
		return &messages.Envelope{Body: &messages.Envelope_TombstonesRequest{TombstonesRequest: &messages.TombstonesRequest{
			Partition: p, OlderThanUnixMs: req.OlderThanUnixMs, Limit: uint32(req.Limit)}}}
	case antientropy.HintsFor:
		return &messages.Envelope{Body: &messages.Envelope_HintsForRequest{HintsForRequest: &messages.HintsForRequest{Partition: p, Key: req.Key}}}
	case antientropy.Reap:
		return &messages.Envelope{Body: &messages.Envelope_ReapRequest{ReapRequest: &messages.ReapRequest{
			Partition: p, Key: req.Key, Object: wire.ObjectToProto(req.Object)}}}
	}
	panic("entropy: a request kind the machine does not make: " + req.Kind.String())
}

func mergeRequest(p uint32, key []byte, obj dvv.Set) *messages.MergeRequest {
	return &messages.MergeRequest{Partition: p, Key: key, Object: wire.ObjectToProto(obj)}
}

// mergeSize is the wire size of a merge request, which ae_bytes_total
// counts; the machine knows no encoding.
func mergeSize(p uint32, key []byte, obj dvv.Set) int {
	return proto.Size(mergeRequest(p, key, obj))
}
