package wire

import (
	"fmt"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/messages"
)

// PreconditionToProto converts a conditional write's test for a
// ConditionalPutRequest.
func PreconditionToProto(p replica.Precondition) (ifMatch, ifNoneMatch *messages.TagTest) {
	return tagTestToProto(p.IfMatch), tagTestToProto(p.IfNoneMatch)
}

func tagTestToProto(t *replica.TagTest) *messages.TagTest {
	if t == nil {
		return nil
	}
	out := &messages.TagTest{Any: t.Any, Tags: make([][]byte, len(t.Tags))}
	for i, tag := range t.Tags {
		out.Tags[i] = tag[:]
	}
	return out
}

// PreconditionFromProto converts a ConditionalPutRequest's test, refusing
// tags of the wrong size and lists over the bound.
func PreconditionFromProto(req *messages.ConditionalPutRequest) (replica.Precondition, error) {
	var p replica.Precondition
	var err error
	if p.IfMatch, err = tagTestFromProto(req.GetIfMatch()); err != nil {
		return p, fmt.Errorf("if_match: %w", err)
	}
	if p.IfNoneMatch, err = tagTestFromProto(req.GetIfNoneMatch()); err != nil {
		return p, fmt.Errorf("if_none_match: %w", err)
	}
	return p, nil
}

func tagTestFromProto(t *messages.TagTest) (*replica.TagTest, error) {
	if t == nil {
		return nil, nil
	}
	// A client's header is bounded by the gateway, a peer's message only
	// here.
	if len(t.GetTags()) > replica.MaxPreconditionTags {
		return nil, fmt.Errorf("wire: %d tags, the limit is %d", len(t.GetTags()), replica.MaxPreconditionTags)
	}
	out := &replica.TagTest{Any: t.GetAny(), Tags: make([]dvv.Tag, len(t.GetTags()))}
	for i, raw := range t.GetTags() {
		if len(raw) != dvv.TagBytes {
			return nil, fmt.Errorf("wire: tag %d is %d bytes, want %d", i, len(raw), dvv.TagBytes)
		}
		out.Tags[i] = dvv.Tag(raw)
	}
	return out, nil
}
