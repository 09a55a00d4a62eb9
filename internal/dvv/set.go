package dvv

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
)

var (
	// ErrStaleDot means the caller minted a dot that the set has already seen:
	// using it would make two different writes indistinguishable.
	ErrStaleDot = errors.New("dvv: dot is not newer than the causal context")
	// ErrTooManySiblings means a write would leave more concurrent siblings
	// than the caller allows.
	ErrTooManySiblings = errors.New("dvv: too many siblings")
)

// Sibling is one concurrent version of a key: a value, or a tombstone left by
// a delete.
type Sibling struct {
	Dot         Dot
	Value       []byte
	ContentType string
	Tombstone   bool
	// Timestamp is the coordinating replica's wall clock at the write, in Unix
	// milliseconds. It orders nothing causally; it serves last-write-wins
	// resolution and tombstone grace only.
	Timestamp int64
	// ExpiresAt is when the value expires, in Unix milliseconds; zero never.
	// The coordinating replica fixes it once, from its clock and the
	// write's TTL, and it travels with the sibling: every replica holds the
	// same instant, and it is part of the stored object that anti-entropy
	// compares. Past it the value reads as a tombstone (Set.At).
	ExpiresAt int64
	// WriteID names the client request the sibling came from; zero when
	// none was given. A request handed from one coordinating replica to
	// the next (the first did not answer in time) may land at both, as two
	// dots: siblings that share a WriteID are one write, and a Set keeps
	// only one of them (see writeid.go).
	WriteID uint64
	// Aliases are the dots of this request's other copies (twins) that
	// were collapsed into this sibling, sorted: the sibling holds them as
	// it holds Dot, and a context that covers any of them covers it.
	Aliases []Dot
	// HandedOver marks the copy minted by a coordinator the request was
	// handed to, and a collapse of twins: the request may have a second
	// copy elsewhere, so its ghost is kept longer (MaxHandedOverGhosts).
	HandedOver bool
}

// Equal reports whether two siblings are identical.
func (s Sibling) Equal(o Sibling) bool {
	return s.Dot == o.Dot && s.Tombstone == o.Tombstone && s.Timestamp == o.Timestamp &&
		s.ExpiresAt == o.ExpiresAt && s.ContentType == o.ContentType && s.WriteID == o.WriteID &&
		s.HandedOver == o.HandedOver && bytes.Equal(s.Value, o.Value) && slices.Equal(s.Aliases, o.Aliases)
}

// Set is a dotted version vector set: the concurrent siblings of one key,
// sorted by dot, and the causal context covering every dot seen for the key.
// The zero Set is the empty set of a key never written.
type Set struct {
	Context  VersionVector
	Siblings []Sibling
	// Ghosts name the requests whose siblings a client write superseded
	// here, sorted by WriteID, within the caps (MaxGhosts,
	// MaxHandedOverGhosts): a second copy of one of
	// those writes, minted by another coordinator, is dropped wherever it
	// meets them (writeid.go).
	Ghosts []Ghost
}

// Validate checks the invariants decoders must enforce on untrusted input:
// a canonical context, siblings sorted by distinct dots, every dot covered by
// the context.
func (s Set) Validate() error {
	if err := s.Context.Validate(); err != nil {
		return err
	}
	for i, sib := range s.Siblings {
		if sib.Dot.Counter == 0 {
			return fmt.Errorf("dvv: sibling %d has a zero dot", i)
		}
		if i > 0 && compareDots(s.Siblings[i-1].Dot, sib.Dot) >= 0 {
			return fmt.Errorf("dvv: siblings not sorted by distinct dots at %d", i)
		}
		if !s.Context.Covers(sib.Dot) {
			return fmt.Errorf("dvv: sibling dot %v not covered by context %v", sib.Dot, s.Context)
		}
		if err := validateAliases(sib, s.Context); err != nil {
			return fmt.Errorf("dvv: sibling %d: %w", i, err)
		}
	}
	return validateGhosts(s.Ghosts)
}

// IsEmpty reports whether the set holds no sibling, live or deleted.
func (s Set) IsEmpty() bool { return len(s.Siblings) == 0 }

// Live returns the siblings that are values, not tombstones.
func (s Set) Live() []Sibling {
	var live []Sibling
	for _, sib := range s.Siblings {
		if !sib.Tombstone {
			live = append(live, sib)
		}
	}
	return live
}

// IsDeleted reports whether the set has siblings and all are tombstones: a
// read answers not-found, yet the context must travel with that answer so a
// later write supersedes the tombstones instead of sitting beside them.
func (s Set) IsDeleted() bool { return len(s.Siblings) > 0 && len(s.Live()) == 0 }

// Equal reports whether two sets are identical.
func (s Set) Equal(o Set) bool {
	return slices.Equal(s.Context, o.Context) && slices.EqualFunc(s.Siblings, o.Siblings, Sibling.Equal) &&
		slices.Equal(s.Ghosts, o.Ghosts)
}

// Update applies a client write coordinated at the replica that minted dot:
// siblings covered by the client's context ctx (any of their dots) are
// discarded, and v becomes a
// new sibling under dot. Siblings the client did not see survive as
// concurrent values. maxSiblings > 0 refuses a write that would leave more
// siblings than that, with ErrTooManySiblings and s unchanged.
//
// A discarded sibling that names its request (WriteID) leaves a Ghost,
// and v itself is dropped at once if its
// request already has a sibling or a ghost here (a handed-over write whose
// first coordination landed): the result then holds the write once.
func (s Set) Update(ctx VersionVector, v Sibling, dot Dot, maxSiblings int) (Set, error) {
	if dot.Counter == 0 || dot.Counter <= max(s.Context.Get(dot.Actor), ctx.Get(dot.Actor)) {
		return s, fmt.Errorf("%w: %v against context %v", ErrStaleDot, dot, s.Context.Merge(ctx))
	}
	out := Set{
		Context:  s.Context.Merge(ctx).With(dot),
		Siblings: make([]Sibling, 0, len(s.Siblings)+1),
		Ghosts:   s.Ghosts,
	}
	var superseded []Ghost
	for _, sib := range s.Siblings {
		if !coversAny(ctx, sib) {
			out.Siblings = append(out.Siblings, sib)
		} else if sib.WriteID != 0 {
			superseded = append(superseded, sib.ghost())
		}
	}
	v.Dot, v.Aliases = dot, nil
	// Dots minted by one actor only grow, but another actor's siblings may
	// sort after this one: keep the canonical order.
	i, _ := slices.BinarySearchFunc(out.Siblings, dot, func(s Sibling, d Dot) int { return compareDots(s.Dot, d) })
	out.Siblings = slices.Insert(out.Siblings, i, v)
	if len(superseded) > 0 || v.WriteID != 0 {
		out = out.withGhosts(superseded)
	}
	if maxSiblings > 0 && len(out.Siblings) > maxSiblings {
		return s, fmt.Errorf("%w: the write would leave %d, the limit is %d", ErrTooManySiblings, len(out.Siblings), maxSiblings)
	}
	return out, nil
}

// Merge joins two replicas' sets. A sibling survives if the other side holds
// it too, or has never seen its dot; a sibling whose dot the other side has
// seen but no longer holds was superseded there and is dropped. Then the
// request ids apply (writeid.go): a sibling whose request either side knows
// as superseded is dropped, and siblings of one request collapse into one.
// Merge is commutative and idempotent, and associative while the ghosts stay
// within their caps; beyond that replicas still converge, since a dropped
// sibling's dot stays in the context.
func Merge(a, b Set) Set {
	out, superseded := mergeDots(a, b)
	if len(a.Ghosts) == 0 && len(b.Ghosts) == 0 && len(superseded) == 0 && !hasWriteIDs(out.Siblings) {
		return out
	}
	out.Ghosts = unionGhosts(a.Ghosts, b.Ghosts)
	return out.withGhosts(superseded)
}

// mergeDots is Merge by dots alone, the classic DVV set join, with a
// sibling's aliases counted as its dots. It also returns a ghost for each
// dropped sibling that names its request.
func mergeDots(a, b Set) (Set, []Ghost) {
	out := Set{
		Context:  a.Context.Merge(b.Context),
		Siblings: make([]Sibling, 0, max(len(a.Siblings), len(b.Siblings))),
	}
	var superseded []Ghost
	keep := func(sib Sibling) {
		if !supersededIn(sib, a) && !supersededIn(sib, b) {
			out.Siblings = append(out.Siblings, sib)
		} else if sib.WriteID != 0 {
			superseded = append(superseded, sib.ghost())
		}
	}
	i, j := 0, 0
	for i < len(a.Siblings) || j < len(b.Siblings) {
		var c int
		switch {
		case i == len(a.Siblings):
			c = 1
		case j == len(b.Siblings):
			c = -1
		default:
			c = compareDots(a.Siblings[i].Dot, b.Siblings[j].Dot)
		}
		switch {
		case c < 0:
			keep(a.Siblings[i])
			i++
		case c > 0:
			keep(b.Siblings[j])
			j++
		default:
			keep(pickSameDot(a.Siblings[i], b.Siblings[j]))
			i++
			j++
		}
	}
	return out, superseded
}

// pickSameDot chooses between two siblings carrying one dot. A dot names one
// write, so the two are equal unless storage was corrupted or an actor id was
// reused; even then every replica must pick the same one for Merge to stay
// commutative, so the choice depends only on the siblings' contents.
func pickSameDot(a, b Sibling) Sibling {
	c := cmp.Or(
		cmp.Compare(a.Timestamp, b.Timestamp),
		compareBool(a.Tombstone, b.Tombstone),
		compareExpiry(a.ExpiresAt, b.ExpiresAt),
		bytes.Compare(a.Value, b.Value),
		cmp.Compare(a.ContentType, b.ContentType),
		cmp.Compare(a.WriteID, b.WriteID),
	)
	pick := a
	if c < 0 {
		pick = b
	}
	// Twins collapsed on one side only: the sibling holds both sides'.
	if len(a.Aliases) > 0 || len(b.Aliases) > 0 {
		pick.Aliases = unionDots(a.Aliases, b.Aliases)
	}
	pick.HandedOver = a.HandedOver || b.HandedOver
	return pick
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// Reapable reports whether copies — one per primary replica, want of them —
// allow deleting the key's tombstones: every primary answered, all hold the
// very same set, it holds only tombstones, and each was written before
// cutoff (Unix milliseconds). Anything less and a replica could still hold,
// or be handed, a value the tombstones supersede, which reaping would bring
// back to life.
//
// An expired value counts as a tombstone written when it expired: its
// ExpiresAt must be before cutoff too. The cutoff lies a grace period before
// the reaper's clock, so such a value has expired on every replica whose
// clock is less than the grace behind, and no hint or stale copy of it can
// come back live (they carry the same expiry).
func Reapable(copies []Set, want int, cutoff int64) bool {
	if want < 1 || len(copies) != want || len(copies[0].Siblings) == 0 {
		return false
	}
	for _, c := range copies[1:] {
		if !c.Equal(copies[0]) {
			return false
		}
	}
	for _, sib := range copies[0].Siblings {
		if diedAt, dead := sib.diedAt(); !dead || diedAt >= cutoff {
			return false
		}
	}
	return true
}
