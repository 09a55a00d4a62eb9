package listing

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadCursor is the error of a cursor that cannot be decoded, or that
// belongs to a ring of another shape; the gateway answers it 400
// bad_cursor.
var ErrBadCursor = errors.New("listing: bad cursor")

// cursorVersion is the first byte of every encoded cursor, so that a later
// format can be told apart, and a cursor from a newer node refused clearly.
const cursorVersion = 1

// Cursor is where a listing resumes: at Partition, after the key After (at
// its first key when After is empty). It is keyed by partition and key,
// never by node, so it survives ownership changes.
type Cursor struct {
	Partition uint32
	After     []byte
}

// Encode returns the cursor as clients see it: opaque, URL-safe base64 of
// version | uvarint Q | uvarint partition | key. Q is kept so that a cursor
// from a ring of another size is refused rather than resumed at the wrong
// place.
func (c Cursor) Encode(q int) string {
	b := []byte{cursorVersion}
	b = binary.AppendUvarint(b, uint64(q))
	b = binary.AppendUvarint(b, uint64(c.Partition))
	b = append(b, c.After...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor is the inverse of Encode for a ring of q partitions. The
// empty string is the start of a listing. Every failure wraps ErrBadCursor.
func DecodeCursor(s string, q int) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: not base64url: %v", ErrBadCursor, err)
	}
	if len(b) == 0 || b[0] != cursorVersion {
		return Cursor{}, fmt.Errorf("%w: unknown version", ErrBadCursor)
	}
	b = b[1:]
	gotQ, w := binary.Uvarint(b)
	if w <= 0 {
		return Cursor{}, fmt.Errorf("%w: truncated", ErrBadCursor)
	}
	b = b[w:]
	if gotQ != uint64(q) {
		return Cursor{}, fmt.Errorf("%w: made for a ring of %d partitions, this one has %d", ErrBadCursor, gotQ, q)
	}
	p, w := binary.Uvarint(b)
	if w <= 0 {
		return Cursor{}, fmt.Errorf("%w: truncated", ErrBadCursor)
	}
	if p >= uint64(q) {
		return Cursor{}, fmt.Errorf("%w: partition %d out of range", ErrBadCursor, p)
	}
	c := Cursor{Partition: uint32(p)}
	if rest := b[w:]; len(rest) > 0 {
		c.After = append([]byte(nil), rest...)
	}
	return c, nil
}
