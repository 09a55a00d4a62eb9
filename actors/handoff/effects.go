package handoff

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/internal/transfer"
	"github.com/dhtkv/dht/messages"
)

// apply carries out the machine's effects in order: persist, send, report.
// entries is the batch of the pull reply that produced eff, which its
// Merges send on.
func (a *handoffActor) apply(ctx actor.Context, eff transfer.Effects, entries []*messages.KeyObject) {
	for _, c := range eff.Cursors {
		a.persist(c)
	}
	a.send(ctx, eff, entries)
	a.report(eff)
}

func (a *handoffActor) send(ctx actor.Context, eff transfer.Effects, entries []*messages.KeyObject) {
	// The ring's partition count stamps every request, so that a source
	// on a ring of another size (during a resize) refuses it rather than
	// serve another arc under the same number.
	var q uint32
	if snap := a.cfg.View.Load(); snap != nil {
		q = uint32(len(snap.Plan.Slots))
	}
	for _, c := range eff.Compares {
		ctx.Request(a.cfg.VnodePID(c.Node, c.Partition), &messages.Envelope{
			RequestId: c.ID, DeadlineUnixMs: c.Deadline.UnixMilli(), RingPartitions: q,
			Body: &messages.Envelope_MerkleRequest{MerkleRequest: &messages.MerkleRequest{
				Partition: c.Partition, Level: uint32(c.Level), Parents: uint32s(c.Parents),
			}},
		})
	}
	for _, l := range eff.Lists {
		ctx.Request(a.cfg.VnodePID(l.Node, l.Partition), &messages.Envelope{
			RequestId: l.ID, DeadlineUnixMs: l.Deadline.UnixMilli(), RingPartitions: q,
			Body: &messages.Envelope_BucketKeysRequest{BucketKeysRequest: &messages.BucketKeysRequest{
				Partition: l.Partition, Buckets: uint32s(l.Buckets),
			}},
		})
	}
	for _, p := range eff.Pulls {
		ctx.Request(a.cfg.VnodePID(p.Node, p.Partition), &messages.Envelope{
			RequestId: p.ID, DeadlineUnixMs: p.Deadline.UnixMilli(), RingPartitions: q,
			Body: &messages.Envelope_HandoffPullRequest{HandoffPullRequest: &messages.HandoffPullRequest{
				Partition: p.Partition, AfterKey: p.After, MaxKeys: uint32(p.MaxKeys), MaxBytes: uint32(p.MaxBytes), Keys: p.Keys,
			}},
		})
	}
	for _, m := range eff.Merges {
		ctx.Request(a.cfg.VnodePID(m.Node, m.Partition), &messages.Envelope{
			RequestId: m.ID, DeadlineUnixMs: m.Deadline.UnixMilli(),
			Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: &messages.MergeBatchRequest{Partition: m.Partition, Entries: entries}},
		})
	}
	for _, d := range eff.Drops {
		ctx.Request(a.cfg.VnodePID(a.cfg.Self, d.Partition), &vnode.Drop{Generation: d.Generation})
	}
	for _, pl := range eff.Done {
		ctx.Send(a.cfg.TopologyPID, &topology.HandoffDone{Partition: pl.Partition, Since: pl.Since})
	}
	if eff.Recheck {
		ctx.Send(ctx.Self(), tick{})
	}
}

// report shares progress: metrics, Status, the log, the event stream, and
// the node's retirement.
func (a *handoffActor) report(eff transfer.Effects) {
	m := a.cfg.Metrics
	for _, mv := range eff.Moved {
		if m != nil {
			m.Keys.WithLabelValues(string(mv.Kind)).Add(float64(mv.Keys))
			m.Bytes.WithLabelValues(string(mv.Kind)).Add(float64(mv.Bytes))
		}
	}
	for _, c := range eff.Compared {
		if m != nil {
			m.Compares.WithLabelValues(string(c.Kind), string(c.Result)).Inc()
			m.CompareBytes.WithLabelValues(string(c.Kind)).Add(float64(c.Bytes))
			if c.Result != transfer.Full {
				m.SkippedKeys.WithLabelValues(string(c.Kind)).Add(float64(max(c.SourceKeys-c.Send, 0)))
			}
		}
		a.cfg.Logger.Debug("handoff transfer compared trees", "kind", string(c.Kind), "partition", c.Partition,
			"result", string(c.Result), "source_keys", c.SourceKeys, "send", c.Send, "bytes", c.Bytes, "reason", c.Reason)
	}
	if eff.Active != nil {
		a.cfg.Status.refresh(eff.Active)
	}
	for _, e := range eff.Ended {
		if m != nil {
			m.Transfers.WithLabelValues(string(e.Kind), string(e.Result)).Inc()
		}
		switch e.Result {
		case transfer.Done:
			// Only transfers that moved data: a new cluster's nodes
			// "receive" every partition they gain, empty, and counting
			// those showed 256 transfers on a cluster holding nothing.
			if e.Keys > 0 {
				a.cfg.Status.completed.Add(1)
			}
		case transfer.Aborted:
			a.cfg.Logger.Info("handoff transfer stopped; it resumes on a later tick",
				"kind", string(e.Kind), "partition", e.Partition, "peer", e.Peer, "reason", e.Reason, "keys", e.Keys)
		}
	}
	for _, e := range eff.Events {
		if a.cfg.OnEvent != nil {
			a.cfg.OnEvent(eventKind(e.Kind), e.Subject, e.Partition, e.Detail)
		}
	}
	if r := eff.Report; r != nil {
		a.cfg.Status.update(r)
		if r.Leaving && !a.leaving {
			a.leaving = true
			if a.cfg.OnLeaving != nil {
				a.cfg.OnLeaving()
			}
		}
		if m != nil {
			m.Pending.Set(float64(r.Pending))
			m.Rebuilding.Set(float64(r.Rebuilding))
			m.Draining.Set(float64(r.Draining))
			m.Active.Set(float64(len(r.Active)))
			m.ETA.Set(r.ETASeconds)
		}
	}
	if eff.Retire {
		a.cfg.Logger.Info("this node was removed from the ring and has handed over all its data")
		if a.cfg.OnRetired != nil {
			a.cfg.OnRetired()
		}
	}
}

func uint32s(in []int) []uint32 {
	out := make([]uint32, len(in))
	for i, x := range in {
		out[i] = uint32(x)
	}
	return out
}

// eventKind names a machine's event as the node's event stream does.
func eventKind(k transfer.EventKind) string {
	switch k {
	case transfer.Started:
		return events.HandoffStart
	case transfer.Finished:
		return events.HandoffFinish
	default:
		return events.HandoffDrop
	}
}
