package wire

import (
	"encoding/base64"
	"errors"
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
			{Dot: dvv.Dot{Actor: 7, Counter: 3}, Value: []byte("a"), ContentType: "text/plain", Timestamp: 1700000000000},
			{Dot: dvv.Dot{Actor: 9, Counter: 12}, Tombstone: true, Timestamp: 1700000000001},
		},
	}
}

func TestObject_RoundTrip(t *testing.T) {
	for _, s := range []dvv.Set{{}, sampleSet()} {
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
	for name, b := range map[string][]byte{
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

func FuzzDecodeContext(f *testing.F) {
	f.Add("k", EncodeContext([]byte("k"), sampleSet().Context))
	f.Add("k", "")
	f.Add("k", "AQ")
	f.Fuzz(func(t *testing.T, key, token string) {
		vv, err := DecodeContext([]byte(key), token)
		if err != nil {
			return
		}
		if err := vv.Validate(); err != nil {
			t.Fatalf("accepted an invalid context: %v", err)
		}
		// Whatever decodes re-encodes to a token that decodes to the same.
		again, err := DecodeContext([]byte(key), EncodeContext([]byte(key), vv))
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
