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
// a bounded number, the most recently superseded, in two classes:
//
//   - A request that was handed over (Sibling.HandedOver: the copy minted
//     by the coordinator it was handed to, or a collapse of twins) may
//     well have a twin elsewhere: the first coordinator applied it and
//     its answer was lost, typically to a partition that began in the
//     request. That twin can stay out of sight for as long as the
//     partition lasts while clients overwrite the key many times, so
//     these ghosts are kept generously: MaxHandedOverGhosts. Handovers
//     are rare, and only keys written through one carry them.
//   - Every other request with a WriteID could have a twin only if it was
//     handed over without this copy knowing (this copy is the first
//     coordinator's): MaxGhosts of those are kept.
//
// A twin can outlive its ghost only by staying on a partitioned replica
// through that many later overwrites of the key by requests of its class;
// it then comes back as a sibling, a value the application sees again,
// never a loss. Siblings without a WriteID (a write coordinated with no
// handover configured, or by a node that predates the field) carry no
// alias, leave no ghost and cost nothing.

// MaxGhosts bounds a Set's ghosts of requests that were not handed over.
const MaxGhosts = 4

// MaxHandedOverGhosts bounds a Set's ghosts of handed-over requests. One
// costs about 20 bytes stored.
const MaxHandedOverGhosts = 128

// Ghost remembers a request whose sibling was superseded.
type Ghost struct {
	WriteID uint64
	// At is the superseded sibling's timestamp (Unix milliseconds), the
	// later twin's where two met: it decides which ghosts stay when there
	// are more than a cap.
	At int64
	// HandedOver is set when a superseded copy of the request was
	// handed over (Sibling.HandedOver); it picks the ghost's cap.
	HandedOver bool
}

// ghost returns the ghost sib leaves when it is superseded.
func (sib Sibling) ghost() Ghost {
	return Ghost{WriteID: sib.WriteID, At: sib.Timestamp, HandedOver: sib.HandedOver}
}

// validateGhosts checks the canonical form decoders must enforce: within
// the caps, sorted by distinct, non-zero WriteIDs.
func validateGhosts(gs []Ghost) error {
	handedOver := 0
	for i, g := range gs {
		if g.WriteID == 0 {
			return fmt.Errorf("dvv: ghost %d has a zero write id", i)
		}
		if i > 0 && gs[i-1].WriteID >= g.WriteID {
			return fmt.Errorf("dvv: ghosts not sorted by distinct write ids at %d", i)
		}
		if g.HandedOver {
			handedOver++
		}
	}
	if plain := len(gs) - handedOver; plain > MaxGhosts || handedOver > MaxHandedOverGhosts {
		return fmt.Errorf("dvv: %d ghosts and %d of handed-over writes, at most %d and %d",
			plain, handedOver, MaxGhosts, MaxHandedOverGhosts)
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
// WriteID with the later At (handed over if either is); not yet capped.
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
			out = append(out, Ghost{WriteID: a[i].WriteID, At: max(a[i].At, b[j].At), HandedOver: a[i].HandedOver || b[j].HandedOver})
			i++
			j++
		}
	}
	return out
}

// withGhosts adds fresh ghosts to s's and applies them all: siblings under
// a ghost's WriteID go, then the siblings sharing a WriteID collapse into
// the one with the lowest dot, which takes the others' dots as aliases
// (and is handed over if any was), then the ghosts are cut to their caps. Dropped siblings' dots stay in the
// context. s's slices are not written to.
func (s Set) withGhosts(fresh []Ghost) Set {
	ghosts := unionGhosts(s.Ghosts, sortedGhosts(fresh))
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
		kept.HandedOver = kept.HandedOver || sib.HandedOver
	}
	out.Ghosts = capGhosts(ghosts)
	return out
}

// sortedGhosts returns gs sorted by WriteID, one per WriteID as
// unionGhosts joins them. gs is not written to.
func sortedGhosts(gs []Ghost) []Ghost {
	var out []Ghost
	for _, g := range gs {
		out = unionGhosts(out, []Ghost{g})
	}
	return out
}

func isGhost(ghosts []Ghost, id uint64) bool {
	_, found := slices.BinarySearchFunc(ghosts, id, func(g Ghost, id uint64) int { return cmp.Compare(g.WriteID, id) })
	return found
}

// capGhosts keeps the most recent ghosts of each class (latest At, then
// the higher WriteID): MaxHandedOverGhosts of handed-over requests and
// MaxGhosts of the others, in WriteID order. The choice depends only on
// the ghosts themselves, so every replica keeps the same ones.
func capGhosts(gs []Ghost) []Ghost {
	if len(gs) == 0 {
		return nil
	}
	handedOver := 0
	for _, g := range gs {
		if g.HandedOver {
			handedOver++
		}
	}
	if handedOver <= MaxHandedOverGhosts && len(gs)-handedOver <= MaxGhosts {
		return gs
	}
	recent := slices.Clone(gs)
	slices.SortFunc(recent, func(a, b Ghost) int {
		return cmp.Or(cmp.Compare(b.At, a.At), cmp.Compare(b.WriteID, a.WriteID))
	})
	keep := recent[:0]
	plain, handed := 0, 0
	for _, g := range recent {
		switch {
		case g.HandedOver && handed < MaxHandedOverGhosts:
			handed++
		case !g.HandedOver && plain < MaxGhosts:
			plain++
		default:
			continue
		}
		keep = append(keep, g)
	}
	slices.SortFunc(keep, func(a, b Ghost) int { return cmp.Compare(a.WriteID, b.WriteID) })
	return keep
}
