package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Type is what an Op records: the start of an operation or how it ended.
type Type string

// Op types. An operation is one Invoke followed by one of Ok, Fail or
// Indeterminate from the same client.
const (
	// Invoke is recorded before the client sends anything.
	Invoke Type = "invoke"
	// Ok is an acknowledged operation: a write the quorum acknowledged, or a
	// read that answered.
	Ok Type = "ok"
	// Fail is an operation known not to have taken effect: refused before
	// anything was sent, or refused by the server with a definite answer.
	Fail Type = "fail"
	// Indeterminate is a write whose outcome is unknown: it timed out, or
	// the connection broke after the request may have been sent. It may have
	// landed, or may still (Jepsen's "info").
	Indeterminate Type = "indeterminate"
	// Nemesis records a fault the harness injected or healed; it is not a
	// client operation.
	Nemesis Type = "nemesis"
)

// Fn is the operation a client performs.
type Fn string

// Operations.
const (
	// Add is a read-modify-write of a set key that adds the element Value.
	Add Fn = "add"
	// Write writes the register value Value with the context CtxIn.
	Write Fn = "write"
	// Read reads a key; its completion lists the siblings' IDs in Read.
	Read Fn = "read"
)

// Op is one line of a history.
type Op struct {
	// Index is the op's position in the history, from 0.
	Index int64 `json:"i"`
	// Time is monotonic time since the run began.
	Time time.Duration `json:"t"`
	Type Type          `json:"type"`
	// Client is the number of the client, from 0; -1 for the nemesis.
	Client int `json:"client"`
	// Node is the id of the node the request went to.
	Node string `json:"node,omitempty"`
	F    Fn     `json:"f,omitempty"`
	Key  string `json:"key,omitempty"`
	// Value is the ID of the version a write creates: the element an Add
	// adds, the value a Write writes.
	Value string `json:"value,omitempty"`
	// CtxIn is the context the write was sent with: for Add the context of
	// its read, known at completion; for Write known at invoke.
	CtxIn string `json:"ctx_in,omitempty"`
	// Ctx is the context the server answered with: a read's, or an
	// acknowledged write's.
	Ctx string `json:"ctx,omitempty"`
	// Read lists the IDs of the siblings a read saw (an Add's read, or a
	// Read), sorted; empty when the key was not found.
	Read []string `json:"read,omitempty"`
	// Siblings is the sibling count an acknowledged write reported, or the
	// number of siblings a read saw.
	Siblings int `json:"siblings,omitempty"`
	// Error is why an operation failed or is indeterminate.
	Error string `json:"error,omitempty"`
	// Detail describes a nemesis event.
	Detail string `json:"detail,omitempty"`
}

// IsWrite reports whether the op is of a write (Add or Write).
func (o Op) IsWrite() bool { return o.F == Add || o.F == Write }

// Kind is a key's kind.
type Kind int

// Key kinds.
const (
	KindUnknown Kind = iota
	KindSet
	KindRegister
)

// Key prefixes of the two kinds.
const (
	SetPrefix      = "set/"
	RegisterPrefix = "reg/"
)

// KindOf returns the kind of key from its prefix.
func KindOf(key string) Kind {
	switch {
	case strings.HasPrefix(key, SetPrefix):
		return KindSet
	case strings.HasPrefix(key, RegisterPrefix):
		return KindRegister
	}
	return KindUnknown
}

func (k Kind) String() string {
	switch k {
	case KindSet:
		return "set"
	case KindRegister:
		return "register"
	}
	return "unknown"
}

// Encoder writes ops as JSON lines.
type Encoder struct {
	enc *json.Encoder
}

// NewEncoder returns an Encoder writing to w. It does not buffer; give it a
// bufio.Writer and flush that.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{enc: json.NewEncoder(w)} }

// Encode writes one op as one line.
func (e *Encoder) Encode(op Op) error { return e.enc.Encode(op) }

// maxLine bounds one line of a history: ops carry IDs and contexts, never
// whole values, so a line is small.
const maxLine = 4 << 20

// Decode reads a history written by Encoder. A last line cut short (a run
// killed mid-write) is an error that says so, with the ops before it.
func Decode(r io.Reader) ([]Op, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var ops []Op
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(b, &op); err != nil {
			return ops, fmt.Errorf("history: line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return ops, fmt.Errorf("history: line %d: %w", line+1, err)
	}
	return ops, nil
}

// ErrBadValue is returned for a stored value that is not of the workload's
// formats.
var ErrBadValue = errors.New("history: not a value the workload writes")
