package ring

import "slices"

// A late change is an ownership change at or below a settled register
// (State.HandoffsSettled) that the node which settled did not know: made
// on an older ring by a node that stopped before gossiping it, or stamped
// from a stale ring's clock (a node down while the cluster moved on, which
// then changes its zone or announces a loss from its stored ring). The
// register counts every placement at or below it as received, so a late
// change replayed there would have its placements served before any
// transfer. Every node that settles first waits until every live node
// announces its ring, so a state that carries the register carries every
// change at or below it that any live node held then; Merge therefore
// drops from the other side every change at or below the register that
// the side carrying it does not know. The node that made a dropped change
// sees it gone from its own state and makes it again above the register
// (topo does, for its own join and loss); a command made on another node
// is lost, and the log says so.

// dropLate returns ms, entries of a state whose register is below settled,
// without the changes at or below settled that ref, the entries of a state
// carrying settled, does not know. An entry left with no span is dropped.
func dropLate(ms []MemberState, settled uint64, ref []MemberState) []MemberState {
	out := ms[:0:0]
	changed := false
	in := State{Members: ref}
	for _, m := range ms {
		var known *MemberState
		if i, ok := in.find(m.ID); ok {
			known = &ref[i]
		}
		kept, dropped := keepKnown(m, settled, known)
		changed = changed || dropped
		if kept.JoinVersion != 0 {
			out = append(out, kept)
		}
	}
	if !changed {
		return ms
	}
	return out
}

// keepKnown returns m without its changes at or below settled that known
// (m's entry in the state carrying settled, nil when that state lacks
// it) does not have, and whether it dropped any.
func keepKnown(m MemberState, settled uint64, known *MemberState) (MemberState, bool) {
	var knownSpans []Span
	var knownRebuild uint64
	if known != nil {
		knownSpans, knownRebuild = known.spans(), known.RebuildVersion
	}
	dropped := false
	var spans []Span
	for _, sp := range m.spans() {
		i := spanJoinedAt(knownSpans, sp.Join)
		switch {
		case sp.Join > settled:
		case i < 0 || knownSpans[i].Zone != sp.Zone:
			dropped = true
			continue
		case sp.Remove != 0 && sp.Remove <= settled && knownSpans[i].Remove != sp.Remove:
			// A removal the settled state lacks; it may know another,
			// which Merge takes from it.
			sp.Remove = knownSpans[i].Remove
			dropped = true
		}
		spans = append(spans, sp)
	}
	rebuild := m.RebuildVersion
	if rebuild != 0 && rebuild <= settled && rebuild > knownRebuild {
		rebuild, dropped = knownRebuild, true
	}
	if !dropped {
		return m, false
	}
	if len(spans) == 0 {
		return MemberState{ID: m.ID}, true
	}
	out := fromSpans(m.ID, spans)
	out.RebuildVersion, out.HandoffsForgotten = rebuild, m.HandoffsForgotten
	return out, true
}

// KnowsChangesOf reports whether s holds every ownership change of other:
// each span, removal and loss. After s = Merge(other, x), it is false only
// when the merge dropped late changes of other. What s's base stands for
// (the spans and losses that ended at or below it) counts as known.
func (s State) KnowsChangesOf(other State) bool {
	for _, m := range pruneMembers(canonical(other.Members), s.baseVersion()) {
		i, found := s.find(m.ID)
		if !found {
			return false
		}
		have := s.Members[i]
		if have.RebuildVersion < m.RebuildVersion {
			return false
		}
		spans := have.spans()
		for _, sp := range m.spans() {
			j := spanJoinedAt(spans, sp.Join)
			if j < 0 || (sp.Remove != 0 && spans[j].Remove < sp.Remove) {
				return false
			}
		}
	}
	return true
}

// spanJoinedAt returns the index of the span of spans that joined at
// version join, -1 when none did.
func spanJoinedAt(spans []Span, join uint64) int {
	return slices.IndexFunc(spans, func(sp Span) bool { return sp.Join == join })
}
