package replica

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

// memStore is an in-memory Store with injectable failures.
type memStore struct {
	data      map[string][]byte
	failReads bool
}

func newMemStore() *memStore { return &memStore{data: map[string][]byte{}} }

var errInjected = errors.New("injected: disk full")

func (s *memStore) Get(key []byte) ([]byte, bool, error) {
	if s.failReads {
		return nil, false, errInjected
	}
	v, ok := s.data[string(key)]
	return slices.Clone(v), ok, nil
}

func (s *memStore) Scan(start []byte, fn func(key, value []byte) bool) error {
	if s.failReads {
		return errInjected
	}
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		if k >= string(start) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), s.data[k]) {
			break
		}
	}
	return nil
}

// jsonCodec stores sets as JSON: readable, and any byte change is corrupt.
type jsonCodec struct{}

func (jsonCodec) Encode(s dvv.Set) ([]byte, error) { return json.Marshal(s) }
func (jsonCodec) Decode(b []byte) (dvv.Set, error) {
	var s dvv.Set
	err := json.Unmarshal(b, &s)
	return s, err
}

// fakeMinter mints actor 1's dots from next, with NextAfter's floor rule.
type fakeMinter struct {
	next uint64
	fail bool
}

func (m *fakeMinter) Actor() dvv.Actor { return 1 }

func (m *fakeMinter) NextAfter(floor uint64) (dvv.Dot, error) {
	if m.fail {
		return dvv.Dot{}, errors.New("vnode: persist dot lease: injected")
	}
	m.next = max(m.next, floor+1)
	d := dvv.Dot{Actor: 1, Counter: m.next}
	m.next++
	return d, nil
}

// discard is a Logger that keeps the last message.
type discard struct{ last string }

func (d *discard) Error(msg string, _ ...any) { d.last = msg }

// t0 is the tests' wall clock.
var t0 = time.UnixMilli(1_700_000_000_000)

// parseSet reads "v1@1:5,~@2:3" (~ a tombstone) with an optional context
// "1:5,2:3" (default: the siblings' dots) and timestamp.
func parseSet(sibs, ctx string, ts int64) (dvv.Set, error) {
	var s dvv.Set
	if sibs != "" {
		for _, part := range strings.Split(sibs, ",") {
			value, dotText, ok := strings.Cut(part, "@")
			if !ok {
				return s, fmt.Errorf("sibling %q: want value@actor:counter[!expiry]", part)
			}
			dotText, expText, expires := strings.Cut(dotText, "!")
			d, err := parseDot(dotText)
			if err != nil {
				return s, err
			}
			sib := dvv.Sibling{Dot: d, Timestamp: ts}
			if expires {
				// !N: the value expires N ms after t0.
				n, err := strconv.ParseInt(expText, 10, 64)
				if err != nil {
					return s, fmt.Errorf("sibling %q: expiry: %v", part, err)
				}
				sib.ExpiresAt = t0.UnixMilli() + n
			}
			if value == "~" {
				sib.Tombstone = true
			} else {
				sib.Value = []byte(value)
			}
			s.Siblings = append(s.Siblings, sib)
			s.Context = s.Context.With(d)
		}
	}
	if ctx != "" {
		vv, err := parseVV(ctx)
		if err != nil {
			return s, err
		}
		s.Context = s.Context.Merge(vv)
	}
	slices.SortFunc(s.Siblings, func(a, b dvv.Sibling) int { return compareDot(a.Dot, b.Dot) })
	return s, s.Validate()
}

func compareDot(a, b dvv.Dot) int {
	if a.Actor != b.Actor {
		return int(a.Actor) - int(b.Actor)
	}
	return int(a.Counter) - int(b.Counter)
}

func parseDot(s string) (dvv.Dot, error) {
	a, c, ok := strings.Cut(s, ":")
	if !ok {
		return dvv.Dot{}, fmt.Errorf("dot %q: want actor:counter", s)
	}
	actor, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return dvv.Dot{}, err
	}
	counter, err := strconv.ParseUint(c, 10, 64)
	return dvv.Dot{Actor: dvv.Actor(actor), Counter: counter}, err
}

func parseVV(s string) (dvv.VersionVector, error) {
	var vv dvv.VersionVector
	for _, part := range strings.Split(s, ",") {
		d, err := parseDot(part)
		if err != nil {
			return nil, err
		}
		vv = vv.With(d)
	}
	return vv, nil
}

// formatSet prints a set as {value@actor:counter ... | context}.
func formatSet(s dvv.Set) string {
	var b strings.Builder
	b.WriteString("{")
	for i, sib := range s.Siblings {
		if i > 0 {
			b.WriteString(" ")
		}
		v := string(sib.Value)
		if sib.Tombstone {
			v = "~"
		}
		fmt.Fprintf(&b, "%s@%d:%d", v, sib.Dot.Actor, sib.Dot.Counter)
		if sib.ExpiresAt != 0 {
			fmt.Fprintf(&b, "!%d", sib.ExpiresAt-t0.UnixMilli())
		}
	}
	b.WriteString(" | ")
	for i, d := range s.Context {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%d:%d", d.Actor, d.Counter)
	}
	b.WriteString("}")
	return b.String()
}
