package dvv

import (
	"crypto/sha256"
	"encoding/binary"
)

// TagBytes is the size of a Tag.
const TagBytes = 16

// Tag names one causal context in a fixed, short form: the HTTP gateway's
// ETag, and what a conditional write's If-Match is checked against. Equal
// contexts have equal tags (the canonical form encodes identically), so a
// tag is stable for as long as the key's context is; two different contexts
// share a tag only by a 128-bit hash collision.
type Tag [TagBytes]byte

// Tag returns the tag of vv: the first TagBytes of SHA-256 over its
// canonical encoding (each entry's actor and counter, big-endian). A
// cryptographic hash rather than a cheaper one, because a collision would
// let a conditional write pass against a context its client never read.
// The empty vector (a key never written) has a tag too.
func (vv VersionVector) Tag() Tag {
	h := sha256.New()
	var b [16]byte
	for _, d := range vv {
		binary.BigEndian.PutUint64(b[:8], uint64(d.Actor))
		binary.BigEndian.PutUint64(b[8:], d.Counter)
		h.Write(b[:])
	}
	var t Tag
	copy(t[:], h.Sum(nil))
	return t
}
