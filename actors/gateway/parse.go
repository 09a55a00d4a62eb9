package gateway

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/wire"
)

// kvPrefix is the path of the client API; the key is the rest of the path.
const kvPrefix = "/v1/kv/"

// ContextHeader carries the causal context in both directions.
const ContextHeader = "X-Dht-Context"

// SiblingsHeader tells a writer how many siblings the key holds after its
// write: more than one means someone wrote concurrently.
const SiblingsHeader = "X-Dht-Siblings"

// ExpiresHeader answers a GET, HEAD or PUT whose live values expire: the
// earliest of their expiries, RFC 3339 in UTC. The instant is the one the
// coordinating replica fixed when it took the write, the same on every
// replica.
const ExpiresHeader = "X-Dht-Expires"

// maxContentTypeBytes bounds the stored content type.
const maxContentTypeBytes = 256

// Limits are the client-facing size limits.
type Limits struct {
	MaxKeyBytes   int
	MaxValueBytes int
	MaxSiblings   int
}

// parseKey extracts the key from the escaped request path. Keys are one
// path segment, percent-encoded, so they may hold '/' and arbitrary bytes.
func parseKey(escapedPath string, limits Limits) ([]byte, *apiError) {
	raw, ok := strings.CutPrefix(escapedPath, kvPrefix)
	if !ok {
		// Routed here with the prefix escaped ("/v1/%6Bv/a": ServeMux
		// matches a pattern's literal segments unescaped): a wrong
		// path, not a missing key.
		return nil, &apiError{status: http.StatusNotFound, code: codeUnknownPath, msg: "no such endpoint; the client API is " + kvPrefix + "{key}"}
	}
	key, err := url.PathUnescape(raw)
	if err != nil {
		return nil, badRequest(codeBadKey, "key is not valid percent-encoding: %v", err)
	}
	if key == "" {
		return nil, badRequest(codeBadKey, "key is empty")
	}
	if len(key) > limits.MaxKeyBytes {
		return nil, &apiError{status: http.StatusRequestURITooLong, code: codeKeyTooLong,
			msg: fmt.Sprintf("key is %d bytes, the limit (limits.max_key_bytes) is %d", len(key), limits.MaxKeyBytes)}
	}
	return []byte(key), nil
}

// parseParams applies the per-request quorum overrides in query to the
// defaults and validates the result for the operation. Unknown parameters are
// refused: a mistyped "?W=3" must not silently fall back to the default.
//
// As in Riak, a primary count given alone raises its quorum to match: with
// the default w=2, "?pw=3" means w=3 as well, since the three primaries are
// counted among the w acknowledgements. An explicit contradiction
// ("?w=2&pw=3") is still refused.
func parseParams(query url.Values, defaults quorum.Params, write bool) (quorum.Params, *apiError) {
	p := defaults
	allowed := map[string]*int{"r": &p.R, "pr": &p.PR}
	count, primaries := &p.R, &p.PR
	countName := "r"
	if write {
		allowed = map[string]*int{"w": &p.W, "pw": &p.PW}
		count, primaries, countName = &p.W, &p.PW, "w"
	}
	for name, values := range query {
		dst, ok := allowed[name]
		if !ok {
			return p, badRequest(codeBadParameter, "unknown query parameter %q (allowed: %s)", name, allowedNames(write))
		}
		if len(values) != 1 {
			return p, badRequest(codeBadParameter, "query parameter %q given %d times", name, len(values))
		}
		n, err := strconv.Atoi(values[0])
		if err != nil {
			return p, badRequest(codeBadParameter, "query parameter %s=%q is not an integer", name, values[0])
		}
		*dst = n
	}
	raised := ""
	if _, given := query[countName]; !given && *primaries > *count {
		*count = *primaries
		raised = fmt.Sprintf("p%s=%d raises %s to %d: ", countName, *primaries, countName, *count)
	}
	var err error
	if write {
		err = p.ValidateWrite()
	} else {
		err = p.ValidateRead()
	}
	if err != nil {
		return p, badRequest(codeBadQuorum, "impossible quorum: %s%v", raised, err)
	}
	return p, nil
}

// parseDeleteParams applies a DELETE's quorum overrides: w and pw for the
// tombstone, and r and pr for the read that a delete sent without a context
// makes first (as Riak's delete does); each pair is parsed and validated as
// parseParams does a write's and a read's.
func parseDeleteParams(query url.Values, defaults quorum.Params) (quorum.Params, *apiError) {
	readQ, writeQ := url.Values{}, url.Values{}
	for name, values := range query {
		switch name {
		case "r", "pr":
			readQ[name] = values
		case "w", "pw":
			writeQ[name] = values
		default:
			return defaults, badRequest(codeBadParameter, "unknown query parameter %q (allowed: r, pr, w, pw)", name)
		}
	}
	p, apiErr := parseParams(writeQ, defaults, true)
	if apiErr != nil {
		return p, apiErr
	}
	read, apiErr := parseParams(readQ, defaults, false)
	if apiErr != nil {
		return p, apiErr
	}
	p.R, p.PR = read.R, read.PR
	return p, nil
}

func allowedNames(write bool) string {
	if write {
		return "w, pw, ttl"
	}
	return "r, pr"
}

// parseContext decodes the causal context a client sent back with codec.
func parseContext(codec wire.ContextCodec, h http.Header, key []byte) (dvv.VersionVector, *apiError) {
	vv, err := codec.Decode(key, h.Get(ContextHeader))
	if err != nil {
		return nil, badRequest(codeBadContext, "%s header: %v; send back the context exactly as a read of this key returned it, or none for a blind write", ContextHeader, strings.TrimPrefix(err.Error(), "wire: "))
	}
	return vv, nil
}

// parseContentType validates the value's content type, defaulting to
// application/octet-stream.
func parseContentType(h http.Header) (string, *apiError) {
	ct := h.Get("Content-Type")
	if ct == "" {
		return "application/octet-stream", nil
	}
	if len(ct) > maxContentTypeBytes {
		return "", badRequest(codeBadContentType, "Content-Type is %d bytes, the limit is %d", len(ct), maxContentTypeBytes)
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return "", badRequest(codeBadContentType, "Content-Type %q: %v", ct, err)
	}
	return ct, nil
}

// bodyLimitError maps the error of reading a value under valueLimit to
// the answer: value_too_large when the value limit cut it off, and
// body_too_large when http.max_body_bytes did first (only when it is set
// below the value limit, which config validation refuses). Nil when err
// is not a limit's error.
func bodyLimitError(err error, valueLimit int64) *apiError {
	mbe, ok := errors.AsType[*http.MaxBytesError](err)
	switch {
	case !ok:
		return nil
	case mbe.Limit < valueLimit:
		return bodyTooLarge(-1, mbe.Limit)
	}
	return valueTooLarge(valueLimit)
}

func valueTooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: codeValueTooLarge,
		msg: fmt.Sprintf("value is larger than the limit (limits.max_value_bytes) of %d bytes", limit)}
}

// bodyTooLarge is the answer to a request body over http.max_body_bytes;
// declared is its Content-Length, or -1 when it was sent chunked.
func bodyTooLarge(declared, limit int64) *apiError {
	size := "larger than"
	if declared >= 0 {
		size = fmt.Sprintf("%d bytes, over", declared)
	}
	return &apiError{status: http.StatusRequestEntityTooLarge, code: codeBodyTooLarge,
		msg: fmt.Sprintf("request body is %s the limit (http.max_body_bytes) of %d bytes", size, limit)}
}

// parseTTL takes a PUT's ttl out of query: a Go duration ("30s", "1h30m")
// from replica.MinTTL to replica.MaxTTL, 0 when absent. It returns the
// query without it, for parseParams.
func parseTTL(query url.Values) (time.Duration, url.Values, *apiError) {
	values, given := query["ttl"]
	if !given {
		return 0, query, nil
	}
	rest := make(url.Values, len(query))
	for name, v := range query {
		if name != "ttl" {
			rest[name] = v
		}
	}
	if len(values) != 1 {
		return 0, rest, badRequest(codeBadTTL, "query parameter ttl given %d times", len(values))
	}
	ttl, err := time.ParseDuration(values[0])
	if err != nil {
		return 0, rest, badRequest(codeBadTTL, "ttl=%q is not a duration (like 30s, 15m or 24h): %v", values[0], err)
	}
	if ttl < replica.MinTTL || ttl > replica.MaxTTL {
		return 0, rest, badRequest(codeBadTTL, "ttl=%s is outside %v..%v", values[0], replica.MinTTL, replica.MaxTTL)
	}
	return ttl, rest, nil
}

// setExpires sets ExpiresHeader when a live value of obj, read at the
// node's clock, expires.
func setExpires(h http.Header, obj dvv.Set) {
	if at, ok := obj.Perishable(); ok {
		h.Set(ExpiresHeader, time.UnixMilli(at).UTC().Format(time.RFC3339Nano))
	}
}
