package wire

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
)

func sampleSet() dvv.Set {
	return dvv.Set{
		Context: dvv.NewVersionVector(dvv.Dot{Actor: 7, Counter: 3}, dvv.Dot{Actor: 9, Counter: 12}),
		Siblings: []dvv.Sibling{
			{Dot: dvv.Dot{Actor: 7, Counter: 3}, Value: []byte("a"), ContentType: "text/plain", Timestamp: 1700000000000, ExpiresAt: 1700000030000},
			{Dot: dvv.Dot{Actor: 9, Counter: 12}, Tombstone: true, Timestamp: 1700000000001},
		},
	}
}

// handedOverSet holds a request collapsed from two coordinations (an
// alias) and the ghost of an overwritten one.
func handedOverSet() dvv.Set {
	return dvv.Set{
		Context: dvv.NewVersionVector(dvv.Dot{Actor: 7, Counter: 3}, dvv.Dot{Actor: 9, Counter: 12}),
		Siblings: []dvv.Sibling{
			{Dot: dvv.Dot{Actor: 7, Counter: 3}, Value: []byte("a"), Timestamp: 1700000000000, WriteID: 42,
				Aliases: []dvv.Dot{{Actor: 9, Counter: 12}}, HandedOver: true},
		},
		Ghosts: []dvv.Ghost{{WriteID: 5, At: 1600000000000}, {WriteID: 41, At: 1700000000000, HandedOver: true}},
	}
}

func TestObject_RoundTrip(t *testing.T) {
	for _, s := range []dvv.Set{{}, sampleSet(), handedOverSet()} {
		b, err := EncodeObject(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeObject(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(s) {
			t.Fatalf("round trip: got %+v, want %+v", got, s)
		}
	}
}

func TestDecodeObject_RejectsCorruption(t *testing.T) {
	good, _ := EncodeObject(sampleSet())
	unsorted, _ := proto.Marshal(&messages.Object{
		Context: []*messages.Dot{{Actor: 9, Counter: 1}, {Actor: 7, Counter: 1}},
	})
	uncovered, _ := proto.Marshal(&messages.Object{
		Siblings: []*messages.Sibling{{Dot: &messages.Dot{Actor: 1, Counter: 1}}},
	})
	alias, _ := proto.Marshal(&messages.Object{
		Context:  []*messages.Dot{{Actor: 1, Counter: 1}},
		Siblings: []*messages.Sibling{{Dot: &messages.Dot{Actor: 1, Counter: 1}, WriteId: 3, Aliases: []*messages.Dot{{Actor: 2, Counter: 1}}}},
	})
	ghosts, _ := proto.Marshal(&messages.Object{
		Ghosts: []*messages.Ghost{{WriteId: 9}, {WriteId: 3}},
	})
	for name, b := range map[string][]byte{
		"uncovered alias":   append([]byte{storedFormatV1}, alias...),
		"unsorted ghosts":   append([]byte{storedFormatV1}, ghosts...),
		"empty":             nil,
		"unknown format":    append([]byte{99}, good[1:]...),
		"truncated":         good[:len(good)-3],
		"unsorted context":  append([]byte{storedFormatV1}, unsorted...),
		"uncovered sibling": append([]byte{storedFormatV1}, uncovered...),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeObject(b); !errors.Is(err, ErrCorruptObject) {
				t.Fatalf("err = %v, want ErrCorruptObject", err)
			}
		})
	}
}

func TestContext_RoundTrip(t *testing.T) {
	key := []byte("user/42")
	for _, vv := range []dvv.VersionVector{nil, sampleSet().Context} {
		tok := EncodeContext(key, vv)
		got, err := DecodeContext(key, tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(vv) || !got.Descends(vv) || !vv.Descends(got) {
			t.Fatalf("round trip: got %v, want %v", got, vv)
		}
	}
	if vv, err := DecodeContext(key, ""); err != nil || vv != nil {
		t.Fatalf("empty token: %v, %v; want empty context", vv, err)
	}
}

func TestDecodeContext_Rejects(t *testing.T) {
	key := []byte("k")
	tok := EncodeContext(key, sampleSet().Context)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flipped := append([]byte(nil), raw...)
	flipped[3] ^= 0x40
	tests := []struct {
		name, token, want string
	}{
		{"not base64", "!!!", "base64"},
		{"padded base64", tok + "==", "base64"},
		{"bit flip", base64.RawURLEncoding.EncodeToString(flipped), "checksum"},
		{"truncated", tok[:len(tok)-4], ""},
		{"too short", "AAAA", "truncated"},
		{"too long", strings.Repeat("A", MaxContextTokenBytes+1), "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeContext(key, tt.token)
			if !errors.Is(err, ErrBadContext) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadContext mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("other key", func(t *testing.T) {
		_, err := DecodeContext([]byte("other"), tok)
		if !errors.Is(err, ErrBadContext) || !strings.Contains(err.Error(), "different key") {
			t.Fatalf("err = %v, want a different-key error", err)
		}
	})
}

// Secrets of the context codec tests.
var (
	testSecret    = []byte("0123456789abcdef-current")
	testPrevious  = []byte("0123456789abcdef-previous")
	testForeign   = []byte("0123456789abcdef-another-cluster")
	signedCodec   = ContextCodec{Secret: testSecret}
	rotatingCodec = ContextCodec{Secret: testSecret, Previous: testPrevious}
)

func TestContextCodec_RoundTrip(t *testing.T) {
	key := []byte("user/42")
	tests := []struct {
		name        string
		codec       ContextCodec
		wantVersion byte
	}{
		{name: "no secret", codec: ContextCodec{}, wantVersion: contextFormatV1},
		{name: "secret", codec: signedCodec, wantVersion: contextFormatV2},
		{name: "secret and previous", codec: rotatingCodec, wantVersion: contextFormatV2},
		{name: "previous without secret", codec: ContextCodec{Previous: testPrevious}, wantVersion: contextFormatV1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, vv := range []dvv.VersionVector{nil, sampleSet().Context} {
				tok := tt.codec.Encode(key, vv)
				if raw := mustDecode(t, tok); raw[0] != tt.wantVersion {
					t.Fatalf("token format %d, want %d", raw[0], tt.wantVersion)
				}
				got, err := tt.codec.Decode(key, tok)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(vv) || !got.Descends(vv) || !vv.Descends(got) {
					t.Fatalf("round trip: got %v, want %v", got, vv)
				}
			}
		})
	}
}

// TestContextCodec_AcceptsPreviousSecret: during a rotation, tokens issued
// under the old secret still decode, and new ones are issued under the new.
func TestContextCodec_AcceptsPreviousSecret(t *testing.T) {
	key := []byte("k")
	vv := sampleSet().Context
	old := ContextCodec{Secret: testPrevious}.Encode(key, vv)
	got, err := rotatingCodec.Decode(key, old)
	if err != nil {
		t.Fatalf("a token under the previous secret: %v", err)
	}
	if !got.Descends(vv) || !vv.Descends(got) {
		t.Fatalf("decoded %v, want %v", got, vv)
	}
	// A node on the new secret alone issues what it and the rotating
	// nodes accept, and a node that dropped the previous secret refuses
	// the old token.
	fresh := rotatingCodec.Encode(key, vv)
	if _, err := signedCodec.Decode(key, fresh); err != nil {
		t.Fatalf("a token of a rotating node on a node with only the new secret: %v", err)
	}
	if _, err := signedCodec.Decode(key, old); !errors.Is(err, ErrBadContext) {
		t.Fatalf("a token under a dropped secret: err = %v, want ErrBadContext", err)
	}
}

func TestContextCodec_Refuses(t *testing.T) {
	key := []byte("k")
	vv := sampleSet().Context
	v1 := ContextCodec{}.Encode(key, vv) // valid checksum: anyone can make it
	v2 := signedCodec.Encode(key, vv)
	foreign := ContextCodec{Secret: testForeign}.Encode(key, vv)
	// A forger's best try: a v2 token with the v1 checksum's bytes where
	// the MAC goes, and one whose MAC is cut short.
	raw := mustDecode(t, v2)
	relabelled := append([]byte{contextFormatV2}, mustDecode(t, v1)[1:]...)
	truncatedMAC := raw[:len(raw)-1]
	unknown := append([]byte{7}, raw[1:]...)
	tests := []struct {
		name  string
		codec ContextCodec
		token string
		want  string // in the error
	}{
		{"v1 with a valid checksum under a secret", signedCodec, v1, "not issued by this cluster"},
		{"v1 under a rotating codec", rotatingCodec, v1, "not issued by this cluster"},
		{"token of another cluster", signedCodec, foreign, "not issued by this cluster"},
		{"token of another cluster, rotating", rotatingCodec, foreign, "not issued by this cluster"},
		{"v1 relabelled as v2", signedCodec, b64(relabelled), "not issued by this cluster"},
		{"MAC cut short", signedCodec, b64(truncatedMAC), "not issued by this cluster"},
		{"unknown format", signedCodec, b64(unknown), "not issued by this cluster"},
		{"shorter than a MAC", signedCodec, b64(raw[:contextMACBytes]), "truncated"},
		{"signed token on a node without a secret", ContextCodec{}, v2, "security.context_secret"},
		{"not base64", signedCodec, "!!!", "base64"},
		{"too long", signedCodec, strings.Repeat("A", MaxContextTokenBytes+1), "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.codec.Decode(key, tt.token)
			if !errors.Is(err, ErrBadContext) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadContext mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("other key", func(t *testing.T) {
		_, err := signedCodec.Decode([]byte("other"), v2)
		if !errors.Is(err, ErrBadContext) || !strings.Contains(err.Error(), "different key") {
			t.Fatalf("err = %v, want a different-key error", err)
		}
	})
}

// TestContextCodec_RefusesEveryTamperedBit flips each bit of a v2 token in
// turn: the version, the body and the MAC are all covered.
func TestContextCodec_RefusesEveryTamperedBit(t *testing.T) {
	key := []byte("k")
	raw := mustDecode(t, rotatingCodec.Encode(key, sampleSet().Context))
	for bit := range len(raw) * 8 {
		tampered := append([]byte(nil), raw...)
		tampered[bit/8] ^= 1 << (bit % 8)
		if vv, err := rotatingCodec.Decode(key, b64(tampered)); !errors.Is(err, ErrBadContext) {
			t.Fatalf("bit %d flipped: decoded %v, %v; want ErrBadContext", bit, vv, err)
		}
	}
}

// TestContextCodec_RefusesBadEntries: a context must name real actors,
// once each, with counters. Such vectors cannot be made under a secret
// without the secret, so the codecs here sign what they are given.
func TestContextCodec_RefusesBadEntries(t *testing.T) {
	key := []byte("k")
	tests := []struct {
		name    string
		entries []*messages.Dot
		want    string
	}{
		{"actor 0", []*messages.Dot{{Actor: 0, Counter: 1}, {Actor: 5, Counter: 1}}, "actor 0"},
		{"repeated actor", []*messages.Dot{{Actor: 5, Counter: 1}, {Actor: 5, Counter: 2}}, "repeats actor"},
		{"unsorted", []*messages.Dot{{Actor: 6, Counter: 1}, {Actor: 5, Counter: 2}}, "sorted"},
		{"zero counter", []*messages.Dot{{Actor: 5, Counter: 0}}, "zero counter"},
	}
	for _, tt := range tests {
		for _, codec := range []ContextCodec{{}, signedCodec} {
			t.Run(fmt.Sprintf("%s/signed=%v", tt.name, codec.signed()), func(t *testing.T) {
				_, err := codec.Decode(key, sealContext(t, codec, key, tt.entries))
				if !errors.Is(err, ErrBadContext) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want ErrBadContext mentioning %q", err, tt.want)
				}
			})
		}
	}
}

// TestContextVV_BoundsEntries checks the entry bound below the codec: the
// byte limit binds first on tokens today, so no token can reach it.
func TestContextVV_BoundsEntries(t *testing.T) {
	entries := func(n int) []*messages.Dot {
		out := make([]*messages.Dot, n)
		for i := range out {
			out[i] = &messages.Dot{Actor: uint64(i + 1), Counter: 1}
		}
		return out
	}
	if vv, err := contextVV(entries(MaxContextEntries)); err != nil || len(vv) != MaxContextEntries {
		t.Fatalf("at the bound: %d entries, %v; want %d", len(vv), err, MaxContextEntries)
	}
	if _, err := contextVV(entries(MaxContextEntries + 1)); !errors.Is(err, ErrBadContext) || !strings.Contains(err.Error(), "the limit is") {
		t.Fatalf("past the bound: err = %v, want ErrBadContext naming the limit", err)
	}
	// The most entries a token within the byte limit can carry is under
	// the bound, so it never refuses what the byte limit accepts.
	n := MaxContextEntries
	for len(sealContext(t, signedCodec, []byte("k"), entries(n))) > MaxContextTokenBytes {
		n--
	}
	if n >= MaxContextEntries {
		t.Fatalf("%d entries fit in a token; the bound %d is not a backstop", n, MaxContextEntries)
	}
}

// TestContextCodec_LeavesOutActorZero: a stored context that a forged
// write gave an actor-0 entry (before Decode refused them) still yields
// contexts the codec takes back, covering the same real dots.
func TestContextCodec_LeavesOutActorZero(t *testing.T) {
	key := []byte("k")
	poisoned := dvv.VersionVector{{Actor: 0, Counter: 9}, {Actor: 7, Counter: 3}}
	if err := poisoned.Validate(); err != nil {
		t.Fatalf("the poisoned context is not a valid vector: %v", err)
	}
	for _, codec := range []ContextCodec{{}, signedCodec} {
		got, err := codec.Decode(key, codec.Encode(key, poisoned))
		if err != nil {
			t.Fatalf("signed=%v: %v", codec.signed(), err)
		}
		if want := dvv.NewVersionVector(dvv.Dot{Actor: 7, Counter: 3}); !slices.Equal(got, want) {
			t.Fatalf("signed=%v: decoded %v, want %v", codec.signed(), got, want)
		}
	}
}

// sealContext builds the token codec would issue for entries, which need
// not be a valid version vector.
func sealContext(t *testing.T, codec ContextCodec, key []byte, entries []*messages.Dot) string {
	t.Helper()
	body, err := proto.Marshal(&messages.ClientContext{KeyHash: KeyHash(key), Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	if codec.signed() {
		msg := append([]byte{contextFormatV2}, body...)
		return b64(append(msg, contextMAC(codec.Secret, msg)...))
	}
	msg := append([]byte{contextFormatV1}, body...)
	return b64(binary.BigEndian.AppendUint32(msg, crc32.Checksum(msg, castagnoli)))
}

func mustDecode(t *testing.T, token string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func b64(raw []byte) string { return base64.RawURLEncoding.EncodeToString(raw) }

// FuzzDecodeContext decodes arbitrary tokens with each kind of codec: no
// secret (v1), a secret (v2), and a rotation (v2 under either of two). What
// decodes must be a valid context that re-encodes to a token decoding to
// the same; under a secret it must also have been issued under one of the
// codec's secrets, which the fuzzer cannot do without them.
func FuzzDecodeContext(f *testing.F) {
	for _, c := range []ContextCodec{{}, signedCodec, rotatingCodec, {Secret: testPrevious}, {Secret: testForeign}} {
		f.Add("k", c.Encode([]byte("k"), sampleSet().Context), uint8(0))
		f.Add("k", c.Encode([]byte("k"), nil), uint8(1))
		f.Add("k", c.Encode([]byte("k"), sampleSet().Context), uint8(2))
	}
	f.Add("k", "", uint8(0))
	f.Add("k", "AQ", uint8(1))
	f.Add("k", "Ag", uint8(2))
	codecs := []ContextCodec{{}, signedCodec, rotatingCodec}
	f.Fuzz(func(t *testing.T, key, token string, which uint8) {
		codec := codecs[int(which)%len(codecs)]
		vv, err := codec.Decode([]byte(key), token)
		if err != nil {
			if !errors.Is(err, ErrBadContext) {
				t.Fatalf("refused with %v, which is not ErrBadContext", err)
			}
			return
		}
		if err := vv.Validate(); err != nil {
			t.Fatalf("accepted an invalid context: %v", err)
		}
		if len(vv) > MaxContextEntries {
			t.Fatalf("accepted %d entries, over the bound", len(vv))
		}
		if codec.signed() && token != "" {
			// It must be exactly a token one of the secrets issued.
			raw := mustDecode(t, token)
			msg, mac := raw[:len(raw)-contextMACBytes], raw[len(raw)-contextMACBytes:]
			if !hmac.Equal(mac, contextMAC(testSecret, msg)) && !hmac.Equal(mac, contextMAC(testPrevious, msg)) {
				t.Fatalf("accepted a token no secret of the codec issued: %q", token)
			}
		}
		// Whatever decodes re-encodes to a token that decodes to the same.
		again, err := codec.Decode([]byte(key), codec.Encode([]byte(key), vv))
		if err != nil || len(again) != len(vv) || !again.Descends(vv) {
			t.Fatalf("re-encode: %v, %v", again, err)
		}
	})
}

func FuzzDecodeObject(f *testing.F) {
	good, _ := EncodeObject(sampleSet())
	f.Add(good)
	f.Add([]byte{storedFormatV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeObject(b)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid object: %v", err)
		}
		enc, err := EncodeObject(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeObject(enc)
		if err != nil || !again.Equal(s) {
			t.Fatalf("re-encode: %+v, %v", again, err)
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	env, _ := proto.Marshal(&messages.Envelope{RequestId: 1, Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
		Key: []byte("k"), Context: VVToProto(sampleSet().Context), Value: SiblingToProto(sampleSet().Siblings[0]),
	}}})
	f.Add(env)
	f.Fuzz(func(t *testing.T, b []byte) {
		var e messages.Envelope
		if proto.Unmarshal(b, &e) != nil {
			return
		}
		// The conversions the vnode applies must reject, not panic.
		if r := e.GetPutRequest(); r != nil {
			_, _ = VVFromProto(r.GetContext())
			_ = SiblingFromProto(r.GetValue())
		}
		if r := e.GetMergeRequest(); r != nil {
			_, _ = ObjectFromProto(r.GetObject())
		}
	})
}

// The expiry is part of the stored object: two copies that differ only in
// it encode differently, so their Merkle hashes differ and anti-entropy
// reconciles them.
func TestObject_ExpiryIsStored(t *testing.T) {
	s := sampleSet()
	a, err := EncodeObject(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Siblings = slices.Clone(s.Siblings)
	s.Siblings[0].ExpiresAt = 0
	b, err := EncodeObject(s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("an object encodes the same with and without its expiry")
	}
	if got, _ := DecodeObject(a); got.Siblings[0].ExpiresAt != 1700000030000 {
		t.Fatalf("expiry lost in a round trip: %+v", got.Siblings[0])
	}
}
