package listing

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadCursor is the error of a cursor that cannot be decoded, or that
// belongs to a ring it cannot be mapped onto; the gateway answers it 400
// bad_cursor.
var ErrBadCursor = errors.New("listing: bad cursor")

// The first byte of every encoded cursor says its format, so that a later
// one can be told apart, and a cursor from a newer node refused clearly.
const (
	// cursorVersion: version | uvarint Q | uvarint partition | after.
	cursorVersion = 1
	// cursorVersionSpan adds a span (Through, Floor) after the partition:
	// uvarint through | uvarint len(floor) | floor | after.
	cursorVersionSpan = 2
)

// Cursor is where a listing resumes: at Partition, after the key After (at
// its first key when After is empty), then, for every partition after it
// up to Through, after the key Floor. It is keyed by partitions and keys,
// never by node, so it survives ownership changes.
//
// The span (Through above Partition) comes from a resize: a cursor made on
// a ring of Q partitions, in partition p after key k, had listed every key
// of p up to k; on a ring of Q·f, p's keys are those of its children
// p·f … p·f+f−1, so the listing resumes in each of them after k
// (DecodeCursor maps it).
type Cursor struct {
	Partition uint32
	After     []byte
	Through   uint32
	Floor     []byte
}

// spans reports whether c's Floor applies to partitions after its own.
func (c Cursor) spans() bool { return c.Through > c.Partition }

// Encode returns the cursor as clients see it: opaque, URL-safe base64 of
// the format above. Q is kept so that a cursor from a ring of another size
// is mapped onto this one, or refused, rather than resumed at the wrong
// place.
func (c Cursor) Encode(q int) string {
	version := byte(cursorVersion)
	if c.spans() {
		version = cursorVersionSpan
	}
	b := []byte{version}
	b = binary.AppendUvarint(b, uint64(q))
	b = binary.AppendUvarint(b, uint64(c.Partition))
	if c.spans() {
		b = binary.AppendUvarint(b, uint64(c.Through))
		b = binary.AppendUvarint(b, uint64(len(c.Floor)))
		b = append(b, c.Floor...)
	}
	b = append(b, c.After...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor is the inverse of Encode for a ring of q partitions. The
// empty string is the start of a listing. A cursor made on a ring that has
// since grown to q (a power of two times its count) is mapped onto it: it
// resumes in each child of its partition after its key. One already
// mapped that meets a second resize, or one from a larger ring, is
// refused. Every failure wraps ErrBadCursor.
func DecodeCursor(s string, q int) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: not base64url: %v", ErrBadCursor, err)
	}
	if len(b) == 0 || (b[0] != cursorVersion && b[0] != cursorVersionSpan) {
		return Cursor{}, fmt.Errorf("%w: unknown version", ErrBadCursor)
	}
	version := b[0]
	b = b[1:]
	made, w := binary.Uvarint(b)
	if w <= 0 {
		return Cursor{}, fmt.Errorf("%w: truncated", ErrBadCursor)
	}
	b = b[w:]
	p, w := binary.Uvarint(b)
	if w <= 0 {
		return Cursor{}, fmt.Errorf("%w: truncated", ErrBadCursor)
	}
	b = b[w:]
	if made == 0 || made > 1<<32 || p >= made {
		return Cursor{}, fmt.Errorf("%w: partition %d out of range of %d", ErrBadCursor, p, made)
	}
	c := Cursor{Partition: uint32(p)}
	if version == cursorVersionSpan {
		through, w := binary.Uvarint(b)
		if w <= 0 {
			return Cursor{}, fmt.Errorf("%w: truncated", ErrBadCursor)
		}
		b = b[w:]
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return Cursor{}, fmt.Errorf("%w: truncated", ErrBadCursor)
		}
		if through <= p || through >= made {
			return Cursor{}, fmt.Errorf("%w: span to partition %d from %d of %d", ErrBadCursor, through, p, made)
		}
		c.Through, c.Floor = uint32(through), append([]byte(nil), b[w:w+int(n)]...)
		b = b[w+int(n):]
	}
	if len(b) > 0 {
		c.After = append([]byte(nil), b...)
	}
	switch {
	case made == uint64(q):
		return c, nil
	case made > uint64(q) || uint64(q)%made != 0:
		return Cursor{}, fmt.Errorf("%w: made for a ring of %d partitions, this one has %d", ErrBadCursor, made, q)
	case c.spans():
		return Cursor{}, fmt.Errorf("%w: made for a ring of %d partitions and already carried over one resize; this one has %d", ErrBadCursor, made, q)
	}
	// The ring grew by f: resume in each child of the partition after the
	// key (at the first child's start when there is none).
	f := uint32(uint64(q) / made)
	grown := Cursor{Partition: c.Partition * f, After: c.After}
	if len(c.After) > 0 && f > 1 {
		grown.Through, grown.Floor = grown.Partition+f-1, c.After
	}
	return grown, nil
}
