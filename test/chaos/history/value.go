package history

import (
	"encoding/json"
	"fmt"
	"slices"
)

// SetValue is the stored value of a set key: the elements, and the ID of
// the write that stored it (the element that write added).
type SetValue struct {
	ID    string   `json:"id"`
	Elems []string `json:"elems"`
}

// EncodeSet returns the stored form of a set written by the write id. The
// elements are sorted and deduplicated, so equal sets encode equally.
func EncodeSet(id string, elems []string) []byte {
	e := slices.Clone(elems)
	slices.Sort(e)
	e = slices.Compact(e)
	if e == nil {
		e = []string{}
	}
	b, err := json.Marshal(SetValue{ID: id, Elems: e})
	if err != nil {
		panic(fmt.Sprintf("history: encoding a set: %v", err)) // strings always encode
	}
	return b
}

// DecodeSet parses a set key's stored value.
func DecodeSet(b []byte) (SetValue, error) {
	var v SetValue
	if err := json.Unmarshal(b, &v); err != nil {
		return SetValue{}, fmt.Errorf("%w: set value %.80q: %v", ErrBadValue, b, err)
	}
	if v.ID == "" {
		return SetValue{}, fmt.Errorf("%w: set value %.80q without an id", ErrBadValue, b)
	}
	return v, nil
}

// Union returns the sorted union of the sets' elements.
func Union(sets ...[]string) []string {
	var out []string
	for _, s := range sets {
		out = append(out, s...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
