package dvv

import (
	"cmp"
	"fmt"
	"slices"
)

// One write, two dots. A write whose coordinating replica does not answer
// in time is handed to the next owner with the same client context, and
// when the first coordination landed after all, the write exists twice:
// two siblings with one value under two dots (twins). Left alone, both
// would survive as siblings, and worse, a client that read only one of
// them and overwrote it would leave the other standing beside its new
// value: an old value back from the dead.
//
// The request's WriteID, carried by both twins, undoes both effects. A
// request is treated as one event with several dots:
//
//   - Where twins meet they collapse into one sibling: the one with the
//     lower dot, holding the other's dot as an alias (Sibling.Aliases).
//     Holding a dot as an alias counts as holding it, so a copy that still
//     holds the other twin is not taken for superseded.
//   - A context that covers any of a sibling's dots covers the sibling: a
//     client write (Update) discards it, and a Merge drops it when the
//     other side has seen one of its dots and holds it under no name.
//   - A sibling superseded either way leaves a Ghost of its WriteID. A twin
//     that never met the other and arrives later is dropped where it meets
//     the ghost.
//
// Ghosts cost space in every object that was overwritten, so a Set keeps
// at most MaxGhosts, the most recently written. A twin can outlive its
// ghost only by sitting on a partitioned replica through MaxGhosts later
// overwrites of the key; it then comes back as a sibling, a value the
// application sees again, never a loss. Siblings without a WriteID (a write
// coordinated with no handover configured, or by a node that predates the
// field) carry no alias, leave no ghost and cost nothing.

// MaxGhosts bounds a Set's ghosts.
const MaxGhosts = 4

// Ghost remembers a request whose sibling was superseded.
type Ghost struct {
	WriteID uint64
	// At is the superseded sibling's timestamp (Unix milliseconds), the
	// later twin's where two met: it decides which ghosts stay when there
	// are more than MaxGhosts.
	At int64
}

// validateGhosts checks the canonical form decoders must enforce: at most
// MaxGhosts, sorted by distinct, non-zero WriteIDs.
func validateGhosts(gs []Ghost) error {
	if len(gs) > MaxGhosts {
		return fmt.Errorf("dvv: %d ghosts, at most %d", len(gs), MaxGhosts)
	}
	for i, g := range gs {
		if g.WriteID == 0 {
			return fmt.Errorf("dvv: ghost %d has a zero write id", i)
		}
		if i > 0 && gs[i-1].WriteID >= g.WriteID {
			return fmt.Errorf("dvv: ghosts not sorted by distinct write ids at %d", i)
		}
	}
	return nil
}

// validateAliases checks a sibling's aliases: only with a request id,
// sorted, distinct, above its dot (a collapse keeps the lowest), and
// covered by the context.
func validateAliases(sib Sibling, ctx VersionVector) error {
	if len(sib.Aliases) > 0 && sib.WriteID == 0 {
		return fmt.Errorf("aliases without a write id")
	}
	prev := sib.Dot
	for _, d := range sib.Aliases {
		if compareDots(prev, d) >= 0 {
			return fmt.Errorf("alias %v not sorted above %v", d, prev)
		}
		if !ctx.Covers(d) {
			return fmt.Errorf("alias %v not covered by context %v", d, ctx)
		}
		prev = d
	}
	return nil
}

// coversAny reports whether ctx covers any of sib's dots.
func coversAny(ctx VersionVector, sib Sibling) bool {
	return ctx.Covers(sib.Dot) || slices.ContainsFunc(sib.Aliases, ctx.Covers)
}

// holds reports whether one of s's siblings holds d, as its dot or an
// alias.
func (s Set) holds(d Dot) bool {
	return slices.ContainsFunc(s.Siblings, func(sib Sibling) bool {
		return sib.Dot == d || slices.Contains(sib.Aliases, d)
	})
}

// supersededIn reports whether other has seen one of sib's dots and holds
// it under no name: a write there superseded it.
func supersededIn(sib Sibling, other Set) bool {
	if other.Context.Covers(sib.Dot) && !other.holds(sib.Dot) {
		return true
	}
	return slices.ContainsFunc(sib.Aliases, func(d Dot) bool { return other.Context.Covers(d) && !other.holds(d) })
}

func hasWriteIDs(sibs []Sibling) bool {
	return slices.ContainsFunc(sibs, func(s Sibling) bool { return s.WriteID != 0 })
}

// unionDots returns the sorted union of two sorted dot lists.
func unionDots(a, b []Dot) []Dot {
	out := slices.Concat(a, b)
	slices.SortFunc(out, compareDots)
	return slices.Compact(out)
}

// unionGhosts returns the ghosts of both lists, sorted by WriteID, one per
// WriteID with the later At; not yet capped.
func unionGhosts(a, b []Ghost) []Ghost {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]Ghost, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].WriteID < b[j].WriteID):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].WriteID < a[i].WriteID:
			out = append(out, b[j])
			j++
		default:
			out = append(out, Ghost{WriteID: a[i].WriteID, At: max(a[i].At, b[j].At)})
			i++
			j++
		}
	}
	return out
}

// withGhosts adds fresh ghosts to s's and applies them all: siblings under
// a ghost's WriteID go, then the siblings sharing a WriteID collapse into
// the one with the lowest dot, which takes the others' dots as aliases,
// then the ghosts are cut to MaxGhosts. Dropped siblings' dots stay in the
// context. s's slices are not written to.
func (s Set) withGhosts(fresh []Ghost) Set {
	fresh = slices.Clone(fresh)
	slices.SortFunc(fresh, func(a, b Ghost) int { return cmp.Or(cmp.Compare(a.WriteID, b.WriteID), cmp.Compare(b.At, a.At)) })
	fresh = slices.CompactFunc(fresh, func(a, b Ghost) bool { return a.WriteID == b.WriteID })
	ghosts := unionGhosts(s.Ghosts, fresh)
	out := Set{Context: s.Context, Siblings: make([]Sibling, 0, len(s.Siblings))}
	for _, sib := range s.Siblings {
		if sib.WriteID == 0 {
			out.Siblings = append(out.Siblings, sib)
			continue
		}
		if isGhost(ghosts, sib.WriteID) {
			continue
		}
		// Siblings are sorted by dot: the first of a request is its lowest.
		first := slices.IndexFunc(out.Siblings, func(o Sibling) bool { return o.WriteID == sib.WriteID })
		if first < 0 {
			out.Siblings = append(out.Siblings, sib)
			continue
		}
		kept := &out.Siblings[first]
		kept.Aliases = unionDots(kept.Aliases, append([]Dot{sib.Dot}, sib.Aliases...))
	}
	out.Ghosts = capGhosts(ghosts)
	return out
}

func isGhost(ghosts []Ghost, id uint64) bool {
	_, found := slices.BinarySearchFunc(ghosts, id, func(g Ghost, id uint64) int { return cmp.Compare(g.WriteID, id) })
	return found
}

// capGhosts keeps the MaxGhosts most recent ghosts (latest At, then the
// higher WriteID), in WriteID order. The choice depends only on the
// ghosts themselves, so every replica keeps the same ones.
func capGhosts(gs []Ghost) []Ghost {
	if len(gs) <= MaxGhosts {
		if len(gs) == 0 {
			return nil
		}
		return gs
	}
	keep := slices.Clone(gs)
	slices.SortFunc(keep, func(a, b Ghost) int {
		return cmp.Or(cmp.Compare(b.At, a.At), cmp.Compare(b.WriteID, a.WriteID))
	})
	keep = keep[:MaxGhosts]
	slices.SortFunc(keep, func(a, b Ghost) int { return cmp.Compare(a.WriteID, b.WriteID) })
	return keep
}
