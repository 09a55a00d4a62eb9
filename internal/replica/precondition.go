package replica

import (
	"fmt"
	"slices"

	"github.com/dhtkv/dht/internal/dvv"
)

// Precondition is a conditional write's test (HTTP If-Match and
// If-None-Match), made by the replica that mints the write against the
// object it stores, in the same step as the minting: no other write of the
// key can come between the test and the write it allows. The zero value
// tests nothing.
type Precondition struct {
	// IfMatch, when set, requires the stored object to match it.
	IfMatch *TagTest
	// IfNoneMatch, when set, requires the stored object not to match it.
	IfNoneMatch *TagTest
}

// TagTest is one side of a Precondition: Any matches an object holding a
// live value ("*"); otherwise the object matches when the tag of its
// context is one of Tags. An object without a live value (never written, or
// only tombstones) has a context and so a tag, but never matches Any.
type TagTest struct {
	Any  bool
	Tags []dvv.Tag
}

// MaxPreconditionTags bounds the tags one TagTest may list.
const MaxPreconditionTags = 64

// IsZero reports whether p tests nothing.
func (p Precondition) IsZero() bool { return p.IfMatch == nil && p.IfNoneMatch == nil }

// Matches reports whether the object s matches t.
func (t *TagTest) Matches(s dvv.Set) bool {
	if t.Any {
		return len(s.Live()) > 0
	}
	return slices.Contains(t.Tags, s.Context.Tag())
}

// Check tests p against the stored object s: nil when the write may go
// ahead, otherwise why not. If-Match is tested before If-None-Match, in
// RFC 9110's order.
func (p Precondition) Check(s dvv.Set) error {
	if p.IfMatch != nil && !p.IfMatch.Matches(s) {
		if p.IfMatch.Any {
			return fmt.Errorf("vnode: precondition failed: If-Match: * but the key holds no live value")
		}
		return fmt.Errorf("vnode: precondition failed: If-Match names no tag of the key's current context; it was written or deleted since it was read")
	}
	if p.IfNoneMatch != nil && p.IfNoneMatch.Matches(s) {
		if p.IfNoneMatch.Any {
			return fmt.Errorf("vnode: precondition failed: If-None-Match: * but the key holds a live value")
		}
		return fmt.Errorf("vnode: precondition failed: If-None-Match names the tag of the key's current context")
	}
	return nil
}
