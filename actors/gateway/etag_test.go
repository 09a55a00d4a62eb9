package gateway

import (
	"net/http"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/replica"
)

// TestETag_RoundTrip: the ETag of a context parses back, from If-Match and
// If-None-Match, to a test that matches exactly that context; weak forms
// match only in If-None-Match.
func TestETag_RoundTrip(t *testing.T) {
	vv := dvv.NewVersionVector(dvv.Dot{Actor: 3, Counter: 9})
	obj := dvv.Set{Context: vv}
	other := dvv.Set{Context: vv.With(dvv.Dot{Actor: 4, Counter: 1})}
	tag := etag(vv)
	if etag(vv) != tag || etag(other.Context) == tag {
		t.Fatalf("etag not a function of the context alone: %s, %s, %s", tag, etag(vv), etag(other.Context))
	}
	for _, tc := range []struct {
		name, header, value string
		matches             bool
	}{
		{"If-Match", "If-Match", tag, true},
		{"If-Match in a list", "If-Match", `"x", ` + tag, true},
		{"If-Match weak", "If-Match", "W/" + tag, false},
		{"If-None-Match weak", "If-None-Match", "W/" + tag, true},
		{"foreign tag", "If-Match", `"xyz"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, apiErr := parsePrecondition(http.Header{tc.header: {tc.value}})
			if apiErr != nil {
				t.Fatalf("parsePrecondition: %v", apiErr)
			}
			test := p.IfMatch
			if test == nil {
				test = p.IfNoneMatch
			}
			if got := test.Matches(obj); got != tc.matches {
				t.Errorf("matches the context = %v, want %v", got, tc.matches)
			}
			if test.Matches(other) {
				t.Errorf("matches another context")
			}
		})
	}
}

// FuzzParsePrecondition: no conditional header crashes the parser, and one
// that parses lists at most replica.MaxPreconditionTags tags.
func FuzzParsePrecondition(f *testing.F) {
	f.Add(`"AAAAAAAAAAAAAAAAAAAAAA"`, "*")
	f.Add(`W/"x", "y"`, `""`)
	f.Add(`*, "a"`, `,,`)
	f.Fuzz(func(t *testing.T, ifMatch, ifNoneMatch string) {
		p, apiErr := parsePrecondition(http.Header{"If-Match": {ifMatch}, "If-None-Match": {ifNoneMatch}})
		if apiErr != nil {
			if apiErr.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", apiErr.status)
			}
			return
		}
		for _, test := range []*replica.TagTest{p.IfMatch, p.IfNoneMatch} {
			if test != nil && len(test.Tags) > replica.MaxPreconditionTags {
				t.Fatalf("%d tags", len(test.Tags))
			}
		}
	})
}
