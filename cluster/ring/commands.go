package ring

import (
	"errors"
	"fmt"
)

// The rules an operator's ownership command must obey. A refused command
// returns a *CommandError wrapping one of them, so callers test the rule
// with errors.Is and show the operator CommandError.Reason.
var (
	// ErrNotMember: the command names a node that never joined the ring.
	ErrNotMember = errors.New("ring: not a member of the ring")
	// ErrAlreadyRemoved: the node was decommissioned or force-removed
	// already.
	ErrAlreadyRemoved = errors.New("ring: already removed")
	// ErrLastOwner: removing the node would leave the data with nobody.
	ErrLastOwner = errors.New("ring: the last owner")
	// ErrRemoveSelf: a node may not force-remove itself; force-removal is
	// for a node that is down, and this one is running the command.
	ErrRemoveSelf = errors.New("ring: a node cannot force-remove itself")
	// ErrAlive: a live node is decommissioned, so that it hands its data
	// over, never force-removed.
	ErrAlive = errors.New("ring: the node is alive")
	// ErrJoinOther: a node joins only itself; the node asked must run the
	// join, since its zone and its data are its own.
	ErrJoinOther = errors.New("ring: a node can only join itself")
)

// CommandError is a refused ownership command: Err, one of the rules
// above, and the node the command named.
type CommandError struct {
	Err  error
	Node string
}

// Error returns the reason with the package's prefix.
func (e *CommandError) Error() string { return "ring: " + e.Reason() }

// Unwrap returns the rule, for errors.Is.
func (e *CommandError) Unwrap() error { return e.Err }

// Reason is the operator's explanation: what was refused and what to do
// instead. Its wording is what dhtctl and the admin API show.
func (e *CommandError) Reason() string {
	switch e.Err {
	case ErrNotMember:
		return fmt.Sprintf("%s is not a member of the ring", e.Node)
	case ErrAlreadyRemoved:
		return fmt.Sprintf("%s was already removed", e.Node)
	case ErrLastOwner:
		return fmt.Sprintf("%s is the last owner; removing it would leave the data with nobody", e.Node)
	case ErrRemoveSelf:
		return "a node cannot force-remove itself; decommission it, or force-remove it from another node once it is down"
	case ErrAlive:
		return fmt.Sprintf("%s is alive; decommission it instead, so it hands its data over", e.Node)
	case ErrJoinOther:
		return fmt.Sprintf("a node can only join itself; ask %s", e.Node)
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Node)
}

func refuse(rule error, node string) error { return &CommandError{Err: rule, Node: node} }

// JoinSelf is `dhtctl join node` run on self: self joins (or rejoins, or
// moves to its zone) as State.Join does. A node can only join itself, so
// node must be self's id.
func (s State) JoinSelf(self Member, node string) (State, error) {
	if node != self.ID {
		return s, refuse(ErrJoinOther, node)
	}
	return s.Join(self), nil
}

// Decommission is `dhtctl decommission id`: id stops owning replicas and
// hands them to the others. It must be an owner, and not the last one.
func (s State) Decommission(id string) (State, error) {
	if err := s.removable(id); err != nil {
		return s, err
	}
	return s.Remove(id), nil
}

// ForceRemove is `dhtctl force-remove id` run on self: id, a node that is
// down for good, stops owning replicas without handing them over. On top
// of Decommission's rules, id must be neither self nor alive (alive says
// what gossip sees): a live node is decommissioned instead, which loses
// nothing.
func (s State) ForceRemove(id, self string, alive func(string) bool) (State, error) {
	if err := s.removable(id); err != nil {
		return s, err
	}
	if id == self {
		return s, refuse(ErrRemoveSelf, id)
	}
	if alive(id) {
		return s, refuse(ErrAlive, id)
	}
	return s.Remove(id), nil
}

// removable checks the rules every removal obeys, in the order an operator
// should hear them: a node the ring knows, still an owner, not the last.
func (s State) removable(id string) error {
	if !s.Owner(id) {
		if _, member := s.find(id); member {
			return refuse(ErrAlreadyRemoved, id)
		}
		return refuse(ErrNotMember, id)
	}
	if len(s.Owners()) == 1 {
		return refuse(ErrLastOwner, id)
	}
	return nil
}

// Entry returns id's entry in s, false when id never joined: what a node
// broadcasts after a command, so the others merge the same change.
func (s State) Entry(id string) (MemberState, bool) {
	i, found := s.find(id)
	if !found {
		return MemberState{}, false
	}
	return s.Members[i], true
}

// Shape is what nodes must agree on to share a ring: the cluster's name,
// its partition count Q and its replication factor N. Claim's table is a
// function of Q and N, so two nodes of different shapes would place the
// same key on different replicas.
type Shape struct {
	Cluster    string
	Partitions int
	N          int
}

// Compatible reports whether a peer (a gossiped member, a gossiped ring
// state) of shape o belongs to the ring of shape s. An incompatible peer is
// never routed to, and nothing it says is merged.
func (s Shape) Compatible(o Shape) bool { return s.Cluster == o.Cluster && s.SameRing(o) }

// SameRing reports whether o has s's Q and N, whatever the cluster's name:
// the check for a ring state this node stored itself, which stays valid
// when the operator renames the cluster.
func (s Shape) SameRing(o Shape) bool { return s.Partitions == o.Partitions && s.N == o.N }

// HintRedirect decides where a hint kept for target, a replica of
// partition p, goes instead: when target was removed from the ring (it will
// never come back for it), to the first live member serving p now;
// redirect is set with to empty when none is alive (keep the hint until one
// is). A target still in the ring gets its own hints: redirect is false.
func (pl Plan) HintRedirect(target string, p uint32, alive func(string) bool) (to string, redirect bool) {
	if !pl.Removed(target) {
		return "", false
	}
	serving, _ := pl.Serving(p, alive)
	for _, id := range serving {
		if alive(id) {
			return id, true
		}
	}
	return "", true
}
