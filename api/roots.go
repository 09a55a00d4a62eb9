package api

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Roots maps partitions to the roots of their Merkle trees. In JSON each
// root is a decimal string: roots are 64-bit hashes, and JavaScript and jq
// read JSON numbers as doubles, which round any integer above 2^53 and so
// make two different roots look equal. Numbers are still accepted, from
// nodes older than this encoding.
type Roots map[uint32]uint64

// MarshalJSON encodes each root as a decimal string.
func (r Roots) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	out := make(map[uint32]string, len(r))
	for p, root := range r {
		out[p] = strconv.FormatUint(root, 10)
	}
	return json.Marshal(out)
}

// UnmarshalJSON accepts roots as decimal strings or as numbers.
func (r *Roots) UnmarshalJSON(b []byte) error {
	var in map[uint32]json.Number
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if in == nil {
		*r = nil
		return nil
	}
	out := make(Roots, len(in))
	for p, n := range in {
		root, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil {
			return fmt.Errorf("api: merkle root of partition %d: %w", p, err)
		}
		out[p] = root
	}
	*r = out
	return nil
}
