package dvv

import (
	"fmt"
	"slices"
	"strings"
)

// Actor identifies a replica that mints dots: a node's storage lifetime (its
// epoch). A replica on wiped storage is a new actor.
type Actor uint64

// Dot names one write event: the Counter-th event minted by Actor.
type Dot struct {
	Actor   Actor
	Counter uint64
}

func (d Dot) String() string { return fmt.Sprintf("%x:%d", uint64(d.Actor), d.Counter) }

// compareDots orders dots by actor, then counter.
func compareDots(a, b Dot) int {
	switch {
	case a.Actor < b.Actor:
		return -1
	case a.Actor > b.Actor:
		return 1
	case a.Counter < b.Counter:
		return -1
	case a.Counter > b.Counter:
		return 1
	}
	return 0
}

// VersionVector maps each actor to the highest counter seen from it, as a
// slice of dots sorted by actor with one entry per actor and no zero counters.
// That canonical form makes equal vectors compare equal with slices.Equal and
// encode to identical bytes, which anti-entropy hashing relies on.
type VersionVector []Dot

// NewVersionVector builds a canonical vector from entries in any order,
// keeping the highest counter per actor and dropping zero counters.
func NewVersionVector(entries ...Dot) VersionVector {
	var vv VersionVector
	for _, e := range entries {
		vv = vv.With(e)
	}
	return vv
}

// Validate reports whether vv is canonical: sorted by actor, one entry per
// actor, no zero counters. Decoders use it to reject corrupt contexts.
func (vv VersionVector) Validate() error {
	for i, e := range vv {
		if e.Counter == 0 {
			return fmt.Errorf("dvv: zero counter for actor %x", uint64(e.Actor))
		}
		if i > 0 && vv[i-1].Actor >= e.Actor {
			return fmt.Errorf("dvv: version vector not sorted by actor at entry %d", i)
		}
	}
	return nil
}

// Get returns the counter of actor a (0 when absent).
func (vv VersionVector) Get(a Actor) uint64 {
	i, ok := slices.BinarySearchFunc(vv, a, func(e Dot, a Actor) int {
		switch {
		case e.Actor < a:
			return -1
		case e.Actor > a:
			return 1
		}
		return 0
	})
	if !ok {
		return 0
	}
	return vv[i].Counter
}

// Covers reports whether vv has seen dot d.
func (vv VersionVector) Covers(d Dot) bool { return d.Counter != 0 && vv.Get(d.Actor) >= d.Counter }

// Descends reports whether vv has seen everything other has (vv ≥ other).
func (vv VersionVector) Descends(other VersionVector) bool {
	for _, e := range other {
		if vv.Get(e.Actor) < e.Counter {
			return false
		}
	}
	return true
}

// With returns a copy of vv that also covers d.
func (vv VersionVector) With(d Dot) VersionVector {
	if d.Counter == 0 {
		return vv
	}
	out := make(VersionVector, 0, len(vv)+1)
	inserted := false
	for _, e := range vv {
		switch {
		case e.Actor == d.Actor:
			e.Counter = max(e.Counter, d.Counter)
			inserted = true
		case e.Actor > d.Actor && !inserted:
			out = append(out, d)
			inserted = true
		}
		out = append(out, e)
	}
	if !inserted {
		out = append(out, d)
	}
	return out
}

// Merge returns the pointwise maximum of vv and other.
func (vv VersionVector) Merge(other VersionVector) VersionVector {
	out := make(VersionVector, 0, max(len(vv), len(other)))
	i, j := 0, 0
	for i < len(vv) && j < len(other) {
		switch a, b := vv[i], other[j]; {
		case a.Actor < b.Actor:
			out = append(out, a)
			i++
		case a.Actor > b.Actor:
			out = append(out, b)
			j++
		default:
			out = append(out, Dot{Actor: a.Actor, Counter: max(a.Counter, b.Counter)})
			i++
			j++
		}
	}
	out = append(out, vv[i:]...)
	return append(out, other[j:]...)
}

func (vv VersionVector) String() string {
	parts := make([]string, len(vv))
	for i, e := range vv {
		parts[i] = e.String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// MaxContextEntries bounds the entries a client write may bring into a
// stored context beyond the actors it already knows (Bounded).
const MaxContextEntries = 256

// Bounded returns the part of a client's context vv that a write may merge
// into stored, the key's stored context, so that what clients send cannot
// grow a stored context without bound. A context a client read holds only
// actors some replica stored (the replicas that coordinated the key's
// writes), so while stored merged with vv stays within limit entries, vv
// is taken whole. Past it, vv's entries for actors stored has never seen
// are dropped: only an invented context has many of those, and dropping
// them can make the write a sibling of values the client did see, never
// lose one.
func (vv VersionVector) Bounded(stored VersionVector, limit int) VersionVector {
	if len(stored.Merge(vv)) <= limit {
		return vv
	}
	out := make(VersionVector, 0, min(len(vv), len(stored)))
	for _, e := range vv {
		if stored.Get(e.Actor) != 0 {
			out = append(out, e)
		}
	}
	return out
}

// MaxCounter returns the highest counter in vv, 0 for the empty vector.
func (vv VersionVector) MaxCounter() uint64 {
	var m uint64
	for _, e := range vv {
		m = max(m, e.Counter)
	}
	return m
}
