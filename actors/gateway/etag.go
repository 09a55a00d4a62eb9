package gateway

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/replica"
)

// ETagHeader carries the entity tag of the key's causal context on every
// answer that carries a context; If-Match and If-None-Match send it back.
const ETagHeader = "ETag"

// etag returns the strong entity tag of a context: its dvv.Tag, quoted, in
// unpadded base64url. It depends on the context only, so it stays the same
// for as long as the key's context does, whichever node answers; unlike the
// context token it carries no causality and needs no secret: a write it
// allows is made against the context the coordinating replica holds.
func etag(vv dvv.VersionVector) string {
	t := vv.Tag()
	return `"` + base64.RawURLEncoding.EncodeToString(t[:]) + `"`
}

// parsePrecondition reads a request's If-Match and If-None-Match headers
// (RFC 9110 §13.1). "*" tests for a live value. If-Match compares strongly,
// so a weak tag (W/"…") in it matches nothing; If-None-Match compares
// weakly, so its W/ prefix is ignored. A well-formed tag that this store
// did not issue matches nothing either. A header that is not a list of
// entity tags is refused, as is one listing more than
// replica.MaxPreconditionTags.
func parsePrecondition(h http.Header) (replica.Precondition, *apiError) {
	var p replica.Precondition
	var apiErr *apiError
	if p.IfMatch, apiErr = parseTagTest(h, "If-Match", false); apiErr != nil {
		return p, apiErr
	}
	if p.IfNoneMatch, apiErr = parseTagTest(h, "If-None-Match", true); apiErr != nil {
		return p, apiErr
	}
	return p, nil
}

// parseTagTest parses one conditional header; nil when it is absent.
func parseTagTest(h http.Header, name string, weak bool) (*replica.TagTest, *apiError) {
	values := h.Values(name)
	if len(values) == 0 {
		return nil, nil
	}
	bad := func(format string, args ...any) *apiError {
		return badRequest(codeBadParameter, "%s header: %s; send * or the ETag a read or write of this key returned, quoted", name, fmt.Sprintf(format, args...))
	}
	t := &replica.TagTest{}
	count := 0
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue // empty list elements are allowed (RFC 9110 §5.6.1)
			}
			count++
			if count > replica.MaxPreconditionTags {
				return nil, bad("more than %d entity tags", replica.MaxPreconditionTags)
			}
			if item == "*" {
				t.Any = true
				continue
			}
			isWeak := strings.HasPrefix(item, "W/")
			opaque := strings.TrimPrefix(item, "W/")
			if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' || strings.ContainsAny(opaque[1:len(opaque)-1], "\" ") {
				return nil, bad("%q is not an entity tag", item)
			}
			if isWeak && !weak {
				continue // a weak tag never matches strongly
			}
			raw, err := base64.RawURLEncoding.DecodeString(opaque[1 : len(opaque)-1])
			if err != nil || len(raw) != dvv.TagBytes {
				continue // not one of ours: it matches nothing
			}
			t.Tags = append(t.Tags, dvv.Tag(raw))
		}
	}
	if count == 0 {
		return nil, bad("no entity tag")
	}
	if t.Any && count > 1 {
		return nil, bad("* must stand alone")
	}
	return t, nil
}

// readPrecondition evaluates a read's conditional headers on the object it
// merged (RFC 9110 §13.2.2): 412 when If-Match fails, 304 Not Modified when
// If-None-Match matches, 0 to answer as usual. A read's test is the
// gateway's, on the answer it renders; a write's is the coordinating
// replica's.
func readPrecondition(p replica.Precondition, obj dvv.Set) int {
	if p.IfMatch != nil && !p.IfMatch.Matches(obj) {
		return http.StatusPreconditionFailed
	}
	if p.IfNoneMatch != nil && p.IfNoneMatch.Matches(obj) {
		return http.StatusNotModified
	}
	return 0
}
