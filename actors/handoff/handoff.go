package handoff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

// Transfer kinds.
const (
	KindReceive = "receive"
	KindDrain   = "drain"
)

// Config configures the handoff actor.
type Config struct {
	Self string
	View *topology.View
	// VnodePID returns the PID of partition p's vnode on node.
	VnodePID    func(node string, p uint32) *actor.PID
	TopologyPID *actor.PID
	Engine      persistence.Engine
	// Keys mirrors each local vnode's key count.
	Keys []atomic.Int64

	Concurrency int
	BatchKeys   int
	BatchBytes  int
	DropDelay   time.Duration
	// Interval is how often the plan is checked for work.
	Interval time.Duration
	// Timeout bounds one request of a transfer.
	Timeout time.Duration

	Status  *Status
	Metrics *Metrics
	// OnEvent, when set, hears of transfers starting and finishing and of
	// dropped partitions.
	OnEvent func(kind, subject string, p uint32, detail string)
	// OnRetired, when set, is called once when this node was removed from
	// the ring, has no part in any partition and holds no data.
	OnRetired func()
	Logger    *slog.Logger
}

// Props returns the props of the handoff actor.
func Props(cfg Config) *actor.Props {
	if cfg.Status == nil {
		cfg.Status = &Status{}
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &handoffActor{cfg: cfg, active: map[uint32]*transfer{}, inflight: map[uint64]uint32{}, unneeded: map[uint32]time.Time{}, received: map[uint32]uint64{}}
	})
}

type tick struct{}

// transfer is one running transfer of a partition.
type transfer struct {
	kind string
	p    uint32
	// since is the placement a receive fills.
	since uint64
	// peer is the source of a receive; targets the replicas a drain
	// pushes to.
	peer    string
	targets []string
	// cursor is the last key merged (receive) or pushed (drain).
	cursor []byte
	// pending batch: its last key and whether it ends the partition.
	batchLast []byte
	batchDone bool
	batchKeys int
	batchSize int
	// awaiting counts the merge acknowledgements a drain still needs.
	awaiting int
	// generation is the drained vnode's write count when the drain began.
	generation    uint64
	generationSet bool
	keys, bytes   int64
	total         int64
	started       time.Time
	deadline      time.Time
}

type handoffActor struct {
	cfg      Config
	ticker   *ticker.Ticker
	active   map[uint32]*transfer
	inflight map[uint64]uint32 // request id → partition
	nextID   uint64
	// unneeded records since when each partition this node holds data of
	// has had no part of it in the plan.
	unneeded map[uint32]time.Time
	// received holds the placements (partition → since) this node finished
	// receiving whose record the snapshot may not show yet, so they are not
	// pulled again meanwhile.
	received map[uint32]uint64
	// handingOver is set once this run of the node had a part in the ring
	// or held data: only then does being removed with nothing left mean a
	// decommission just finished. A removed node restarted on an empty
	// store stays up, idle, until dhtctl join.
	handingOver bool
	retired     bool
}

func (a *handoffActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.ticker = ticker.Start(ctx, a.cfg.Interval, tick{})
		ctx.Send(ctx.Self(), tick{}) // the first check need not wait an interval
	case *actor.Stopping, *actor.Restarting:
		a.ticker.Stop()
	case tick:
		a.tick(ctx)
	case *messages.Envelope:
		a.onReply(ctx, msg)
	case *vnode.Dropped:
		a.onDropped(ctx, msg)
	}
}

func (a *handoffActor) tick(ctx actor.Context) {
	snap := a.cfg.View.Load()
	if snap == nil || len(snap.Plan.Slots) == 0 {
		return
	}
	now := time.Now()
	for p, t := range a.active {
		switch {
		case now.After(t.deadline):
			a.abort(t, "timed out waiting for "+t.peerOrTargets())
			delete(a.active, p)
		case !t.peersAlive(snap):
			// Requests to a node that died are never answered: stop now
			// rather than at the deadline, and start over with live peers.
			a.abort(t, "a peer is down: "+t.peerOrTargets())
			delete(a.active, p)
		}
	}
	plan := snap.Plan
	wanted := plan.Transfers(a.cfg.Self)
	// A receive the plan no longer wants (the ring changed again) stops.
	for p, t := range a.active {
		if t.kind == KindReceive && !slices.ContainsFunc(wanted, func(w ringTransfer) bool { return w.Partition == p && w.Since == t.since }) {
			a.abort(t, "the ring changed")
			delete(a.active, p)
		}
	}
	for p, since := range a.received {
		if !slices.ContainsFunc(wanted, func(w ringTransfer) bool { return w.Partition == p && w.Since == since }) {
			delete(a.received, p) // the record has reached the snapshot
		}
	}
	for _, w := range wanted {
		if len(a.active) >= a.cfg.Concurrency {
			break
		}
		if _, busy := a.active[w.Partition]; busy {
			continue
		}
		if since, ok := a.received[w.Partition]; ok && since == w.Since {
			continue
		}
		a.startReceive(ctx, snap, w)
	}

	// Drains wait until this node has merged the cluster's ring since it
	// started: a stale ring could say it has no part where it has one.
	draining := 0
	owner := snap.State.Owner(a.cfg.Self)
	for p := range a.cfg.Keys {
		pp := uint32(p)
		if a.cfg.Keys[p].Load() == 0 || plan.Needs(a.cfg.Self, pp) || !snap.Synced {
			delete(a.unneeded, pp)
			continue
		}
		draining++
		since, seen := a.unneeded[pp]
		if !seen {
			a.unneeded[pp] = now
			continue
		}
		if _, busy := a.active[pp]; busy || now.Sub(since) < a.cfg.DropDelay || len(a.active) >= a.cfg.Concurrency {
			continue
		}
		a.startDrain(ctx, snap, pp)
	}
	receives := 0
	for _, t := range a.active {
		if t.kind == KindReceive {
			receives++
		}
	}
	a.cfg.Status.update(snap.State.Version(), plan.Settled(), len(wanted), draining, a.active, now)
	if a.cfg.Metrics != nil {
		a.cfg.Metrics.Pending.Set(float64(len(wanted)))
		a.cfg.Metrics.Draining.Set(float64(draining))
		a.cfg.Metrics.Active.Set(float64(len(a.active)))
		a.cfg.Metrics.ETA.Set(a.cfg.Status.Snapshot().ETASeconds)
	}

	if owner || draining > 0 || plan.Involved(a.cfg.Self) {
		a.handingOver = true
	}
	if a.handingOver && !a.retired && !owner && snap.Synced && a.removed(snap) && len(wanted) == 0 && draining == 0 && len(a.active) == 0 && !plan.Involved(a.cfg.Self) {
		a.retired = true
		a.cfg.Logger.Info("this node was removed from the ring and has handed over all its data")
		if a.cfg.OnRetired != nil {
			a.cfg.OnRetired()
		}
	}
}

func (a *handoffActor) removed(snap *topology.Snapshot) bool {
	for _, m := range snap.State.Members {
		if m.ID == a.cfg.Self {
			return m.Removed()
		}
	}
	return false
}

func (t *transfer) peersAlive(snap *topology.Snapshot) bool {
	if t.kind == KindReceive {
		return snap.Alive(t.peer)
	}
	for _, id := range t.targets {
		if !snap.Alive(id) {
			return false
		}
	}
	return true
}

func (t *transfer) peerOrTargets() string {
	if t.kind == KindReceive {
		return t.peer
	}
	return fmt.Sprint(t.targets)
}

func (a *handoffActor) startReceive(ctx actor.Context, snap *topology.Snapshot, w ringTransfer) {
	if len(w.Sources) == 0 {
		// Nobody else has the partition: this node has every key there is.
		a.received[w.Partition] = w.Since
		ctx.Send(a.cfg.TopologyPID, &topology.HandoffDone{Partition: w.Partition, Since: w.Since})
		return
	}
	source := ""
	for _, s := range w.Sources {
		if s != a.cfg.Self && snap.Alive(s) {
			source = s
			break
		}
	}
	if source == "" {
		return // every holder is down; try again when one is back
	}
	t := &transfer{kind: KindReceive, p: w.Partition, since: w.Since, peer: source, started: time.Now()}
	if c, ok := a.loadCursor(w.Partition, w.Since); ok {
		t.cursor = c
	}
	a.active[w.Partition] = t
	a.event("handoff-start", source, w.Partition, fmt.Sprintf("receiving from %s%s", source, resumeNote(t.cursor)))
	a.pull(ctx, t, source)
}

func resumeNote(cursor []byte) string {
	if len(cursor) == 0 {
		return ""
	}
	return fmt.Sprintf(", resuming after key %q", cursor)
}

func (a *handoffActor) startDrain(ctx actor.Context, snap *topology.Snapshot, p uint32) {
	serving, pending := snap.Plan.Serving(p, snap.Alive)
	var targets []string
	for _, id := range append(serving, pending...) {
		if id != a.cfg.Self && snap.Alive(id) && !slices.Contains(targets, id) {
			targets = append(targets, id)
		}
	}
	if len(targets) == 0 {
		return
	}
	t := &transfer{kind: KindDrain, p: p, targets: targets, started: time.Now()}
	a.active[p] = t
	a.event("handoff-start", "", p, fmt.Sprintf("draining to %v before dropping", targets))
	a.pull(ctx, t, a.cfg.Self)
}

// pull asks node's vnode for the batch after t's cursor.
func (a *handoffActor) pull(ctx actor.Context, t *transfer, node string) {
	a.request(ctx, t, a.cfg.VnodePID(node, t.p), &messages.Envelope{Body: &messages.Envelope_HandoffPullRequest{HandoffPullRequest: &messages.HandoffPullRequest{
		Partition: t.p, AfterKey: t.cursor, MaxKeys: uint32(a.cfg.BatchKeys), MaxBytes: uint32(a.cfg.BatchBytes),
	}}})
}

func (a *handoffActor) request(ctx actor.Context, t *transfer, pid *actor.PID, env *messages.Envelope) {
	a.nextID++
	env.RequestId = a.nextID
	env.DeadlineUnixMs = time.Now().Add(a.cfg.Timeout).UnixMilli()
	a.inflight[a.nextID] = t.p
	t.deadline = time.Now().Add(a.cfg.Timeout)
	ctx.Request(pid, env)
}

func (a *handoffActor) onReply(ctx actor.Context, env *messages.Envelope) {
	p, ok := a.inflight[env.GetRequestId()]
	if !ok {
		return // a straggler of an aborted transfer
	}
	delete(a.inflight, env.GetRequestId())
	t := a.active[p]
	if t == nil {
		return
	}
	if e := env.GetErrorReply(); e != nil {
		a.abort(t, fmt.Sprintf("%s: %s", e.GetCode(), e.GetMessage()))
		delete(a.active, p)
		return
	}
	switch body := env.GetBody().(type) {
	case *messages.Envelope_HandoffPullReply:
		a.onBatch(ctx, t, body.HandoffPullReply)
	case *messages.Envelope_MergeBatchReply:
		a.onMerged(ctx, t)
	}
}

// onBatch hands a pulled batch on: to the local vnode for a receive, to
// every target for a drain.
func (a *handoffActor) onBatch(ctx actor.Context, t *transfer, r *messages.HandoffPullReply) {
	if t.kind == KindDrain && !t.generationSet {
		t.generation, t.generationSet = r.GetGeneration(), true
	}
	if t.total == 0 {
		t.total = int64(r.GetTotalKeys())
	}
	entries := r.GetEntries()
	t.batchDone = r.GetDone()
	if len(entries) == 0 {
		a.batchLanded(ctx, t)
		return
	}
	t.batchLast = entries[len(entries)-1].GetKey()
	t.batchKeys, t.batchSize = len(entries), 0
	for _, e := range entries {
		t.batchSize += len(e.GetKey()) + sizeOf(e.GetObject())
	}
	merge := &messages.MergeBatchRequest{Partition: t.p, Entries: entries}
	if t.kind == KindReceive {
		t.awaiting = 1
		a.request(ctx, t, a.cfg.VnodePID(a.cfg.Self, t.p), &messages.Envelope{Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: merge}})
		return
	}
	t.awaiting = len(t.targets)
	for _, target := range t.targets {
		a.request(ctx, t, a.cfg.VnodePID(target, t.p), &messages.Envelope{Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: merge}})
	}
}

func sizeOf(o *messages.Object) int {
	n := 0
	for _, s := range o.GetSiblings() {
		n += len(s.GetValue()) + len(s.GetContentType()) + 24
	}
	return n + 12*len(o.GetContext())
}

func (a *handoffActor) onMerged(ctx actor.Context, t *transfer) {
	t.awaiting--
	if t.awaiting > 0 {
		return
	}
	t.keys += int64(t.batchKeys)
	t.bytes += int64(t.batchSize)
	if a.cfg.Metrics != nil {
		a.cfg.Metrics.Keys.WithLabelValues(t.kind).Add(float64(t.batchKeys))
		a.cfg.Metrics.Bytes.WithLabelValues(t.kind).Add(float64(t.batchSize))
	}
	a.cfg.Status.moved(int64(t.batchKeys))
	a.cfg.Status.refresh(a.active)
	t.cursor = t.batchLast
	if t.kind == KindReceive {
		if err := a.saveCursor(t.p, t.since, t.cursor); err != nil {
			// Only resumption suffers: the transfer goes on.
			a.cfg.Logger.Warn("persisting a handoff cursor", "partition", t.p, "err", err)
		}
	}
	a.batchLanded(ctx, t)
}

// batchLanded moves on once a batch is merged everywhere it goes.
func (a *handoffActor) batchLanded(ctx actor.Context, t *transfer) {
	if !t.batchDone {
		node := t.peer
		if t.kind == KindDrain {
			node = a.cfg.Self
		}
		a.pull(ctx, t, node)
		return
	}
	if t.kind == KindDrain {
		t.deadline = time.Now().Add(a.cfg.Timeout)
		ctx.Request(a.cfg.VnodePID(a.cfg.Self, t.p), &vnode.Drop{Generation: t.generation})
		return
	}
	delete(a.active, t.p)
	a.received[t.p] = t.since
	ctx.Send(a.cfg.TopologyPID, &topology.HandoffDone{Partition: t.p, Since: t.since})
	// A slot is free: start the next transfer now, not at the next tick.
	ctx.Send(ctx.Self(), tick{})
	if err := a.cfg.Engine.Delete(cursorKey(t.p)); err != nil {
		a.cfg.Logger.Warn("deleting a finished handoff cursor", "partition", t.p, "err", err)
	}
	a.finished(t, "done")
	a.event("handoff-finish", t.peer, t.p, fmt.Sprintf("received %d keys, %d bytes from %s in %s", t.keys, t.bytes, t.peer, time.Since(t.started).Round(time.Millisecond)))
}

func (a *handoffActor) onDropped(ctx actor.Context, d *vnode.Dropped) {
	t := a.active[d.Partition]
	if t == nil || t.kind != KindDrain {
		return
	}
	delete(a.active, d.Partition)
	switch {
	case d.Err != nil:
		a.abort(t, d.Err.Error())
	case !d.Done:
		// A write arrived after the push began: push again next time.
		a.finished(t, "retry")
	default:
		ctx.Send(ctx.Self(), tick{})
		a.finished(t, "done")
		a.event("handoff-drop", "", t.p, fmt.Sprintf("pushed %d keys to %v and dropped the partition", t.keys, t.targets))
	}
}

func (a *handoffActor) abort(t *transfer, why string) {
	for id, p := range a.inflight {
		if p == t.p {
			delete(a.inflight, id)
		}
	}
	a.cfg.Logger.Info("handoff transfer stopped; it resumes on a later tick", "kind", t.kind, "partition", t.p, "peer", t.peerOrTargets(), "reason", why, "keys", t.keys)
	a.finished(t, "aborted")
}

func (a *handoffActor) finished(t *transfer, result string) {
	if a.cfg.Metrics != nil {
		a.cfg.Metrics.Transfers.WithLabelValues(t.kind, result).Inc()
	}
	if result == "done" {
		a.cfg.Status.completed.Add(1)
	}
}

func (a *handoffActor) event(kind, subject string, p uint32, detail string) {
	if a.cfg.OnEvent != nil {
		a.cfg.OnEvent(kind, subject, p, detail)
	}
}

// cursorKey is where a receive's progress is kept: the placement's since
// and the last key merged.
func cursorKey(p uint32) []byte { return persistence.MetaKey(fmt.Sprintf("handoff/%d", p)) }

func (a *handoffActor) saveCursor(p uint32, since uint64, last []byte) error {
	return a.cfg.Engine.Put(cursorKey(p), append(binary.BigEndian.AppendUint64(nil, since), last...))
}

// loadCursor returns the last key merged for p's placement at since; a
// cursor of an older placement is stale and ignored.
func (a *handoffActor) loadCursor(p uint32, since uint64) ([]byte, bool) {
	raw, err := a.cfg.Engine.Get(cursorKey(p))
	if err != nil {
		if !errors.Is(err, persistence.ErrNotFound) {
			a.cfg.Logger.Warn("reading a handoff cursor; starting the partition over", "partition", p, "err", err)
		}
		return nil, false
	}
	if len(raw) < 8 || binary.BigEndian.Uint64(raw) != since {
		return nil, false
	}
	return raw[8:], true
}
