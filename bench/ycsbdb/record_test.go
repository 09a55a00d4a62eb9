package ycsbdb

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
)

func TestRecord_RoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string][]byte
	}{
		{"empty", map[string][]byte{}},
		{"one", map[string][]byte{"field0": []byte("v")}},
		{"empty value", map[string][]byte{"field0": {}}},
		{"ycsb record", ycsbRecord(10, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRecord(EncodeRecord(tt.fields))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tt.fields, bytes.Equal) {
				t.Fatalf("got %q, want %q", got, tt.fields)
			}
		})
	}
}

func TestRecord_Size(t *testing.T) {
	// The comparison stores 1 KiB records: 10 fields of 100 bytes.
	if n := len(EncodeRecord(ycsbRecord(10, 100))); n != 1081 {
		t.Fatalf("a 10×100 B record encodes to %d bytes, want 1081", n)
	}
}

func TestDecodeRecord_Corrupt(t *testing.T) {
	good := EncodeRecord(map[string][]byte{"a": []byte("xyz")})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(append([]byte{}, good...), 0)},
		{"huge count", []byte{0xff, 0xff, 0x03, 0}},
		{"name past end", []byte{1, 5, 'a'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeRecord(tt.b); !errors.Is(err, errCorrupt) {
				t.Fatalf("err = %v, want errCorrupt", err)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(EncodeRecord(ycsbRecord(3, 4)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeRecord(b)
		if err != nil {
			return
		}
		again, err := DecodeRecord(EncodeRecord(rec))
		if err != nil || !maps.EqualFunc(again, rec, bytes.Equal) {
			t.Fatalf("re-encoding %q: %v", rec, err)
		}
	})
}

func TestMergeSiblings(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sib := func(ts time.Time, kv ...string) client.Sibling {
		rec := map[string][]byte{}
		for i := 0; i < len(kv); i += 2 {
			rec[kv[i]] = []byte(kv[i+1])
		}
		return client.Sibling{Value: EncodeRecord(rec), Timestamp: ts}
	}
	tests := []struct {
		name string
		sibs []client.Sibling
		want map[string]string
	}{
		{"one", []client.Sibling{sib(t0, "a", "1")}, map[string]string{"a": "1"}},
		{"union", []client.Sibling{sib(t0, "a", "1"), sib(t0, "b", "2")}, map[string]string{"a": "1", "b": "2"}},
		{"latest wins", []client.Sibling{sib(t0.Add(time.Second), "a", "new"), sib(t0, "a", "old")}, map[string]string{"a": "new"}},
		{"tie: later in the answer", []client.Sibling{sib(t0, "a", "first"), sib(t0, "a", "second")}, map[string]string{"a": "second"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergeSiblings(tt.sibs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if string(got[k]) != v {
					t.Fatalf("field %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func ycsbRecord(fields, length int) map[string][]byte {
	rec := map[string][]byte{}
	for i := range fields {
		rec[fmt.Sprintf("field%d", i)] = bytes.Repeat([]byte{byte(i)}, length)
	}
	return rec
}
