package quorum

import (
	"fmt"

	"github.com/dhtkv/dht/internal/dvv"
)

// GetEffects is what the coordinator must do after a Get event.
type GetEffects struct {
	// Ask lists the replicas to read from.
	Ask []Target
	// Reply, when set, is the client's answer. It is set at most once.
	Reply *GetResult
	// Repair lists replicas that answered with a stale or missing copy; each
	// must merge Merged. Set once, when every replica has answered or failed,
	// or at the deadline.
	Repair []Target
	// Merged is the object to repair with.
	Merged dvv.Set
	// Done reports that the machine expects no further events.
	Done bool
}

// GetResult is the outcome of a read.
type GetResult struct {
	// Object merges every answer received by the time of the reply.
	Object dvv.Set
	Err    error
}

// Get is the state machine of one read: ask every replica, answer after R
// replies (PR of them from primaries), then wait for the stragglers so that
// stale replicas can be repaired.
type Get struct {
	params  Params
	targets []Target
	answers map[string]dvv.Set
	failed  map[string]bool
	merged  dvv.Set
	replied bool
	done    bool
}

// NewGet returns the machine for a read from targets, the reachable replicas
// of the key.
func NewGet(p Params, targets []Target) *Get {
	return &Get{params: p, targets: uniqueNodes(targets), answers: map[string]dvv.Set{}, failed: map[string]bool{}}
}

// Start begins the read.
func (f *Get) Start() GetEffects {
	primaries := 0
	for _, t := range f.targets {
		if t.Primary {
			primaries++
		}
	}
	if len(f.targets) < f.params.R || primaries < f.params.PR {
		f.done = true
		return GetEffects{Done: true, Reply: f.reply(fmt.Errorf("%w: %d replicas reachable (%d primaries), the read needs r=%d pr=%d",
			ErrUnavailable, len(f.targets), primaries, f.params.R, f.params.PR))}
	}
	return GetEffects{Ask: f.targets}
}

// Answered records a replica's copy (the zero Set when it holds nothing).
func (f *Get) Answered(node string, obj dvv.Set) GetEffects {
	if f.done || f.failed[node] || !isTarget(f.targets, node) {
		return GetEffects{}
	}
	if _, dup := f.answers[node]; dup {
		return GetEffects{}
	}
	f.answers[node] = obj
	f.merged = dvv.Merge(f.merged, obj)
	eff := GetEffects{}
	if !f.replied {
		answered, primaries := f.count()
		if answered >= f.params.R && primaries >= f.params.PR {
			eff.Reply = f.reply(nil)
		}
	}
	return f.maybeFinish(eff)
}

// Failed records that a replica could not answer.
func (f *Get) Failed(node string) GetEffects {
	if f.done || !isTarget(f.targets, node) {
		return GetEffects{}
	}
	if _, answered := f.answers[node]; answered {
		return GetEffects{}
	}
	f.failed[node] = true
	eff := GetEffects{}
	if !f.replied {
		possible, possiblePrimary := 0, 0
		for _, t := range f.targets {
			if !f.failed[t.Node] {
				possible++
				if t.Primary {
					possiblePrimary++
				}
			}
		}
		if possible < f.params.R || possiblePrimary < f.params.PR {
			answered, primaries := f.count()
			eff.Reply = f.reply(fmt.Errorf("%w: %d of r=%d replicas answered (%d of pr=%d primaries)",
				ErrUnavailable, answered, f.params.R, primaries, f.params.PR))
		}
	}
	return f.maybeFinish(eff)
}

// Timeout records that the deadline passed: answer if not yet answered, and
// repair what the answers received show to be stale.
func (f *Get) Timeout() GetEffects {
	if f.done {
		return GetEffects{}
	}
	eff := GetEffects{}
	if !f.replied {
		eff.Reply = f.reply(fmt.Errorf("%w: %d of r=%d replicas answered", ErrTimeout, len(f.answers), f.params.R))
	}
	return f.finish(eff)
}

// Done reports whether the machine expects no further events.
func (f *Get) Done() bool { return f.done }

func (f *Get) count() (answered, primaries int) {
	for _, t := range f.targets {
		if _, ok := f.answers[t.Node]; ok {
			answered++
			if t.Primary {
				primaries++
			}
		}
	}
	return answered, primaries
}

func (f *Get) reply(err error) *GetResult {
	f.replied = true
	if err != nil {
		return &GetResult{Err: err}
	}
	return &GetResult{Object: f.merged}
}

func (f *Get) maybeFinish(eff GetEffects) GetEffects {
	if len(f.answers)+len(f.failed) < len(f.targets) {
		return eff
	}
	return f.finish(eff)
}

func (f *Get) finish(eff GetEffects) GetEffects {
	f.done = true
	eff.Done = true
	for _, t := range f.targets {
		if obj, ok := f.answers[t.Node]; ok && !obj.Equal(f.merged) {
			eff.Repair = append(eff.Repair, t)
		}
	}
	if len(eff.Repair) > 0 {
		eff.Merged = f.merged
	}
	return eff
}
