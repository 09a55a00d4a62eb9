package wire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
)

// A context token is base64url (unpadded) of one of two formats:
//
//	v1: 1 | ClientContext protobuf | CRC-32C of the preceding bytes (4 bytes, big-endian)
//	v2: 2 | ClientContext protobuf | HMAC-SHA256(secret, the preceding bytes), first 16 bytes
//
// v1 is what a cluster without a context secret issues. Its checksum catches
// truncation and bit flips in transit or in a client's storage, but anyone
// can compute it: a client could claim to have seen dots it never saw, and
// its write would then silently replace siblings it never read.
//
// v2 is what a cluster with a secret issues. The MAC makes a token that this
// cluster did not issue, or one that was altered, detectable; it covers the
// version byte too, so a token cannot be re-labelled. 16 bytes (128 bits) of
// the MAC are kept: forging one still takes 2^128 tries on average, and each
// try is a request to the cluster, while the token, which travels in a header
// on every write, stays short.
//
// In both, the key hash inside catches a context sent with the wrong key,
// which would otherwise silently discard that key's siblings.
const (
	contextFormatV1 = 1
	contextFormatV2 = 2
	// contextMACBytes is how much of the HMAC-SHA256 a v2 token keeps.
	contextMACBytes = 16
	// MaxContextTokenBytes bounds the token a client may send back.
	MaxContextTokenBytes = 8 << 10
	// MaxContextEntries bounds the version vector a client's context may
	// carry, whatever its bytes. A key's vector holds one entry per replica
	// lifetime (actor) that ever coordinated a write to it: a handful in
	// practice. It is a backstop: today MaxContextTokenBytes binds first
	// (an entry takes at least 13 bytes, so about 470 fit), and
	// dvv.VersionVector.Bounded keeps invented entries out of stored
	// contexts. It sits above anything the byte limit lets through, so it
	// never refuses a context the cluster issued that the byte limit
	// accepts, and it keeps the decoder's work bounded should that limit
	// ever grow.
	MaxContextEntries = 1024
)

var (
	// ErrBadContext means a client's context token cannot be used; the
	// wrapped message says why.
	ErrBadContext = errors.New("wire: bad causal context")
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
)

// ContextCodec issues and checks the context tokens of one node. The zero
// value issues and accepts v1 tokens (checksummed, forgeable), as a cluster
// without security.context_secret does.
//
// With a Secret, it issues v2 tokens MAC'd under Secret and accepts only v2
// tokens whose MAC verifies under Secret or Previous: v1 tokens, which anyone
// can make, are refused, as is any token altered or issued under another
// secret. Previous is the rotation grace: set the old secret there and the
// new one as Secret on every node, and tokens clients already hold keep
// working until they have re-read their keys. Previous without Secret is
// ignored (config validation refuses it).
//
// Every node of a cluster must use the same secrets, since a client may send
// a token back to any node. A ContextCodec is a plain value, safe for
// concurrent use as long as nobody modifies the slices it holds.
type ContextCodec struct {
	Secret   []byte
	Previous []byte
}

// signed reports whether c issues and requires v2 tokens.
func (c ContextCodec) signed() bool { return len(c.Secret) > 0 }

// KeyHash returns the key fingerprint bound into context tokens.
func KeyHash(key []byte) uint64 {
	h := md5.Sum(key)
	return binary.BigEndian.Uint64(h[:8])
}

// contextMAC returns the truncated MAC of msg (version byte and body) under
// secret.
func contextMAC(secret, msg []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return m.Sum(nil)[:contextMACBytes]
}

// Encode returns the token for key's causal context vv: v2 under Secret when
// c has one, v1 otherwise.
//
// Entries for actor 0 are left out. No replica mints under actor 0, so
// such an entry covers no sibling and the context means the same without
// it; only a forged context, accepted before Decode refused them, can have
// put one into a stored context, and leaving it out keeps that key's
// contexts usable.
func (c ContextCodec) Encode(key []byte, vv dvv.VersionVector) string {
	if len(vv) > 0 && vv[0].Actor == 0 { // sorted by actor: only the first can be
		vv = vv[1:]
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&messages.ClientContext{KeyHash: KeyHash(key), Entries: VVToProto(vv)})
	if err != nil {
		// Marshalling a well-formed message of fixed shape cannot fail.
		panic(fmt.Sprintf("wire: marshal client context: %v", err))
	}
	buf := make([]byte, 0, 1+len(body)+contextMACBytes)
	if c.signed() {
		buf = append(buf, contextFormatV2)
		buf = append(buf, body...)
		buf = append(buf, contextMAC(c.Secret, buf)...)
	} else {
		buf = append(buf, contextFormatV1)
		buf = append(buf, body...)
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Decode parses a token a client sent back for key. The empty token is the
// empty context (a blind write). Every refusal wraps ErrBadContext.
func (c ContextCodec) Decode(key []byte, token string) (dvv.VersionVector, error) {
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
	var body []byte
	if c.signed() {
		body, err = c.openV2(raw)
	} else {
		body, err = openV1(raw)
	}
	if err != nil {
		return nil, err
	}
	var cc messages.ClientContext
	if err := proto.Unmarshal(body, &cc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContext, err)
	}
	if cc.GetKeyHash() != KeyHash(key) {
		return nil, fmt.Errorf("%w: it belongs to a different key", ErrBadContext)
	}
	return contextVV(cc.GetEntries())
}

// openV1 checks a v1 token and returns its ClientContext bytes.
func openV1(raw []byte) ([]byte, error) {
	if len(raw) < 5 {
		return nil, fmt.Errorf("%w: truncated", ErrBadContext)
	}
	if raw[0] == contextFormatV2 {
		// A v2 token cannot be checked here: the nodes disagree about the
		// secret, which the operator must fix, not the client.
		return nil, fmt.Errorf("%w: a signed token (format 2), but this node has no security.context_secret; every node needs the same secret", ErrBadContext)
	}
	body, sum := raw[:len(raw)-4], binary.BigEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (corrupted or truncated)", ErrBadContext)
	}
	if body[0] != contextFormatV1 {
		return nil, fmt.Errorf("%w: unknown format %d", ErrBadContext, body[0])
	}
	return body[1:], nil
}

// errNotIssued is the refusal of a token this cluster did not issue, or
// that was altered: the two cannot be told apart, and the client's remedy
// is the same.
var errNotIssued = fmt.Errorf("%w: the token was not issued by this cluster or was altered", ErrBadContext)

// openV2 checks a v2 token's MAC under the current secret, then the previous
// one, and returns its ClientContext bytes. The comparisons take constant
// time, so response timing does not tell a forger how much of a guess was
// right.
func (c ContextCodec) openV2(raw []byte) ([]byte, error) {
	if len(raw) < 1+contextMACBytes {
		return nil, fmt.Errorf("%w: truncated", ErrBadContext)
	}
	switch raw[0] {
	case contextFormatV2:
	case contextFormatV1:
		// Anyone can compute a v1 checksum, so with a secret configured
		// a v1 token proves nothing. Tokens issued before the secret was
		// set end here too: the client reads the key again.
		return nil, fmt.Errorf("%w (an unsigned format 1 token; this cluster signs its contexts, read the key again for a current one)", errNotIssued)
	default:
		return nil, errNotIssued
	}
	msg, mac := raw[:len(raw)-contextMACBytes], raw[len(raw)-contextMACBytes:]
	ok := hmac.Equal(contextMAC(c.Secret, msg), mac)
	if len(c.Previous) > 0 {
		// Both are checked whatever the first says, so timing does not
		// tell which secret a token is under either.
		ok = hmac.Equal(contextMAC(c.Previous, msg), mac) || ok
	}
	if !ok {
		return nil, errNotIssued
	}
	return msg[1:], nil
}

// contextVV converts and checks a client context's entries. Beyond what
// VVFromProto checks (sorted, hence no duplicate actors, and no zero
// counters), a client context must be small and name only real actors:
// no replica ever mints under actor 0 (vnode.OpenMinter).
func contextVV(entries []*messages.Dot) (dvv.VersionVector, error) {
	if len(entries) > MaxContextEntries {
		return nil, fmt.Errorf("%w: %d entries, the limit is %d", ErrBadContext, len(entries), MaxContextEntries)
	}
	for i, e := range entries {
		if e.GetActor() == 0 {
			return nil, fmt.Errorf("%w: entry %d names actor 0, which no replica uses", ErrBadContext, i)
		}
		if i > 0 && entries[i-1].GetActor() == e.GetActor() {
			return nil, fmt.Errorf("%w: entry %d repeats actor %x", ErrBadContext, i, e.GetActor())
		}
	}
	vv, err := VVFromProto(entries)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadContext, err)
	}
	return vv, nil
}

// EncodeContext returns the v1 token for key's causal context vv: the zero
// ContextCodec's Encode, for callers without a secret.
func EncodeContext(key []byte, vv dvv.VersionVector) string {
	return ContextCodec{}.Encode(key, vv)
}

// DecodeContext parses a v1 token: the zero ContextCodec's Decode, for
// callers without a secret.
func DecodeContext(key []byte, token string) (dvv.VersionVector, error) {
	return ContextCodec{}.Decode(key, token)
}
