package quorum

import (
	"fmt"

	"github.com/dhtkv/dht/internal/dvv"
)

// PutEffects is what the coordinator must do after a Put event, in order.
type PutEffects struct {
	// Coordinate names the replica that must apply the client's write: mint
	// a dot, merge, persist, and answer with the resulting object (Minted
	// when it answers before the write is durable, then Coordinated). It is
	// set by Start, and again by CoordinatorLate when the write is handed
	// over to the next owner.
	Coordinate *Target
	// Replicate lists the replicas that must merge Object, the coordinated
	// result.
	Replicate []Target
	Object    dvv.Set
	// Minter, when set, names the coordinating replica that just produced
	// an object: Object is it, merged with any a handed-over coordination
	// produced before. It is set together with Replicate (which may be
	// empty when the minter is the only target).
	Minter string
	// Reply, when set, is the client's answer. It is set at most once.
	Reply *PutResult
}

// PutResult is the outcome of a write.
type PutResult struct {
	// Object is the key's state at the coordinating replica after the write
	// (after a handover whose first coordinator landed too: the merge of
	// both coordinated objects, so the returned context covers both dots).
	Object dvv.Set
	// Acks is how many replicas had acknowledged when the reply was made.
	Acks int
	// Err is nil on success; ErrUnavailable when nothing was sent;
	// ErrIndeterminate when the write was sent but not confirmed; otherwise
	// the coordinating replica's refusal.
	Err error
}

// Put is the state machine of one write: coordinate at one replica, then
// replicate its result to the rest, and answer once W replicas (PW of them
// primaries) hold it. The coordinator's own write counts when it is
// durable, like every other replica's; the others are sent the result as
// soon as it exists.
//
// A coordinating replica that has not answered by its own, short deadline
// (CoordinatorLate) is replaced by the next owner, which is sent the same
// request: the client's value with the client's context. Both may land.
// Each then mints its own dot over the same context, so neither object
// dominates the other: merged, they are two siblings of the same value,
// never a loss. The machine treats each coordinator's answer on its own:
// the first object produced goes to every other target, a later one too
// (merged with the first), and a replica counts once toward W whichever
// object it acknowledged.
type Put struct {
	params  Params
	targets []Target
	// coordinator is the first coordinating replica's index (-1 when none
	// can coordinate); asked lists every replica asked to coordinate, in
	// order, the first one included.
	coordinator int
	asked       []string
	sent        bool
	// minted is set once a coordinating replica has produced an object:
	// from then on the other replicas have been sent it. object is the
	// merge of every coordinated object; mintedBy records who produced one.
	minted   bool
	object   dvv.Set
	mintedBy map[string]bool
	// sentTo lists the nodes sent a coordinated object: only their
	// acknowledgements can be of this write.
	sentTo map[string]bool
	acked  map[string]bool
	failed map[string]bool
	// refused lists coordinating replicas that definitely refused the
	// write (nothing stored there); refusal is the last such error.
	refused map[string]bool
	refusal error
	replied bool
	// pinned keeps the write at its first coordinating replica (Pin).
	pinned bool
}

// NewPut returns the machine for a write to targets, the reachable replicas
// of the key in preference order. The coordinator is the first primary, as
// in Dynamo: a primary, because it mints the dot and stores the write as a
// replica, which a fallback keeping a hint cannot; the first, so that every
// node sends a key's writes to the same replica while it is up. That replica
// then sees every concurrent write to the key before it stores the next,
// which is what makes the sibling limit (and a conditional write) hold
// across the cluster: the other replicas only ever merge objects it made,
// so none holds more siblings than it. Preferring the local replica would
// save a hop, but let three coordinators each admit max_siblings. A
// primary rebuilding after a data loss (WriteOnly) coordinates only when no
// other primary is reachable: it would mint on an object that lacks what
// it has not received yet, and answer the client a state that lacks the
// other replicas' siblings (they are merged in later, never lost).
func NewPut(p Params, targets []Target) *Put {
	targets = uniqueNodes(targets)
	f := &Put{params: p, targets: targets, coordinator: -1,
		mintedBy: map[string]bool{}, sentTo: map[string]bool{},
		acked: map[string]bool{}, failed: map[string]bool{}, refused: map[string]bool{}}
	for i, t := range targets {
		if t.Primary && (f.coordinator < 0 || targets[f.coordinator].WriteOnly) {
			f.coordinator = i
			if !t.WriteOnly {
				break
			}
		}
	}
	return f
}

// Start begins the write.
func (f *Put) Start() PutEffects {
	if f.sent || f.replied {
		return PutEffects{}
	}
	if f.coordinator < 0 || len(f.targets) < f.params.W || f.primaries() < f.params.PW {
		return f.reply(PutResult{Err: fmt.Errorf("%w: %d replicas reachable (%d primaries), the write needs w=%d pw=%d",
			ErrUnavailable, len(f.targets), f.primaries(), f.params.W, f.params.PW)})
	}
	f.sent = true
	t := f.targets[f.coordinator]
	f.asked = append(f.asked, t.Node)
	return PutEffects{Coordinate: &t}
}

// CoordinatorLate records that node, asked to coordinate, has not answered
// by the coordinator deadline (a short one, well inside the request's). If
// it is the latest replica asked, nothing has been coordinated yet, and
// another owner can coordinate, the write is handed over: Coordinate names
// the next owner in preference order that is a primary, not rebuilding
// (WriteOnly), not asked before and not failed. node is not given up on:
// if its answer comes after all, it is used like the new coordinator's
// (see Put). Otherwise nothing happens, and the write waits for the
// request's deadline as before.
func (f *Put) CoordinatorLate(node string) PutEffects {
	if f.replied || !f.sent || f.minted || len(f.asked) == 0 || f.asked[len(f.asked)-1] != node || f.failed[node] {
		return PutEffects{}
	}
	t, ok := f.nextCoordinator()
	if !ok {
		return PutEffects{}
	}
	f.asked = append(f.asked, t.Node)
	return PutEffects{Coordinate: &t}
}

// Pin keeps the write at its first coordinating replica: it is never
// handed over (CoordinatorLate, CanHandOver). A conditional write is
// pinned: its precondition is tested by the replica that mints it, against
// the object that replica stores, and a second coordinator would test it
// again against its own object, which may lack what the first one admitted:
// both could pass. Call it before Start.
func (f *Put) Pin() { f.pinned = true }

// nextCoordinator is the owner a handover would go to: the first in
// preference order that is a primary, not rebuilding (WriteOnly), not
// asked before and not failed. A pinned write has none.
func (f *Put) nextCoordinator() (Target, bool) {
	if f.pinned {
		return Target{}, false
	}
	for _, t := range f.targets {
		if t.Primary && !t.WriteOnly && !f.wasAsked(t.Node) && !f.failed[t.Node] {
			return t, true
		}
	}
	return Target{}, false
}

// CanHandOver reports whether CoordinatorLate could still hand the write
// on: an owner that is a primary, not rebuilding, not asked and not failed
// remains. The coordinator gives the replica it asks a short deadline only
// then; the last one it can ask keeps the request's.
func (f *Put) CanHandOver() bool {
	if f.replied || f.minted {
		return false
	}
	_, ok := f.nextCoordinator()
	return ok
}

// HandedOver reports how many times the write was handed to another
// coordinating replica.
func (f *Put) HandedOver() int { return max(len(f.asked)-1, 0) }

// Minted records that node, a replica asked to coordinate, has merged the
// write as obj and is still making it durable. obj goes to the other
// replicas at once, so that their writes overlap the coordinator's instead
// of following it (one fsync's wait on a durable write's path, not two);
// the coordinator's own acknowledgement follows with Coordinated, or its
// failure with Failed. An answer from a node not asked to coordinate, or a
// second one from the same node, is ignored.
func (f *Put) Minted(node string, obj dvv.Set) PutEffects {
	if f.replied || !f.wasAsked(node) || f.mintedBy[node] || f.failed[node] {
		return PutEffects{}
	}
	return f.mint(node, obj)
}

// Coordinated records that node, a replica asked to coordinate, persisted
// the write as obj: it counts as an acknowledgement, and obj goes to the
// others unless Minted sent it already (then obj is ignored: the answer
// confirming an early one carries no object).
func (f *Put) Coordinated(node string, obj dvv.Set) PutEffects {
	if f.replied || !f.wasAsked(node) {
		return PutEffects{}
	}
	var eff PutEffects
	if !f.mintedBy[node] {
		if f.failed[node] {
			return PutEffects{}
		}
		eff = f.mint(node, obj)
	} else if f.failed[node] {
		return PutEffects{}
	}
	f.acked[node] = true
	eff.Reply = f.check()
	return eff
}

// mint records node's coordinated object and sends the merge of every
// coordinated object so far to every other target.
func (f *Put) mint(node string, obj dvv.Set) PutEffects {
	if f.minted {
		obj = dvv.Merge(f.object, obj)
	}
	f.minted, f.object, f.mintedBy[node] = true, obj, true
	eff := PutEffects{Object: obj, Minter: node}
	for _, t := range f.targets {
		if t.Node != node {
			eff.Replicate = append(eff.Replicate, t)
			f.sentTo[t.Node] = true
		}
	}
	return eff
}

// Refused records that node, asked to coordinate, refused the write (for
// example too many siblings). Nothing was stored there, so the answer is
// definite — unless an object was already produced (Minted), by it or by
// another coordinator: the others have been sent it, so a refusal then is
// only the node's failure; or unless another coordinating replica may
// still land the write: then the refusal waits for its answer.
func (f *Put) Refused(node string, err error) PutEffects {
	if f.replied || !f.wasAsked(node) {
		return PutEffects{}
	}
	if f.minted {
		return f.Failed(node)
	}
	if f.failed[node] {
		return PutEffects{}
	}
	f.failed[node], f.refused[node], f.refusal = true, true, err
	if eff := f.coordinatorsSettled(); eff.Reply != nil {
		return eff
	}
	return f.checkReachable()
}

// Acked records a replica's acknowledgement of a coordinated object. An
// acknowledgement from a node that was not sent one (a coordinating
// replica's own write is reported with Coordinated), or from a node that is
// not a target, is ignored: it cannot be of this write. A node counts once,
// whichever coordinated object it acknowledged: each holds the client's
// write.
func (f *Put) Acked(node string) PutEffects {
	if f.replied || f.failed[node] || !f.sentTo[node] {
		return PutEffects{}
	}
	f.acked[node] = true
	return PutEffects{Reply: f.check()}
}

// Failed records that a replica could not take the write (it answered an
// error or is unreachable). The coordinator failing before it produced the
// object leaves the write's outcome unknown once no other replica it was
// handed to may still produce one; and any failure, a coordinator's
// included, does once W can no longer be reached.
func (f *Put) Failed(node string) PutEffects {
	if f.replied || f.acked[node] || !isTarget(f.targets, node) {
		return PutEffects{}
	}
	f.failed[node] = true
	if !f.minted && f.wasAsked(node) {
		if eff := f.coordinatorsSettled(); eff.Reply != nil {
			return eff
		}
	}
	return f.checkReachable()
}

// checkReachable answers the client once W (or PW) can no longer be
// reached: the write may have landed somewhere, so the outcome is unknown.
func (f *Put) checkReachable() PutEffects {
	possible, possiblePrimary := 0, 0
	for _, t := range f.targets {
		if !f.failed[t.Node] {
			possible++
			if t.Primary {
				possiblePrimary++
			}
		}
	}
	if possible < f.params.W || possiblePrimary < f.params.PW {
		return f.indeterminate()
	}
	return PutEffects{}
}

// coordinatorsSettled answers the client once every replica asked to
// coordinate failed or refused before any produced an object: with the
// refusal when all of them refused (nothing was stored anywhere), and as
// indeterminate when one failed (it may have stored the write).
func (f *Put) coordinatorsSettled() PutEffects {
	for _, n := range f.asked {
		if !f.failed[n] {
			return PutEffects{}
		}
	}
	for _, n := range f.asked {
		if !f.refused[n] {
			return f.indeterminate()
		}
	}
	return f.reply(PutResult{Err: f.refusal})
}

// Timeout records that the deadline passed.
func (f *Put) Timeout() PutEffects {
	if f.replied {
		return PutEffects{}
	}
	if !f.sent {
		return f.reply(PutResult{Err: ErrUnavailable})
	}
	return f.indeterminate()
}

// Done reports whether the machine has answered the client.
func (f *Put) Done() bool { return f.replied }

func (f *Put) check() *PutResult {
	acks, primaries := 0, 0
	for _, t := range f.targets {
		if f.acked[t.Node] {
			acks++
			if t.Primary {
				primaries++
			}
		}
	}
	if acks < f.params.W || primaries < f.params.PW {
		return nil
	}
	f.replied = true
	return &PutResult{Object: f.object, Acks: acks}
}

func (f *Put) indeterminate() PutEffects {
	primaries := 0
	for _, t := range f.targets {
		if t.Primary && f.acked[t.Node] {
			primaries++
		}
	}
	return f.reply(PutResult{Object: f.object, Err: fmt.Errorf("%w: %d of w=%d replicas acknowledged (%d of pw=%d primaries); the write may still land",
		ErrIndeterminate, len(f.acked), f.params.W, primaries, f.params.PW)})
}

func (f *Put) reply(r PutResult) PutEffects {
	if f.replied {
		return PutEffects{}
	}
	f.replied = true
	r.Acks = len(f.acked)
	return PutEffects{Reply: &r}
}

func (f *Put) wasAsked(node string) bool {
	for _, n := range f.asked {
		if n == node {
			return true
		}
	}
	return false
}

func (f *Put) primaries() int {
	n := 0
	for _, t := range f.targets {
		if t.Primary {
			n++
		}
	}
	return n
}
