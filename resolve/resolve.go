package resolve

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"runtime/debug"
	"slices"
	"strconv"
	"time"
)

// Names of the built-in resolvers, as config.yaml names them.
const (
	NameSiblings = "siblings"
	NameLWW      = "lww"
)

// DefaultContentType is what a resolution without a content type is stored
// and served as when its siblings do not share one; the HTTP API defaults a
// write's content type the same way.
const DefaultContentType = "application/octet-stream"

// maxContentTypeBytes bounds a resolution's content type, as the HTTP API
// bounds a client's.
const maxContentTypeBytes = 256

// Sibling is one concurrent value of a key, as a resolver sees it. Its Value
// is the resolver's own copy: changing it changes nothing stored.
type Sibling struct {
	Value       []byte
	ContentType string
	// Timestamp is the wall clock of the node that coordinated the write.
	// It orders nothing causally — clocks of different nodes drift — and
	// is what last-write-wins goes by.
	Timestamp time.Time
}

// Resolution is what a resolver decides for a key's siblings: a value
// (the zero Resolution is the empty value), a deletion, or, with Keep, no
// decision at all.
type Resolution struct {
	// Value is the resolved value; at most limits.max_value_bytes.
	Value []byte
	// ContentType of Value. Empty means the siblings' content type when
	// they all share one, else DefaultContentType.
	ContentType string
	// Delete resolves the siblings to a deletion: a read answers 404, and
	// on write a tombstone replaces them. Value must then be empty.
	Delete bool
	// Keep declines to resolve: the siblings stay as they are and the
	// client receives all of them. Nothing else may be set.
	Keep bool
}

// Resolver reconciles the concurrent siblings of one key into one value.
//
// Resolve is called only with two or more live siblings (deletes
// concurrent with them are not passed: a value concurrent with a delete
// survives it, everywhere in the store). The siblings come in an order that
// is the same on every node but says nothing about time. The resolver must
// not keep them after it returns.
//
// It is called from many goroutines at once and must be safe for that. It
// should be deterministic and fast: it runs on the request path, on a read
// possibly once per read. An error or a panic is not fatal: the caller
// falls back to the unresolved siblings, logs, and counts it.
type Resolver interface {
	Resolve(key []byte, siblings []Sibling) (Resolution, error)
}

// Func adapts a function to a Resolver.
type Func func(key []byte, siblings []Sibling) (Resolution, error)

// Resolve calls f.
func (f Func) Resolve(key []byte, siblings []Sibling) (Resolution, error) { return f(key, siblings) }

// Lossy is implemented by resolvers that may discard data a client wrote,
// such as LastWriteWins. A node warns at start-up about the buckets where
// such a resolver applies.
type Lossy interface {
	Lossy() bool
}

// KeepSiblings is the built-in "siblings" resolver and the default: it
// never resolves, so the client receives every sibling and decides.
type KeepSiblings struct{}

// Resolve declines.
func (KeepSiblings) Resolve([]byte, []Sibling) (Resolution, error) {
	return Resolution{Keep: true}, nil
}

// LastWriteWins is the built-in "lww" resolver: the sibling with the latest
// coordinator timestamp wins and the others are dropped. It is lossy by
// design: of two concurrent cart additions one disappears, and a node
// whose clock is behind loses writes it made later in real time. Use it
// only where losing a concurrent write is acceptable (caches, sessions,
// last-seen markers).
type LastWriteWins struct{}

// Resolve returns the latest sibling's value and content type.
func (LastWriteWins) Resolve(_ []byte, siblings []Sibling) (Resolution, error) {
	if len(siblings) == 0 {
		return Resolution{Keep: true}, nil
	}
	w := siblings[latest(siblings)]
	return Resolution{Value: w.Value, ContentType: w.ContentType}, nil
}

// Lossy reports true: LastWriteWins drops concurrent writes.
func (LastWriteWins) Lossy() bool { return true }

// latest returns the index of the sibling last-write-wins keeps: the latest
// timestamp, ties broken by value then content type, so that the choice
// depends only on the siblings' contents and not on their order — every
// node resolving the same set picks the same winner.
func latest(siblings []Sibling) int {
	best := 0
	for i := 1; i < len(siblings); i++ {
		if compareLWW(siblings[i], siblings[best]) > 0 {
			best = i
		}
	}
	return best
}

func compareLWW(a, b Sibling) int {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Value, b.Value); c != 0 {
		return c
	}
	switch {
	case a.ContentType < b.ContentType:
		return -1
	case a.ContentType > b.ContentType:
		return 1
	}
	return 0
}

// builtins returns the built-in resolvers by name.
func builtins() map[string]Resolver {
	return map[string]Resolver{NameSiblings: KeepSiblings{}, NameLWW: LastWriteWins{}}
}

// Limits bound what a resolver may return.
type Limits struct {
	// MaxValueBytes is limits.max_value_bytes: a resolution may not store or
	// serve a value a client could not have written. Zero means no limit.
	MaxValueBytes int
}

// Reasons a resolver failed, as *Error.Reason returns them (and metrics
// label them).
const (
	ReasonPanic   = "panic"
	ReasonError   = "error"
	ReasonInvalid = "invalid"
)

var (
	// ErrPanicked means the resolver panicked; the panic was recovered.
	ErrPanicked = errors.New("resolve: resolver panicked")
	// ErrInvalid means the resolver returned a resolution that cannot be
	// stored or served.
	ErrInvalid = errors.New("resolve: invalid resolution")
)

// Error reports a resolver that failed on a key. The siblings it was given
// stay as they were.
type Error struct {
	// Resolver is the failing resolver's configured name.
	Resolver string
	// Bucket is the prefix it was chosen by; empty for the default.
	Bucket string
	Key    []byte
	// Err is the resolver's own error, or wraps ErrPanicked or ErrInvalid.
	Err error
	// Stack is the panicking goroutine's stack, for the log.
	Stack []byte
}

func (e *Error) Error() string {
	where := "the default"
	if e.Bucket != "" {
		where = "bucket " + strconv.Quote(e.Bucket)
	}
	return fmt.Sprintf("resolver %q (%s) failed on key %q: %v", e.Resolver, where, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Reason classifies the failure: ReasonPanic, ReasonInvalid or ReasonError.
func (e *Error) Reason() string {
	switch {
	case errors.Is(e.Err, ErrPanicked):
		return ReasonPanic
	case errors.Is(e.Err, ErrInvalid):
		return ReasonInvalid
	}
	return ReasonError
}

// call runs r, turning a panic into an error: a resolver is user code, and
// the node must survive it.
func call(r Resolver, key []byte, siblings []Sibling) (res Resolution, stack []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, stack, err = Resolution{}, debug.Stack(), fmt.Errorf("%w: %v", ErrPanicked, p)
		}
	}()
	res, err = r.Resolve(key, siblings)
	return res, nil, err
}

// check validates a resolution and fills in its content type; it returns
// the resolution to store or serve.
func check(res Resolution, siblings []Sibling, lim Limits) (Resolution, error) {
	switch {
	case res.Keep && (res.Delete || res.Value != nil || res.ContentType != ""):
		return res, fmt.Errorf("%w: Keep set together with a value, content type or Delete", ErrInvalid)
	case res.Keep:
		return res, nil
	case res.Delete && (len(res.Value) > 0 || res.ContentType != ""):
		return res, fmt.Errorf("%w: Delete set together with a value or content type", ErrInvalid)
	case res.Delete:
		return Resolution{Delete: true}, nil
	case lim.MaxValueBytes > 0 && len(res.Value) > lim.MaxValueBytes:
		return res, fmt.Errorf("%w: value of %d bytes is over limits.max_value_bytes (%d)", ErrInvalid, len(res.Value), lim.MaxValueBytes)
	}
	if res.ContentType == "" {
		res.ContentType = commonContentType(siblings)
	}
	if len(res.ContentType) > maxContentTypeBytes {
		return res, fmt.Errorf("%w: content type of %d bytes, the limit is %d", ErrInvalid, len(res.ContentType), maxContentTypeBytes)
	}
	if _, _, err := mime.ParseMediaType(res.ContentType); err != nil {
		return res, fmt.Errorf("%w: content type %q: %v", ErrInvalid, res.ContentType, err)
	}
	// The resolver may reuse its buffer once it returns.
	res.Value = slices.Clone(res.Value)
	if res.Value == nil {
		res.Value = []byte{}
	}
	return res, nil
}

func commonContentType(siblings []Sibling) string {
	if len(siblings) == 0 {
		return DefaultContentType
	}
	ct := siblings[0].ContentType
	for _, s := range siblings[1:] {
		if s.ContentType != ct {
			return DefaultContentType
		}
	}
	if ct == "" {
		return DefaultContentType
	}
	return ct
}
