package ycsbdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/dhtkv/dht/client"
)

// ErrNotFound is returned by a Read of a key that holds no record.
var ErrNotFound = errors.New("ycsbdb: not found")

// ErrScanUnsupported is returned by Scan: neither binding serves range reads
// (the store has none, and workload E is not part of the comparison).
var ErrScanUnsupported = errors.New("ycsbdb: scan is not supported")

// errCorrupt is wrapped by DecodeRecord's errors.
var errCorrupt = errors.New("ycsbdb: corrupt record")

// rowKey is the stored key of a YCSB record: the table, a colon, the key
// (go-ycsb's etcd binding uses the same form).
func rowKey(table, key string) string { return table + ":" + key }

// EncodeRecord encodes a record as a uvarint field count followed, for each
// field in name order, by a uvarint length and the name, then a uvarint
// length and the value. Ten 100-byte fields take 1,081 bytes.
func EncodeRecord(fields map[string][]byte) []byte {
	names := slices.Sorted(maps.Keys(fields))
	n := binary.MaxVarintLen64
	for _, name := range names {
		n += 2*binary.MaxVarintLen64 + len(name) + len(fields[name])
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(len(fields[name])))
		b = append(b, fields[name]...)
	}
	return b
}

// DecodeRecord decodes what EncodeRecord produced. The values alias b.
func DecodeRecord(b []byte) (map[string][]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad field count", errCorrupt)
	}
	b = b[n:]
	// Each field takes at least two bytes, which bounds a corrupt count.
	if count > uint64(len(b)/2) {
		return nil, fmt.Errorf("%w: %d fields in %d bytes", errCorrupt, count, len(b))
	}
	fields := make(map[string][]byte, count)
	for i := range count {
		name, rest, err := chunk(b)
		if err != nil {
			return nil, fmt.Errorf("%w: field %d name: %v", errCorrupt, i, err)
		}
		value, rest, err := chunk(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: field %q value: %v", errCorrupt, name, err)
		}
		fields[string(name)] = value
		b = rest
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(b))
	}
	return fields, nil
}

// chunk splits a uvarint-length-prefixed chunk off b.
func chunk(b []byte) (c, rest []byte, err error) {
	l, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, nil, errors.New("bad length")
	}
	b = b[n:]
	if l > uint64(len(b)) {
		return nil, nil, fmt.Errorf("length %d past the end (%d bytes left)", l, len(b))
	}
	return b[:l], b[l:], nil
}

// MergeSiblings merges the siblings of a key into one record: the union of
// their fields, and where siblings disagree on a field, the value of the
// sibling with the latest timestamp (ties: the later one in the answer).
// Timestamps come from the coordinating nodes' clocks; a per-field
// last-writer-wins merge is good enough for a benchmark, whose writes carry
// random bytes, not for an application that must not lose an update.
func MergeSiblings(sibs []client.Sibling) (map[string][]byte, error) {
	if len(sibs) == 1 {
		return DecodeRecord(sibs[0].Value)
	}
	order := make([]int, len(sibs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return sibs[a].Timestamp.Compare(sibs[b].Timestamp)
	})
	merged := map[string][]byte{}
	for _, i := range order {
		rec, err := DecodeRecord(sibs[i].Value)
		if err != nil {
			return nil, fmt.Errorf("sibling %d: %w", i, err)
		}
		maps.Copy(merged, rec)
	}
	return merged, nil
}

// project returns the named fields of rec, or all of them when fields is
// empty.
func project(rec map[string][]byte, fields []string) map[string][]byte {
	if len(fields) == 0 {
		return rec
	}
	out := make(map[string][]byte, len(fields))
	for _, f := range fields {
		if v, ok := rec[f]; ok {
			out[f] = v
		}
	}
	return out
}
