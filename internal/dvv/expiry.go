package dvv

import "time"

// Expiry is the other way a value ends besides a delete. A sibling with an
// ExpiresAt is live until that instant and a tombstone from then on; the
// stored object does not change when it passes, only how it reads. The
// helpers here give the view at a clock reading: readers (a gateway's answer,
// a conditional write's test, a blind delete's read) look at Set.At(now),
// while storage, replication, read repair, hints and handoff keep and ship
// the object as it is, expiry included, so that no path can strip it and
// bring the value back.

// Expired reports whether the sibling is a value whose expiry has passed at
// now (Unix milliseconds). A tombstone is not expired: it is already dead.
func (s Sibling) Expired(now int64) bool {
	return !s.Tombstone && s.ExpiresAt != 0 && s.ExpiresAt <= now
}

// diedAt returns when the sibling stopped being a value, and whether it has
// (at its latest instant, so without a clock): a tombstone at its write, a
// perishable value at its expiry. A value that never expires never dies.
func (s Sibling) diedAt() (int64, bool) {
	switch {
	case s.Tombstone:
		return s.Timestamp, true
	case s.ExpiresAt != 0:
		return s.ExpiresAt, true
	}
	return 0, false
}

// compareExpiry orders two expiries for pickSameDot, never (zero) last:
// the same dot with two expiries is a broken invariant, and the earlier
// expiry is the safer pick since it can only make the value die sooner.
func compareExpiry(a, b int64) int {
	switch {
	case a == b:
		return 0
	case a == 0:
		return -1
	case b == 0:
		return 1
	case a < b:
		return 1
	}
	return -1
}

// At returns the set as read at now: every expired value becomes a
// tombstone under the same dot, keeping its timestamp and expiry, with its
// value dropped. The context is unchanged, so a write made with it still
// supersedes the expired siblings, and merging the result with any copy of
// the set, however old, cannot make them live again (their dots are
// covered). The result is for reading; storage keeps the original, whose
// values expire by themselves.
func (s Set) At(now time.Time) Set {
	ms := now.UnixMilli()
	i := firstExpired(s.Siblings, ms)
	if i < 0 {
		return s
	}
	out := Set{Context: s.Context, Siblings: make([]Sibling, len(s.Siblings)), Ghosts: s.Ghosts}
	copy(out.Siblings, s.Siblings)
	for i := range out.Siblings {
		if sib := &out.Siblings[i]; sib.Expired(ms) {
			*sib = Sibling{Dot: sib.Dot, Tombstone: true, Timestamp: sib.Timestamp, ExpiresAt: sib.ExpiresAt, WriteID: sib.WriteID, Aliases: sib.Aliases, HandedOver: sib.HandedOver}
		}
	}
	return out
}

// firstExpired returns the index of the first sibling expired at now, or -1.
func firstExpired(sibs []Sibling, now int64) int {
	for i, sib := range sibs {
		if sib.Expired(now) {
			return i
		}
	}
	return -1
}

// WithoutExpired returns the set without the values expired at now, the
// context unchanged: the dropped siblings are superseded, as if a write had
// covered them, so a merge with a copy that still holds them drops them
// there too. A replica applies it before adding a client write, so that
// expired values neither count toward the sibling limit nor linger beside
// the new value.
func (s Set) WithoutExpired(now time.Time) Set {
	ms := now.UnixMilli()
	if firstExpired(s.Siblings, ms) < 0 {
		return s
	}
	out := Set{Context: s.Context, Siblings: make([]Sibling, 0, len(s.Siblings)), Ghosts: s.Ghosts}
	for _, sib := range s.Siblings {
		if !sib.Expired(ms) {
			out.Siblings = append(out.Siblings, sib)
		}
	}
	return out
}

// Perishable returns the earliest expiry among the set's live values
// (Unix milliseconds) and whether any live value expires at all: when the
// answer a read gives will change by itself. Call it on the set At the
// reader's clock.
func (s Set) Perishable() (int64, bool) {
	var first int64
	for _, sib := range s.Siblings {
		if sib.Tombstone || sib.ExpiresAt == 0 {
			continue
		}
		if first == 0 || sib.ExpiresAt < first {
			first = sib.ExpiresAt
		}
	}
	return first, first != 0
}
