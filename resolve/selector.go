package resolve

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Config says which resolver applies where. It mirrors the resolution
// section of config.yaml, plus the resolvers a Go program registers.
type Config struct {
	// Default names the resolver for keys in no bucket; empty means
	// "siblings".
	Default string
	// Buckets maps key prefixes to resolver names; the longest prefix of a
	// key wins.
	Buckets map[string]string
	// Custom holds resolvers registered in Go, by the name the config uses.
	// A name may not be a built-in's.
	Custom map[string]Resolver
	// Limits bound what resolvers return.
	Limits Limits
}

// UnknownError reports a resolver name the config uses but nobody
// registered.
type UnknownError struct {
	Name string
	// Bucket is the prefix naming it; empty for the default.
	Bucket string
	// Known lists the registered names, sorted.
	Known []string
}

func (e *UnknownError) Error() string {
	where := "the default"
	if e.Bucket != "" {
		where = "bucket " + strconv.Quote(e.Bucket)
	}
	return fmt.Sprintf("%s names unknown resolver %q (registered: %s); register it in node.Options.Resolvers",
		where, e.Name, strings.Join(e.Known, ", "))
}

// Selector picks the resolver of each key. It is built once at start-up,
// never changes, and is safe for concurrent use.
type Selector struct {
	def Choice
	// buckets is sorted longest prefix first, so the first match is the
	// longest.
	buckets []Choice
}

// NewSelector checks c and builds its Selector. Every problem is reported
// at once: a name that is neither built in nor registered (*UnknownError), a
// custom resolver shadowing a built-in, an empty bucket prefix.
func NewSelector(c Config) (*Selector, error) {
	reg := builtins()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Custom)) {
		switch _, builtin := reg[name]; {
		case builtin:
			errs = append(errs, fmt.Errorf("resolver %q is built in and cannot be replaced; register yours under another name", name))
		case c.Custom[name] == nil:
			errs = append(errs, fmt.Errorf("resolver %q is nil", name))
		case !ValidName(name):
			errs = append(errs, fmt.Errorf("resolver name %q: use letters, digits, '.', '_' and '-' only", name))
		default:
			reg[name] = c.Custom[name]
		}
	}
	known := slices.Sorted(maps.Keys(reg))
	choose := func(bucket, name string) Choice {
		r, ok := reg[name]
		if !ok {
			errs = append(errs, &UnknownError{Name: name, Bucket: bucket, Known: known})
		}
		return Choice{Name: name, Bucket: bucket, resolver: r, limits: c.Limits}
	}
	s := &Selector{def: choose("", cmp.Or(c.Default, NameSiblings))}
	s.def.Default = true
	for _, prefix := range slices.Sorted(maps.Keys(c.Buckets)) {
		if prefix == "" {
			errs = append(errs, errors.New("a bucket prefix is empty; set the default resolver instead"))
			continue
		}
		s.buckets = append(s.buckets, choose(prefix, c.Buckets[prefix]))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortStableFunc(s.buckets, func(a, b Choice) int { return cmp.Compare(len(b.Bucket), len(a.Bucket)) })
	return s, nil
}

// ValidName reports whether name can be a resolver's name in config.yaml:
// letters, digits, '.', '_' and '-'.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// Select returns the resolver for key: that of the longest bucket prefix of
// key, else the default.
func (s *Selector) Select(key []byte) Choice {
	for _, b := range s.buckets {
		if bytes.HasPrefix(key, []byte(b.Bucket)) {
			return b
		}
	}
	return s.def
}

// Active reports whether any key can be resolved on the server, that is
// whether some bucket, or the default, has a resolver other than
// "siblings". When not, callers can skip the hook altogether.
func (s *Selector) Active() bool {
	if !s.def.Keeps() {
		return true
	}
	return slices.ContainsFunc(s.buckets, func(c Choice) bool { return !c.Keeps() })
}

// Use is where one lossy resolver applies.
type Use struct {
	Name string
	// Buckets are the prefixes naming it.
	Buckets []string
	// Default is set when it is the default resolver, for keys in no
	// other bucket.
	Default bool
}

// Lossy lists the lossy resolvers in use (those implementing Lossy), with
// where they apply, sorted by name, so a node can warn about them.
func (s *Selector) Lossy() []Use {
	uses := map[string]*Use{}
	add := func(c Choice) *Use {
		l, ok := c.resolver.(Lossy)
		if !ok || !l.Lossy() {
			return nil
		}
		if uses[c.Name] == nil {
			uses[c.Name] = &Use{Name: c.Name}
		}
		return uses[c.Name]
	}
	if u := add(s.def); u != nil {
		u.Default = true
	}
	for _, b := range s.buckets {
		if u := add(b); u != nil {
			u.Buckets = append(u.Buckets, b.Bucket)
		}
	}
	var out []Use
	for _, name := range slices.Sorted(maps.Keys(uses)) {
		u := *uses[name]
		slices.Sort(u.Buckets)
		out = append(out, u)
	}
	return out
}

// Choice is the resolver selected for a key.
type Choice struct {
	// Name is the resolver's configured name.
	Name string
	// Bucket is the prefix that selected it; empty for the default.
	Bucket string
	// Default is set when no bucket matched.
	Default  bool
	resolver Resolver
	limits   Limits
}

// Keeps reports whether the choice never resolves (the "siblings"
// resolver), so callers can skip copying siblings for it.
func (c Choice) Keeps() bool {
	_, keep := c.resolver.(KeepSiblings)
	return c.resolver == nil || keep
}

// Resolve runs the chosen resolver on key's live siblings. ok reports that
// res replaces them. With fewer than two siblings, or when the resolver
// declines (Keep), ok is false and err nil. A resolver that panics, fails or
// returns an invalid resolution yields an *Error, and the siblings must be
// left as they are.
func (c Choice) Resolve(key []byte, siblings []Sibling) (res Resolution, ok bool, err error) {
	if len(siblings) < 2 || c.Keeps() {
		return Resolution{}, false, nil
	}
	// The resolver gets its own copy of the key, which the caller goes on
	// to store under.
	res, stack, err := call(c.resolver, bytes.Clone(key), siblings)
	if err == nil {
		res, err = check(res, siblings, c.limits)
	}
	if err != nil {
		return Resolution{}, false, &Error{Resolver: c.Name, Bucket: c.Bucket, Key: bytes.Clone(key), Err: err, Stack: stack}
	}
	return res, !res.Keep, nil
}
