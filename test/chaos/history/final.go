package history

import (
	"encoding/json"
	"io"
	"time"
)

// Final is the state of the cluster once the run has healed and settled:
// every key read at R=N from every node, each node's Merkle roots, and the
// ring. The harness writes it as final.json next to the history.
type Final struct {
	// Reads maps each key, then each node id, to what that node answered.
	Reads map[string]map[string]FinalRead `json:"reads"`
	// Roots maps each node id to the Merkle root of every partition it
	// holds (GET /admin/status).
	Roots map[string]map[uint32]uint64 `json:"roots"`
	// Replicas is the ring the nodes agreed on: partition -> replica ids.
	// Without it the roots cannot be compared, and the checker fails the
	// run.
	Replicas [][]string `json:"replicas"`
	// RootsErr says why nodes' roots or the ring could not be read (each
	// node's status or ring error), empty when every node answered.
	RootsErr string `json:"roots_err,omitempty"`
	// Converged is set when the cluster settled before the deadline: every
	// node alive, no hint pending, no handoff running, every partition's
	// replicas with equal Merkle roots. ConvergeErr says what was still
	// missing otherwise; ConvergeTime is how long the wait took.
	Converged    bool          `json:"converged"`
	ConvergeErr  string        `json:"converge_err,omitempty"`
	ConvergeTime time.Duration `json:"converge_time"`
}

// FinalRead is one node's answer to the final read of one key.
type FinalRead struct {
	// Err is set when the node could not answer (after retries).
	Err   string `json:"err,omitempty"`
	Found bool   `json:"found"`
	// Siblings are the live values, as the node returned them.
	Siblings []FinalSibling `json:"siblings,omitempty"`
}

// FinalSibling is one sibling of a final read, decoded.
type FinalSibling struct {
	// ID names the write that made the sibling: a register's value, or a
	// set value's ID. For a value of neither format it is the raw value,
	// quoted, and BadValue is set.
	ID string `json:"id"`
	// Elems are a set value's elements.
	Elems []string `json:"elems,omitempty"`
	// Timestamp is the sibling's write time by its coordinator's data clock
	// (zero when the node answered with a single value, which carries none).
	Timestamp time.Time `json:"ts,omitzero"`
	BadValue  bool      `json:"bad_value,omitempty"`
}

// EncodeFinal writes f as indented JSON.
func EncodeFinal(w io.Writer, f Final) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(f)
}

// DecodeFinal reads what EncodeFinal wrote.
func DecodeFinal(r io.Reader) (Final, error) {
	var f Final
	err := json.NewDecoder(r).Decode(&f)
	return f, err
}
