package quorum

import (
	"fmt"

	"github.com/dhtkv/dht/internal/dvv"
)

// PutEffects is what the coordinator must do after a Put event, in order.
type PutEffects struct {
	// Coordinate names the replica that must apply the client's write: mint
	// a dot, merge, persist, and answer with the resulting object (Minted
	// when it answers before the write is durable, then Coordinated).
	Coordinate *Target
	// Replicate lists the replicas that must merge Object, the coordinated
	// result.
	Replicate []Target
	Object    dvv.Set
	// Reply, when set, is the client's answer. It is set at most once.
	Reply *PutResult
}

// PutResult is the outcome of a write.
type PutResult struct {
	// Object is the key's state at the coordinating replica after the write.
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
type Put struct {
	params      Params
	targets     []Target
	coordinator int
	sent        bool
	// minted is set once the coordinating replica has produced the
	// object: from then on the other replicas have been sent it.
	minted  bool
	object  dvv.Set
	acked   map[string]bool
	failed  map[string]bool
	replied bool
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
	f := &Put{params: p, targets: targets, acked: map[string]bool{}, failed: map[string]bool{}, coordinator: -1}
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
	if f.coordinator < 0 || len(f.targets) < f.params.W || f.primaries() < f.params.PW {
		return f.reply(PutResult{Err: fmt.Errorf("%w: %d replicas reachable (%d primaries), the write needs w=%d pw=%d",
			ErrUnavailable, len(f.targets), f.primaries(), f.params.W, f.params.PW)})
	}
	f.sent = true
	t := f.targets[f.coordinator]
	return PutEffects{Coordinate: &t}
}

// Minted records that the coordinating replica has merged the write as obj
// and is still making it durable. obj goes to the other replicas at once, so
// that their writes overlap the coordinator's instead of following it (one
// fsync's wait on a durable write's path, not two); the coordinator's own
// acknowledgement follows with Coordinated, or its failure with Failed.
func (f *Put) Minted(obj dvv.Set) PutEffects {
	if f.replied || f.minted {
		return PutEffects{}
	}
	return f.mint(obj)
}

// Coordinated records that the coordinating replica persisted the write as
// obj: it counts as an acknowledgement, and obj goes to the others unless
// Minted sent it already (then obj is that object, and ignored).
func (f *Put) Coordinated(obj dvv.Set) PutEffects {
	if f.replied {
		return PutEffects{}
	}
	coord := f.targets[f.coordinator].Node
	var eff PutEffects
	if !f.minted {
		eff = f.mint(obj)
	} else if f.failed[coord] {
		return PutEffects{}
	}
	f.acked[coord] = true
	eff.Reply = f.check()
	return eff
}

// mint records the coordinated object and sends it to every other target.
func (f *Put) mint(obj dvv.Set) PutEffects {
	f.minted = true
	f.object = obj
	eff := PutEffects{Object: obj}
	for i, t := range f.targets {
		if i != f.coordinator {
			eff.Replicate = append(eff.Replicate, t)
		}
	}
	return eff
}

// Refused records that the coordinating replica refused the write (for
// example too many siblings). Nothing was stored, so the answer is definite
// — unless the coordinator had already produced the object (Minted): the
// others have been sent it, so a refusal then is only the coordinator's
// failure.
func (f *Put) Refused(err error) PutEffects {
	if f.minted && f.coordinator >= 0 {
		return f.Failed(f.targets[f.coordinator].Node)
	}
	return f.reply(PutResult{Err: err})
}

// Acked records a replica's acknowledgement of the replicated object. An
// acknowledgement before the coordinated object exists, from the
// coordinator (whose own write is reported with Coordinated), or from a
// node that is not a target, is ignored: it cannot be of this write.
func (f *Put) Acked(node string) PutEffects {
	if f.replied || f.failed[node] || !f.minted || !isTarget(f.targets, node) || node == f.targets[f.coordinator].Node {
		return PutEffects{}
	}
	f.acked[node] = true
	return PutEffects{Reply: f.check()}
}

// Failed records that a replica could not take the write (it answered an
// error or is unreachable). The coordinator failing before it produced the
// object leaves the write's outcome unknown; otherwise, the coordinator's
// included once the others were sent the object, the write fails once W can
// no longer be reached.
func (f *Put) Failed(node string) PutEffects {
	if f.replied || f.acked[node] || !isTarget(f.targets, node) {
		return PutEffects{}
	}
	f.failed[node] = true
	if f.coordinator >= 0 && node == f.targets[f.coordinator].Node && !f.minted {
		return f.indeterminate()
	}
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

func (f *Put) primaries() int {
	n := 0
	for _, t := range f.targets {
		if t.Primary {
			n++
		}
	}
	return n
}
