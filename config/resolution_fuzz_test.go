package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dhtkv/dht/resolve"
)

// FuzzResolutionBuckets checks the resolution.buckets parser on arbitrary
// text: it never panics, what it accepts has non-empty UTF-8 prefixes and
// valid resolver names, and printing the result back parses to the same
// map.
func FuzzResolutionBuckets(f *testing.F) {
	for _, s := range []string{"", "carts/=cart", " a = b , c=d,", "k=v/=lww", "=x", "a=", "a/=x,a/=y", "\xff=lww"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Default()
		c.Resolution.Buckets = s
		m, err := c.ResolutionBuckets()
		if err != nil {
			return
		}
		var pairs []string
		for _, prefix := range slices.Sorted(maps.Keys(m)) {
			if prefix == "" || !utf8.ValidString(prefix) || !resolve.ValidName(m[prefix]) {
				t.Fatalf("accepted prefix %q for %q", prefix, m[prefix])
			}
			pairs = append(pairs, prefix+"="+m[prefix])
		}
		c.Resolution.Buckets = strings.Join(pairs, ",")
		again, err := c.ResolutionBuckets()
		if err != nil || !maps.Equal(again, m) {
			t.Fatalf("%q parsed to %v; printed as %q it parses to %v, %v", s, m, c.Resolution.Buckets, again, err)
		}
	})
}
