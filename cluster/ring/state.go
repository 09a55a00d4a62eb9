package ring

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"
)

// ErrInvalidState is wrapped by State.Validate's errors.
var ErrInvalidState = errors.New("ring: invalid state")

// MemberState is one member's entry in the ownership state: its latest
// span of membership (Zone, JoinVersion, RemoveVersion) and the earlier ones
// (Past). Versions are Lamport times: each local change takes the state's
// Clock()+1. Keeping every span, not only the latest, is what lets a member
// that was removed and joins again replay as exactly that: the events of its
// earlier membership stay in the history, so the placements they made, and
// everything after them, stay where they are.
type MemberState struct {
	ID   string
	Zone string
	// JoinVersion is the Lamport time of the member's latest join.
	JoinVersion uint64
	// RemoveVersion is 0 until the latest span ends; then the Lamport time
	// of its removal (decommission or force-remove), after JoinVersion.
	RemoveVersion uint64
	// Past lists the member's earlier spans, by join version; each ended
	// by a removal or by a join in another zone.
	Past []Span
	// RebuildVersion is 0 unless the member announced that it lost its
	// data: it started with empty storage (a wiped disk, a replaced volume)
	// while the ring said it owned replicas. It is the Lamport time of that
	// announcement, and every placement made before it must be received
	// again (see Plan): a max-register, so a second loss supersedes the
	// first.
	RebuildVersion uint64
	// HandoffsForgotten is 0 unless the member's handoff records were
	// pruned: every record of it with Since at or below this version is
	// dropped, here and in every merge. It is a max-register, so a peer
	// that still holds the records cannot bring them back. It is set
	// (ForgetHandoffs) only for a removed member, at its removal: the
	// records of its spans are then history, and no placement of a later
	// span is covered by one.
	HandoffsForgotten uint64
}

// Span is one stretch of a member's membership: joined at Join in Zone,
// removed at Remove (0 while it lasts).
type Span struct {
	Zone   string
	Join   uint64
	Remove uint64
}

func (m MemberState) latest() Span {
	return Span{Zone: m.Zone, Join: m.JoinVersion, Remove: m.RemoveVersion}
}

// spans returns every span of m, by join version.
func (m MemberState) spans() []Span { return append(slices.Clone(m.Past), m.latest()) }

// version is the entry's latest change.
func (m MemberState) version() uint64 {
	v := max(m.JoinVersion, m.RemoveVersion, m.RebuildVersion)
	for _, sp := range m.Past {
		v = max(v, sp.Remove)
	}
	return v
}

// Removed reports whether m owns nothing: in replay order its last event is
// a removal. That is the latest span's removal, or an earlier span's removal
// at or after the latest join (a removal and a join that raced; at equal
// versions a removal replays after a join).
func (m MemberState) Removed() bool {
	if m.RemoveVersion != 0 {
		return true
	}
	for _, sp := range m.Past {
		if sp.Remove >= m.JoinVersion {
			return true
		}
	}
	return false
}

func (m MemberState) removed() bool { return m.Removed() }

// lastRemoval is the version of m's latest removal, 0 when it was never
// removed. No placement of m is later than it unless m joined again after.
func (m MemberState) lastRemoval() uint64 {
	v := m.RemoveVersion
	for _, sp := range m.Past {
		v = max(v, sp.Remove)
	}
	return v
}

// fromSpans builds the canonical entry of id from spans: one per join
// version (the later removal, then the larger zone, on a clash), the
// latest join as the current span.
func fromSpans(id string, spans []Span) MemberState {
	slices.SortFunc(spans, func(a, b Span) int {
		return cmp.Or(cmp.Compare(a.Join, b.Join), -cmp.Compare(a.Remove, b.Remove), -strings.Compare(a.Zone, b.Zone))
	})
	spans = slices.CompactFunc(spans, func(a, b Span) bool { return a.Join == b.Join })
	last := spans[len(spans)-1]
	m := MemberState{ID: id, Zone: last.Zone, JoinVersion: last.Join, RemoveVersion: last.Remove}
	if len(spans) > 1 {
		m.Past = slices.Clone(spans[:len(spans)-1])
	}
	return m
}

// State is the cluster's ownership state: every member that ever joined,
// with the Lamport times of its latest join and removal. It is a CRDT (a map
// of last-writer-wins registers): nodes gossip it and Merge what they
// receive, and any two nodes that have seen the same changes hold equal
// states and compute equal tables, Claim(q, n, s.History()).
//
// Members is sorted by ID with one entry per id; in this canonical form
// equal states are equal values (reflect.DeepEqual, slices.Equal), and an
// empty state has nil Members. The methods assume canonical form (check
// decoded input with Validate; Merge also canonicalises). They never modify
// their receiver: a changed state is a new value.
type State struct {
	Members []MemberState
	// Handoffs records the finished handoffs, sorted by member then
	// partition, one per pair: the latest. See Plan.
	Handoffs []Handoff
	// HandoffsSettled is 0 until the cluster agreed that its plan had
	// settled; then the ring version (Clock) it had: every placement made
	// at or before it had received its data, so it counts as received
	// without a record, and the records with Since at or below it are
	// dropped, here and in every merge. It is a max-register: a peer that
	// still holds the records cannot bring them back. See SettleHandoffs.
	HandoffsSettled uint64
	// Base, when not nil, stands for the history up to its version, at
	// or below HandoffsSettled: replay starts from it, and the entries and
	// spans that ended there are gone (see Compact). It is a
	// max-register: a merge keeps the later base and drops what it stands
	// for from the other side.
	Base *Base
}

// Handoff records that Member holds all of Partition's data for its
// placement made at ring version Since (a Lamport time of State): the
// transfer that filled it is done, so routing no longer needs the replica
// it replaced. A later placement of the same pair has a later Since and
// needs a transfer of its own.
type Handoff struct {
	Member    string
	Partition uint32
	Since     uint64
}

func compareHandoffKeys(a, b Handoff) int {
	return cmp.Or(strings.Compare(a.Member, b.Member), cmp.Compare(a.Partition, b.Partition))
}

// CompleteHandoff returns s recording that member finished receiving
// partition p for its placement at since. Records only grow: an older since
// changes nothing. It does not change Clock: a handoff is not an ownership
// change.
func (s State) CompleteHandoff(member string, p uint32, since uint64) State {
	if since <= max(s.handoffsForgotten(member), s.HandoffsSettled) {
		return s
	}
	rec := Handoff{Member: member, Partition: p, Since: since}
	i, found := slices.BinarySearchFunc(s.Handoffs, rec, compareHandoffKeys)
	if found && s.Handoffs[i].Since >= since {
		return s
	}
	out := slices.Clone(s.Handoffs)
	if found {
		out[i] = rec
	} else {
		out = slices.Insert(out, i, rec)
	}
	s.Handoffs = out
	return s
}

// handoffsForgotten returns id's HandoffsForgotten, 0 when id is not a
// member.
func (s State) handoffsForgotten(id string) uint64 {
	if i, found := s.find(id); found {
		return s.Members[i].HandoffsForgotten
	}
	return 0
}

// ForgetHandoffs returns s without removed member id's handoff records,
// and with the register that keeps them out of every later merge
// (MemberState.HandoffsForgotten) set to its removal. s is returned
// unchanged when id is not a removed member. It does not change Clock or
// Version: records are not ownership.
//
// Forget only while the plan is settled (Plan.Settled: every replica has
// received its data): a removed member's records then decide nothing. A
// record only says whether a slot's member received it, and that matters
// only to a slot that has not received its own (whom it replaced, and who
// stands in for it); no slot is in that state, and later changes place
// replicas from the current holders, which have received and keep their
// records, so their chains stop there. The plan of the result is the plan
// of s, and stays equal to the unpruned one under the same later events
// (TestState_ForgetHandoffsKeepsThePlan).
func (s State) ForgetHandoffs(id string) State {
	i, found := s.find(id)
	if !found || !s.Members[i].removed() {
		return s
	}
	m := s.Members[i]
	horizon := m.lastRemoval()
	if horizon <= m.HandoffsForgotten {
		return s
	}
	out := slices.Clone(s.Members)
	out[i].HandoffsForgotten = horizon
	return State{Members: out, Handoffs: forgetHandoffs(out, s.HandoffsSettled, s.Handoffs), HandoffsSettled: s.HandoffsSettled}
}

// SettleHandoffs returns s with every handoff record dropped and the
// register that stands for them (HandoffsSettled) set to s.Clock(): each
// placement made so far then counts as received. s is returned unchanged
// when the register is there already. It does not change Clock or
// Version: records are not ownership.
//
// Settle only while the plan of s is settled (Plan.Settled): every
// replica of every partition holds its data, so the register says what
// the records said of every current placement, and more of placements
// that have moved on since, which decide nothing once their successors
// received (a chain stops at the first holder that received, and every
// current holder did). The plan of the result serves, pends and transfers
// as the plan of s, and stays so under the same later changes, whose
// placements are after the register and need records of their own
// (TestState_ForgetHandoffsKeepsThePlan). The caller must also know that
// every live node holds every change at or below s.Clock(): Merge drops a
// change that arrives there later as late (late.go), which is right only
// if no live node held it when s settled.
func (s State) SettleHandoffs() State {
	clock := s.Clock()
	if clock <= s.HandoffsSettled {
		return s
	}
	s.HandoffsSettled = clock
	s.Handoffs = forgetHandoffs(s.Members, clock, s.Handoffs)
	return s
}

// forgetHandoffs returns the records of hs that members' HandoffsForgotten
// registers and the state's settled register keep (all of them, and hs
// itself, when none is dropped).
func forgetHandoffs(members []MemberState, settled uint64, hs []Handoff) []Handoff {
	in := State{Members: members}
	forgotten := func(h Handoff) bool { return h.Since <= max(settled, in.handoffsForgotten(h.Member)) }
	if !slices.ContainsFunc(hs, forgotten) {
		return hs
	}
	out := slices.DeleteFunc(slices.Clone(hs), forgotten)
	if len(out) == 0 {
		return nil
	}
	return out
}

// covered reports whether member holds partition p's data for a need at
// version v (a placement, or a loss after it): its record is at least as
// recent, or the settled register covers v.
func (s State) covered(member string, p uint32, v uint64) bool {
	return v <= s.HandoffsSettled || s.handoffSince(member, p) >= v
}

// handoffSince returns the Since of member's record for p, 0 when none.
func (s State) handoffSince(member string, p uint32) uint64 {
	i, found := slices.BinarySearchFunc(s.Handoffs, Handoff{Member: member, Partition: p}, compareHandoffKeys)
	if !found {
		return 0
	}
	return s.Handoffs[i].Since
}

func (s State) find(id string) (int, bool) {
	return slices.BinarySearchFunc(s.Members, id, func(m MemberState, id string) int { return strings.Compare(m.ID, id) })
}

// Clock returns the highest version in s, 0 for the empty state.
func (s State) Clock() uint64 {
	clock := s.Base.clock()
	for _, m := range s.Members {
		clock = max(clock, m.version())
	}
	return clock
}

// Join returns s with m joined at version Clock()+1: a new member, a removed
// one rejoining, or an owner moving to another zone (which Claim treats as
// leaving and joining again). The member's earlier span moves to Past.
// Joining an owner in the zone it already has changes nothing. m.ID must not
// be empty.
func (s State) Join(m Member) State {
	if m.ID == "" {
		panic("ring: State.Join with an empty member id")
	}
	i, found := s.find(m.ID)
	if found && !s.Members[i].removed() && s.Members[i].Zone == m.Zone {
		return s
	}
	entry := MemberState{ID: m.ID, Zone: m.Zone, JoinVersion: s.Clock() + 1}
	out := slices.Clone(s.Members)
	if found {
		entry = fromSpans(m.ID, append(s.Members[i].spans(), entry.latest()))
		entry.RebuildVersion = s.Members[i].RebuildVersion
		entry.HandoffsForgotten = s.Members[i].HandoffsForgotten
		out[i] = entry
	} else {
		out = slices.Insert(out, i, entry)
	}
	s.Members = out
	return s
}

// Remove returns s with id removed at version Clock()+1. Removing a member
// that is absent or already removed changes nothing.
func (s State) Remove(id string) State {
	i, found := s.find(id)
	if !found || s.Members[i].removed() {
		return s
	}
	out := slices.Clone(s.Members)
	out[i].RemoveVersion = s.Clock() + 1
	s.Members = out
	return s
}

// MarkRebuild returns s recording, at version Clock()+1, that owner id lost
// its data and must receive every partition it holds again. A member that
// is absent or removed owns nothing to rebuild: s is returned unchanged.
func (s State) MarkRebuild(id string) State {
	i, found := s.find(id)
	if !found || s.Members[i].removed() {
		return s
	}
	out := slices.Clone(s.Members)
	out[i].RebuildVersion = s.Clock() + 1
	s.Members = out
	return s
}

// RebuildVersion returns the version at which id announced it lost its
// data, 0 when it never did.
func (s State) RebuildVersion(id string) uint64 {
	if i, found := s.find(id); found {
		return s.Members[i].RebuildVersion
	}
	return 0
}

// Merge returns the union of what a and b know: per id, the entry with the
// union of every membership span per member, per member and partition the
// later handoff, and the later settled register (without the records it
// covers, and without the late changes the other side holds below it: see
// late.go), and the later base (without what it stands for). It is
// commutative, associative and idempotent, so gossip converges whatever
// the order of delivery. Input not in canonical form is canonicalised
// first.
func Merge(a, b State) State {
	settled := max(a.HandoffsSettled, b.HandoffsSettled)
	x, y := canonical(a.Members), canonical(b.Members)
	// The side whose register is lower may hold late changes (see
	// late.go): changes at or below the other's register it lacks.
	if a.HandoffsSettled < settled {
		x = dropLate(x, settled, y)
	}
	if b.HandoffsSettled < settled {
		y = dropLate(y, settled, x)
	}
	base := laterBase(a.Base, b.Base)
	members := pruneMembers(mergeMembers(x, y), base.VersionOrZero())
	handoffs := forgetHandoffs(members, settled, mergeHandoffs(canonicalHandoffs(a.Handoffs), canonicalHandoffs(b.Handoffs)))
	if len(members) == 0 && len(handoffs) == 0 && settled == 0 && base == nil {
		return State{}
	}
	return State{Members: members, Handoffs: handoffs, HandoffsSettled: settled, Base: base}
}

func mergeHandoffs(x, y []Handoff) []Handoff {
	var out []Handoff
	for len(x) > 0 || len(y) > 0 {
		var c int
		switch {
		case len(y) == 0:
			c = -1
		case len(x) == 0:
			c = 1
		default:
			c = compareHandoffKeys(x[0], y[0])
		}
		switch {
		case c < 0:
			out, x = append(out, x[0]), x[1:]
		case c > 0:
			out, y = append(out, y[0]), y[1:]
		default:
			h := x[0]
			h.Since = max(h.Since, y[0].Since)
			out, x, y = append(out, h), x[1:], y[1:]
		}
	}
	return out
}

// canonicalHandoffs returns hs sorted by member and partition with one
// record per pair, the latest.
func canonicalHandoffs(hs []Handoff) []Handoff {
	if slices.IsSortedFunc(hs, func(a, b Handoff) int {
		if c := compareHandoffKeys(a, b); c != 0 {
			return c
		}
		return -1 // a repeated pair is not canonical
	}) {
		return hs
	}
	out := slices.Clone(hs)
	slices.SortFunc(out, func(a, b Handoff) int {
		return cmp.Or(compareHandoffKeys(a, b), -cmp.Compare(a.Since, b.Since))
	})
	return slices.CompactFunc(out, func(a, b Handoff) bool { return compareHandoffKeys(a, b) == 0 })
}

func mergeMembers(x, y []MemberState) []MemberState {
	out := make([]MemberState, 0, max(len(x), len(y)))
	for len(x) > 0 || len(y) > 0 {
		switch {
		case len(y) == 0 || (len(x) > 0 && x[0].ID < y[0].ID):
			out, x = append(out, x[0]), x[1:]
		case len(x) == 0 || y[0].ID < x[0].ID:
			out, y = append(out, y[0]), y[1:]
		default:
			out = append(out, mergeEntries(x[0], y[0]))
			x, y = x[1:], y[1:]
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mergeEntries unites two entries of one member: every span either knows,
// with the later removal of each (a map of join version to a max-register,
// so Merge stays a semilattice join).
func mergeEntries(a, b MemberState) MemberState {
	if reflect.DeepEqual(a, b) {
		return a
	}
	m := fromSpans(a.ID, append(a.spans(), b.spans()...))
	m.RebuildVersion = max(a.RebuildVersion, b.RebuildVersion)
	m.HandoffsForgotten = max(a.HandoffsForgotten, b.HandoffsForgotten)
	return m
}

// canonical returns ms sorted by id with one entry per id, each in
// canonical form; entries of one id are united.
func canonical(ms []MemberState) []MemberState {
	ok := true
	for i, m := range ms {
		if (i > 0 && ms[i-1].ID >= m.ID) || !canonicalEntry(m) {
			ok = false
			break
		}
	}
	if ok {
		return ms
	}
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b MemberState) int { return strings.Compare(a.ID, b.ID) })
	merged := out[:0]
	for _, m := range out {
		if n := len(merged); n > 0 && merged[n-1].ID == m.ID {
			merged[n-1] = mergeEntries(merged[n-1], m)
			continue
		}
		entry := fromSpans(m.ID, m.spans())
		entry.RebuildVersion = m.RebuildVersion
		entry.HandoffsForgotten = m.HandoffsForgotten
		merged = append(merged, entry)
	}
	return merged
}

// canonicalEntry reports whether m's spans are sorted by strictly
// increasing join version, the latest last.
func canonicalEntry(m MemberState) bool {
	for i, sp := range m.Past {
		if (i > 0 && m.Past[i-1].Join >= sp.Join) || sp.Join >= m.JoinVersion {
			return false
		}
	}
	return true
}

// History returns the ownership events s records, in replay order: for
// every span of every member, a Join at its join version and, when it
// ended in a removal, a Remove. A member that rejoins thus replays its whole
// membership, and its return moves only its own fair share. With a base,
// only the events after it (the base stands for the others), and its
// Rebalance and Align, if it has them.
func (s State) History() []Event {
	events := make([]Event, 0, len(s.Members)+1)
	after := s.baseVersion()
	if b := s.Base; b != nil && b.Rebalance > after {
		events = append(events, Event{Kind: Rebalance, Version: b.Rebalance})
	}
	if b := s.Base; b != nil && b.Align > after {
		events = append(events, Event{Kind: Align, Version: b.Align})
	}
	for _, m := range s.Members {
		for _, sp := range m.spans() {
			member := Member{ID: m.ID, Zone: sp.Zone}
			if sp.Join > after {
				events = append(events, Event{Kind: Join, Member: member, Version: sp.Join})
			}
			if sp.Remove > after {
				events = append(events, Event{Kind: Remove, Member: member, Version: sp.Remove})
			}
		}
	}
	slices.SortFunc(events, compareEvents)
	return events
}

// Version sums every member's latest change. Merging states never lowers
// it and every ownership change raises it, unlike Clock, which several first
// joins share; so of two states seen by the admin API, the one with the
// higher version is the newer. Handoff records do not change it, and
// neither does compacting: a base's Sum counts the entries it dropped.
func (s State) Version() uint64 {
	v := s.Base.sumOrZero()
	for _, m := range s.Members {
		v += m.version()
	}
	return v
}

// Owners returns the members that own replicas (not removed), sorted by id.
func (s State) Owners() []Member {
	var out []Member
	for _, m := range s.Members {
		if !m.removed() {
			out = append(out, Member{ID: m.ID, Zone: m.Zone})
		}
	}
	return out
}

// Owner reports whether id is a member that owns replicas.
func (s State) Owner(id string) bool {
	i, found := s.find(id)
	return found && !s.Members[i].removed()
}

// Table returns the partition table of s: Claim(q, n, s.History()), or
// with a base, the history after it replayed from it. q is the count the
// ring started with; a base's count, which a resize sets, overrides it
// (State.Partitions).
func (s State) Table(q, n int) Table {
	if s.Base == nil {
		return Claim(q, n, s.History())
	}
	q = s.Partitions(q)
	c := newClaimerAt(q, n, s.Base)
	for _, e := range s.History() {
		c.apply(e)
	}
	return c.table()
}

// Digest returns a hash of s, so that peers can compare states cheaply
// before exchanging them. It is FNV-1a (64 bits) over each entry in order:
// the uvarint length and bytes of ID and of Zone, then JoinVersion and
// RemoveVersion as big-endian uint64s, the uvarint count of past spans and
// each span's zone (as above), join and removal; then each handoff record: its
// member as above, Partition as a big-endian uint32 and Since as a
// big-endian uint64; then, for each member with a RebuildVersion, in
// order, its id as above and the version as a big-endian uint64 (nothing
// when no member has one, so a state without rebuilds hashes as it did
// before the field existed); then, the same way, each member's
// HandoffsForgotten that is not 0; then HandoffsSettled as a big-endian
// uint64 when it is not 0; then, with a base, the byte 0xba, the base's
// Version, Sum, partitions, replicas and counts of zones and members as
// big-endian uint64s, each zone as above, each member's id as above and
// zone as a big-endian uint32, each slot as a big-endian uint32, and, when
// the base has a Rebalance, the byte 0x7b and its version as a big-endian
// uint64; when it has a HalveTo or an Align, the byte 0x4a and both as
// big-endian uint64s; and when it has Layouts, the byte 0x1a and them as
// a big-endian uint32 (nothing for a field at 0, so a base hashes as it
// did before the field existed). The encoding is fixed: nodes of different versions
// compare digests. Equal canonical states have equal digests.
func (s State) Digest() uint64 { return s.digest(true) }

// digest is Digest, without the handoff records and the registers that
// prune them unless handoffs is set.
func (s State) digest(handoffs bool) uint64 {
	h := fnv.New64a()
	var buf [binary.MaxVarintLen64]byte
	str := func(x string) {
		h.Write(binary.AppendUvarint(buf[:0], uint64(len(x))))
		h.Write([]byte(x))
	}
	for _, m := range s.Members {
		str(m.ID)
		str(m.Zone)
		h.Write(binary.BigEndian.AppendUint64(buf[:0], m.JoinVersion))
		h.Write(binary.BigEndian.AppendUint64(buf[:0], m.RemoveVersion))
		h.Write(binary.AppendUvarint(buf[:0], uint64(len(m.Past))))
		for _, sp := range m.Past {
			str(sp.Zone)
			h.Write(binary.BigEndian.AppendUint64(buf[:0], sp.Join))
			h.Write(binary.BigEndian.AppendUint64(buf[:0], sp.Remove))
		}
	}
	for _, r := range s.Handoffs {
		if !handoffs {
			break
		}
		str(r.Member)
		h.Write(binary.BigEndian.AppendUint32(buf[:0], r.Partition))
		h.Write(binary.BigEndian.AppendUint64(buf[:0], r.Since))
	}
	for _, m := range s.Members {
		if m.RebuildVersion != 0 {
			str(m.ID)
			h.Write(binary.BigEndian.AppendUint64(buf[:0], m.RebuildVersion))
		}
	}
	for _, m := range s.Members {
		if handoffs && m.HandoffsForgotten != 0 {
			str(m.ID)
			h.Write(binary.BigEndian.AppendUint64(buf[:0], m.HandoffsForgotten))
		}
	}
	if handoffs && s.HandoffsSettled != 0 {
		h.Write(binary.BigEndian.AppendUint64(buf[:0], s.HandoffsSettled))
	}
	if b := s.Base; b != nil {
		// Ownership: the base decides the table as the entries do.
		h.Write([]byte{0xba})
		for _, x := range []uint64{b.Version, b.Sum, uint64(b.Partitions), uint64(b.Replicas), uint64(len(b.Zones)), uint64(len(b.Nodes))} {
			h.Write(binary.BigEndian.AppendUint64(buf[:0], x))
		}
		for _, z := range b.Zones {
			str(z)
		}
		for _, nd := range b.Nodes {
			str(nd.ID)
			h.Write(binary.BigEndian.AppendUint32(buf[:0], nd.Zone))
		}
		for _, v := range b.Slots {
			h.Write(binary.BigEndian.AppendUint32(buf[:0], v))
		}
		if b.Rebalance != 0 {
			h.Write([]byte{0x7b})
			h.Write(binary.BigEndian.AppendUint64(buf[:0], b.Rebalance))
		}
		if b.HalveTo != 0 || b.Align != 0 {
			h.Write([]byte{0x4a})
			h.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(b.HalveTo)))
			h.Write(binary.BigEndian.AppendUint64(buf[:0], b.Align))
		}
		if b.Layouts != 0 {
			h.Write([]byte{0x1a})
			h.Write(binary.BigEndian.AppendUint32(buf[:0], b.Layouts))
		}
	}
	return h.Sum64()
}

// OwnershipDigest is Digest of s without its handoff records: it changes
// only when the ownership does (a join, a removal, a loss), not each time a
// handoff completes. Two nodes with equal ownership digests compute the same
// table and send every write to the same owners, whatever handoffs each has
// heard of so far; readiness compares it across nodes.
func (s State) OwnershipDigest() uint64 { return s.digest(false) }

// Validate reports whether s is in canonical form with consistent versions:
// ids non-empty, strictly increasing; every JoinVersion at least 1; every
// RemoveVersion 0 or after its JoinVersion; no record that a register
// drops, and no settled register past Clock. Decoders of untrusted input call
// it before using the state; errors wrap ErrInvalidState.
func (s State) Validate() error {
	for i, m := range s.Members {
		switch {
		case m.ID == "":
			return fmt.Errorf("%w: member %d has an empty id", ErrInvalidState, i)
		case i > 0 && s.Members[i-1].ID >= m.ID:
			return fmt.Errorf("%w: member %d: id %q is not after %q (members must be sorted by id, one entry each)", ErrInvalidState, i, m.ID, s.Members[i-1].ID)
		case m.JoinVersion == 0:
			return fmt.Errorf("%w: member %q has join version 0", ErrInvalidState, m.ID)
		case m.RemoveVersion != 0 && m.RemoveVersion <= m.JoinVersion:
			return fmt.Errorf("%w: member %q was removed at version %d, not after its join at %d", ErrInvalidState, m.ID, m.RemoveVersion, m.JoinVersion)
		case !canonicalEntry(m):
			return fmt.Errorf("%w: member %q: past spans must have increasing join versions, all before the latest join", ErrInvalidState, m.ID)
		}
		for _, sp := range m.Past {
			if sp.Join == 0 || (sp.Remove != 0 && sp.Remove <= sp.Join) {
				return fmt.Errorf("%w: member %q has a past span joined at %d and removed at %d", ErrInvalidState, m.ID, sp.Join, sp.Remove)
			}
		}
		if m.HandoffsForgotten > m.lastRemoval() {
			return fmt.Errorf("%w: member %q forgets handoff records up to %d, after its last removal (%d)", ErrInvalidState, m.ID, m.HandoffsForgotten, m.lastRemoval())
		}
	}
	for i, r := range s.Handoffs {
		switch {
		case r.Member == "":
			return fmt.Errorf("%w: handoff record %d has an empty member", ErrInvalidState, i)
		case r.Since == 0:
			return fmt.Errorf("%w: handoff record %d (%s, partition %d) has since 0", ErrInvalidState, i, r.Member, r.Partition)
		case i > 0 && compareHandoffKeys(s.Handoffs[i-1], r) >= 0:
			return fmt.Errorf("%w: handoff record %d is not after the one before (sorted by member and partition, one each)", ErrInvalidState, i)
		case r.Since <= s.handoffsForgotten(r.Member):
			return fmt.Errorf("%w: handoff record %d (%s, partition %d, since %d) is forgotten (at %d)", ErrInvalidState, i, r.Member, r.Partition, r.Since, s.handoffsForgotten(r.Member))
		case r.Since <= s.HandoffsSettled:
			return fmt.Errorf("%w: handoff record %d (%s, partition %d, since %d) is covered by the settled register (%d)", ErrInvalidState, i, r.Member, r.Partition, r.Since, s.HandoffsSettled)
		}
	}
	if s.Base != nil {
		if err := validateBase(s.Base, s.Members, s.HandoffsSettled); err != nil {
			return err
		}
		for i, r := range s.Handoffs {
			if int(r.Partition) >= s.Base.Partitions {
				return fmt.Errorf("%w: handoff record %d (%s) for partition %d of %d", ErrInvalidState, i, r.Member, r.Partition, s.Base.Partitions)
			}
		}
		for _, m := range s.Members {
			if kept, ok := pruneEntry(m, s.Base.Version); !ok || !sameEntry(kept, m) {
				return fmt.Errorf("%w: member %q keeps changes its base (version %d) stands for", ErrInvalidState, m.ID, s.Base.Version)
			}
		}
	}
	if clock := s.Clock(); s.HandoffsSettled > clock {
		// A register past every change would count placements not made
		// yet as received.
		return fmt.Errorf("%w: handoffs settled at version %d, after the state's latest change (%d)", ErrInvalidState, s.HandoffsSettled, clock)
	}
	return nil
}
