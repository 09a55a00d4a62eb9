package wire

import (
	"fmt"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
)

// DotToProto converts a dot.
func DotToProto(d dvv.Dot) *messages.Dot {
	return &messages.Dot{Actor: uint64(d.Actor), Counter: d.Counter}
}

// DotFromProto converts a dot; a nil dot is the zero dot.
func DotFromProto(d *messages.Dot) dvv.Dot {
	return dvv.Dot{Actor: dvv.Actor(d.GetActor()), Counter: d.GetCounter()}
}

// VVToProto converts a version vector; the empty one becomes nil.
func VVToProto(vv dvv.VersionVector) []*messages.Dot { return dotsToProto(vv) }

// VVFromProto converts and validates a version vector.
func VVFromProto(entries []*messages.Dot) (dvv.VersionVector, error) {
	vv := dvv.VersionVector(dotsFromProto(entries))
	if err := vv.Validate(); err != nil {
		return nil, err
	}
	return vv, nil
}

// SiblingToProto converts a sibling.
func SiblingToProto(s dvv.Sibling) *messages.Sibling {
	return &messages.Sibling{
		Dot:             DotToProto(s.Dot),
		Value:           s.Value,
		ContentType:     s.ContentType,
		Tombstone:       s.Tombstone,
		TimestampUnixMs: s.Timestamp,
		ExpiresUnixMs:   s.ExpiresAt,
		WriteId:         s.WriteID,
		Aliases:         dotsToProto(s.Aliases),
		HandedOver:      s.HandedOver,
	}
}

// SiblingFromProto converts a sibling.
func SiblingFromProto(s *messages.Sibling) dvv.Sibling {
	return dvv.Sibling{
		Dot:         DotFromProto(s.GetDot()),
		Value:       s.GetValue(),
		ContentType: s.GetContentType(),
		Tombstone:   s.GetTombstone(),
		Timestamp:   s.GetTimestampUnixMs(),
		ExpiresAt:   s.GetExpiresUnixMs(),
		WriteID:     s.GetWriteId(),
		Aliases:     dotsFromProto(s.GetAliases()),
		HandedOver:  s.GetHandedOver(),
	}
}

// dotsToProto converts a list of dots; none becomes nil.
func dotsToProto(ds []dvv.Dot) []*messages.Dot {
	if len(ds) == 0 {
		return nil
	}
	out := make([]*messages.Dot, len(ds))
	for i, d := range ds {
		out[i] = DotToProto(d)
	}
	return out
}

// dotsFromProto converts a list of dots; Set.Validate checks them.
func dotsFromProto(ds []*messages.Dot) []dvv.Dot {
	if len(ds) == 0 {
		return nil
	}
	out := make([]dvv.Dot, len(ds))
	for i, d := range ds {
		out[i] = DotFromProto(d)
	}
	return out
}

// ObjectToProto converts a set; the empty set becomes nil so that "holds
// nothing" travels as an absent field.
func ObjectToProto(s dvv.Set) *messages.Object {
	if s.IsEmpty() && len(s.Context) == 0 {
		return nil
	}
	out := &messages.Object{Context: VVToProto(s.Context), Siblings: make([]*messages.Sibling, len(s.Siblings))}
	for i, sib := range s.Siblings {
		out.Siblings[i] = SiblingToProto(sib)
	}
	if len(s.Ghosts) > 0 {
		out.Ghosts = make([]*messages.Ghost, len(s.Ghosts))
		for i, g := range s.Ghosts {
			out.Ghosts[i] = &messages.Ghost{WriteId: g.WriteID, SupersededUnixMs: g.At, HandedOver: g.HandedOver}
		}
	}
	return out
}

// ObjectFromProto converts and validates a set; nil is the empty set.
func ObjectFromProto(o *messages.Object) (dvv.Set, error) {
	if o == nil {
		return dvv.Set{}, nil
	}
	vv, err := VVFromProto(o.GetContext())
	if err != nil {
		return dvv.Set{}, fmt.Errorf("wire: object context: %w", err)
	}
	s := dvv.Set{Context: vv, Siblings: make([]dvv.Sibling, len(o.GetSiblings()))}
	for i, sib := range o.GetSiblings() {
		s.Siblings[i] = SiblingFromProto(sib)
	}
	if gs := o.GetGhosts(); len(gs) > 0 {
		s.Ghosts = make([]dvv.Ghost, len(gs))
		for i, g := range gs {
			s.Ghosts[i] = dvv.Ghost{WriteID: g.GetWriteId(), At: g.GetSupersededUnixMs(), HandedOver: g.GetHandedOver()}
		}
	}
	if err := s.Validate(); err != nil {
		return dvv.Set{}, fmt.Errorf("wire: object: %w", err)
	}
	return s, nil
}
