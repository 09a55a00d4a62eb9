package wire

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
)

// A context token is base64url (unpadded) of:
//
//	version byte | ClientContext protobuf | CRC-32C of the preceding bytes (4 bytes, big-endian)
//
// The checksum catches truncation and bit flips in transit or in a client's
// storage; the key hash inside catches a context sent with the wrong key.
// Either would otherwise silently discard siblings the client never saw.
const (
	contextFormatV1 = 1
	// MaxContextTokenBytes bounds the token a client may send back.
	MaxContextTokenBytes = 8 << 10
)

var (
	// ErrBadContext means a client's context token cannot be used; the
	// wrapped message says why.
	ErrBadContext = errors.New("wire: bad causal context")
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
)

// KeyHash returns the key fingerprint bound into context tokens.
func KeyHash(key []byte) uint64 {
	h := md5.Sum(key)
	return binary.BigEndian.Uint64(h[:8])
}

// EncodeContext returns the token for key's causal context vv.
func EncodeContext(key []byte, vv dvv.VersionVector) string {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&messages.ClientContext{KeyHash: KeyHash(key), Entries: VVToProto(vv)})
	if err != nil {
		// Marshalling a well-formed message of fixed shape cannot fail.
		panic(fmt.Sprintf("wire: marshal client context: %v", err))
	}
	buf := make([]byte, 0, 1+len(body)+4)
	buf = append(buf, contextFormatV1)
	buf = append(buf, body...)
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	return base64.RawURLEncoding.EncodeToString(buf)
}

// DecodeContext parses a token a client sent back for key. The empty token is
// the empty context (a blind write).
func DecodeContext(key []byte, token string) (dvv.VersionVector, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > MaxContextTokenBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBadContext, len(token), MaxContextTokenBytes)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("%w: not unpadded base64url: %v", ErrBadContext, err)
	}
	if len(raw) < 5 {
		return nil, fmt.Errorf("%w: truncated", ErrBadContext)
	}
	body, sum := raw[:len(raw)-4], binary.BigEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (corrupted or truncated)", ErrBadContext)
	}
	if body[0] != contextFormatV1 {
		return nil, fmt.Errorf("%w: unknown format %d", ErrBadContext, body[0])
	}
	var cc messages.ClientContext
	if err := proto.Unmarshal(body[1:], &cc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContext, err)
	}
	if cc.GetKeyHash() != KeyHash(key) {
		return nil, fmt.Errorf("%w: it belongs to a different key", ErrBadContext)
	}
	vv, err := VVFromProto(cc.GetEntries())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContext, err)
	}
	return vv, nil
}
