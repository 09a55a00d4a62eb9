package ring

// Admit returns the part of theirs, a ring state gossiped by peer, that
// peer may change in s, the receiver's state.
//
// Ring gossip carries the whole state, so a member relays what it learnt
// from others, operators' commands included (an operator reaches a node
// through its authenticated admin API, and that node gossips the change):
// a member of s is therefore trusted with all of theirs. A node that is not
// a member of s yet (one joining) may only announce itself: its own entry
// and its own handoff records are admitted, and nothing it says of others,
// so that no outsider can remove a member or invent one. It becomes a
// member once its own entry is merged, and is trusted from then on.
//
// peer is the node id the transport authenticated (the peer's certificate,
// or without TLS the member gossip knows at its address); "" admits
// nothing.
//
// A receiver that is not an owner itself yet (a new node waiting for the
// cluster's ring) should merge theirs whole from any authenticated peer:
// it has no ring to protect, and what it then relays is filtered by the
// owners it gossips to.
func (s State) Admit(peer string, theirs State) State {
	if peer == "" {
		return State{}
	}
	if _, member := s.find(peer); member {
		return theirs
	}
	var out State
	if i, ok := theirs.find(peer); ok {
		out.Members = []MemberState{theirs.Members[i]}
	}
	for _, h := range theirs.Handoffs {
		if h.Member == peer {
			out.Handoffs = append(out.Handoffs, h)
		}
	}
	return out
}
