package wire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
)

// storedFormatV1 prefixes every stored object so that a later format can be
// told apart from this one without guessing.
const storedFormatV1 = 1

// ErrCorruptObject means stored bytes do not decode to a valid object.
var ErrCorruptObject = errors.New("wire: corrupt stored object")

// EncodeObject returns the stored form of s.
func EncodeObject(s dvv.Set) ([]byte, error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(ObjectToProto(s))
	if err != nil {
		return nil, fmt.Errorf("wire: encode object: %w", err)
	}
	return append([]byte{storedFormatV1}, body...), nil
}

// DecodeObject parses the stored form of an object.
func DecodeObject(b []byte) (dvv.Set, error) {
	if len(b) == 0 {
		return dvv.Set{}, fmt.Errorf("%w: empty", ErrCorruptObject)
	}
	if b[0] != storedFormatV1 {
		return dvv.Set{}, fmt.Errorf("%w: unknown format %d", ErrCorruptObject, b[0])
	}
	var o messages.Object
	if err := proto.Unmarshal(b[1:], &o); err != nil {
		return dvv.Set{}, fmt.Errorf("%w: %v", ErrCorruptObject, err)
	}
	s, err := ObjectFromProto(&o)
	if err != nil {
		return dvv.Set{}, fmt.Errorf("%w: %v", ErrCorruptObject, err)
	}
	return s, nil
}
