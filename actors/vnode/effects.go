package vnode

import (
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

// carry carries out a step's effects in order — persist, publish, reply,
// resume — and, when a write was synchronous, the effects of its outcome
// in turn.
func (v *vnode) carry(eff replica.Effects[addr]) {
	for {
		if eff.Siblings > 0 && v.cfg.Metrics != nil {
			v.cfg.Metrics.Siblings.Observe(float64(eff.Siblings))
		}
		next, more := v.persist(eff.Write)
		if eff.Publish {
			v.publish()
		}
		if eff.Reply.Kind != replica.ReplyNone {
			v.send(eff.Reply)
		}
		if eff.Resume {
			v.resume()
		}
		if !more {
			return
		}
		eff = next
	}
}

// persist carries out w. A synchronous write's outcome goes straight back
// to the machine, whose effects it returns; an asynchronous one's comes
// back later as a writeDone.
func (v *vnode) persist(w replica.Write) (replica.Effects[addr], bool) {
	var err error
	switch w.Kind {
	case replica.WriteNone:
		return replica.Effects[addr]{}, false
	case replica.WritePutAsync:
		v.putAsync(w)
		return replica.Effects[addr]{}, false
	case replica.WritePut:
		err = v.store.writeKey(w.Key, w.Value)
	case replica.WriteDelete:
		err = v.store.writeKey(w.Key, nil)
	case replica.WriteDropAll:
		err = v.dropAll()
	}
	return v.m.WriteDone(w.ID, err), true
}

// putAsync hands w to the engine; its answer, on the engine's goroutine,
// is only sent back to this actor.
func (v *vnode) putAsync(w replica.Write) {
	root, self, id := v.root, v.self, w.ID
	v.pending++
	// While the partition inherits keys from the partitions it split
	// from, a write also deletes their copies, in a batch, and no write
	// may be in flight when an adoption step runs (see inheritance).
	if !v.store.in.pending() {
		key := persistence.DataKey(v.store.id, w.Key)
		v.inflight.Add(1)
		if v.async.PutAsync(key, w.Value, func(err error) {
			v.inflight.Done()
			root.Send(self, &writeDone{owner: v, id: id, err: err})
		}) {
			return
		}
		v.inflight.Done()
	}
	// No asynchronous path after all: write now, but answer through the
	// mailbox all the same, after any reply this step sends.
	root.Send(self, &writeDone{owner: v, id: id, err: v.store.writeKey(w.Key, w.Value)})
}

// dropAll deletes every key of the partition, those its ancestors still
// hold of it included. Scan must not call back into the engine: collect
// the keys, then delete them in batches small enough for badger's
// transaction limit.
func (v *vnode) dropAll() error {
	keys, err := v.store.keys()
	for len(keys) > 0 && err == nil {
		b := persistence.NewBatch()
		for len(keys) > 0 && b.Size() < 1<<20 {
			b.Delete(keys[0])
			keys = keys[1:]
		}
		err = v.cfg.Engine.Write(b)
	}
	return err
}

func (v *vnode) publish() {
	if v.cfg.Root != nil {
		v.cfg.Root.Store(v.m.Root())
	}
	if v.cfg.Keys != nil {
		v.cfg.Keys.Store(int64(v.m.Len()))
	}
}

// send converts a reply to its message, counts it, and sends it. Not
// ctx.Respond: a reply may answer a request of an earlier message (a write
// the engine confirmed, a deferred request).
func (v *vnode) send(r replica.Reply[addr]) {
	if r.To.drop {
		if r.To.pid != nil {
			v.root.Send(r.To.pid, &Dropped{Partition: v.cfg.Partition, Done: r.Dropped.Done, Keys: r.Dropped.Keys, Err: r.Dropped.Err})
		}
		return
	}
	env := envelope(r)
	env.RequestId = r.To.id
	if r.Op != replica.OpNone && v.cfg.Metrics != nil {
		result := metrics.ResultOK
		if e := env.GetErrorReply(); e != nil {
			result = e.GetCode().String()
		}
		v.cfg.Metrics.CountVnodeOp(vnodeOps[r.Op], result)
	}
	if r.To.pid != nil {
		v.root.Send(r.To.pid, env)
	}
}

// vnodeOps names the machine's counted operations for the metric.
var vnodeOps = [...]metrics.VnodeOp{
	replica.OpPut:         metrics.VnodePut,
	replica.OpGet:         metrics.VnodeGet,
	replica.OpMerge:       metrics.VnodeMerge,
	replica.OpReap:        metrics.VnodeReap,
	replica.OpHandoffPull: metrics.VnodeHandoffPull,
	replica.OpMergeBatch:  metrics.VnodeMergeBatch,
}

var errorCodes = [...]messages.ErrorCode{
	replica.CodeStorage:            CodeStorage,
	replica.CodeBadRequest:         CodeBadRequest,
	replica.CodeTooManySiblings:    CodeTooManySiblings,
	replica.CodeBadContext:         CodeBadContext,
	replica.CodeUnknownRequest:     CodeUnknown,
	replica.CodeNotReady:           CodeNotReady,
	replica.CodeExpired:            CodeExpired,
	replica.CodePreconditionFailed: CodePreconditionFailed,
}

// envelope converts a machine's reply to the message that carries it.
func envelope(r replica.Reply[addr]) *messages.Envelope {
	switch r.Kind {
	case replica.ReplyError:
		return &messages.Envelope{Body: &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{Code: errorCodes[r.Code], Message: r.Message}}}
	case replica.ReplyPut:
		pr := &messages.PutReply{Minted: r.Minted}
		if r.HasObject {
			pr.Object = wire.ObjectToProto(r.Object)
		}
		return &messages.Envelope{Body: &messages.Envelope_PutReply{PutReply: pr}}
	case replica.ReplyGet:
		return &messages.Envelope{Body: &messages.Envelope_GetReply{GetReply: &messages.GetReply{Object: wire.ObjectToProto(r.Object)}}}
	case replica.ReplyMerge:
		return &messages.Envelope{Body: &messages.Envelope_MergeReply{MergeReply: &messages.MergeReply{}}}
	case replica.ReplyMergeBatch:
		return &messages.Envelope{Body: &messages.Envelope_MergeBatchReply{MergeBatchReply: &messages.MergeBatchReply{Merged: r.Merged}}}
	case replica.ReplyReap:
		return &messages.Envelope{Body: &messages.Envelope_ReapReply{ReapReply: &messages.ReapReply{Reaped: r.Reaped}}}
	case replica.ReplyList:
		reply := &messages.ListReply{More: !r.Pull.Done}
		for _, e := range r.Pull.Entries {
			ko := &messages.KeyObject{Key: e.Key}
			if !e.Object.IsEmpty() {
				ko.Object = wire.ObjectToProto(e.Object)
			}
			reply.Entries = append(reply.Entries, ko)
		}
		return &messages.Envelope{Body: &messages.Envelope_ListReply{ListReply: reply}}
	case replica.ReplyHandoffPull:
		return &messages.Envelope{Body: &messages.Envelope_HandoffPullReply{HandoffPullReply: pullReply(r.Pull)}}
	case replica.ReplyBucketKeys:
		reply := &messages.BucketKeysReply{}
		for _, kv := range r.Versions {
			reply.Keys = append(reply.Keys, &messages.KeyVersion{Key: kv.Key, ValueHash: kv.Hash})
		}
		return &messages.Envelope{Body: &messages.Envelope_BucketKeysReply{BucketKeysReply: reply}}
	case replica.ReplyTombstones:
		return &messages.Envelope{Body: &messages.Envelope_TombstonesReply{TombstonesReply: &messages.TombstonesReply{Keys: r.Keys}}}
	case replica.ReplyMerkle:
		return &messages.Envelope{Body: &messages.Envelope_MerkleReply{MerkleReply: &messages.MerkleReply{
			Hashes: r.Hashes, Fanout: uint32(r.Shape.Fanout), Depth: uint32(r.Shape.Depth),
			Generation: r.Pull.Generation, TotalKeys: r.Pull.TotalKeys,
		}}}
	}
	panic("vnode: a reply of no kind") // a broken invariant of package replica
}

func pullReply(p replica.Pull) *messages.HandoffPullReply {
	reply := &messages.HandoffPullReply{Done: p.Done, Generation: p.Generation, TotalKeys: p.TotalKeys, KeysAnswered: uint32(p.Answered)}
	for _, e := range p.Entries {
		reply.Entries = append(reply.Entries, &messages.KeyObject{Key: e.Key, Object: wire.ObjectToProto(e.Object)})
	}
	return reply
}
