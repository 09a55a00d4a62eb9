package api

import (
	"net/url"
	"strings"
)

// KVPrefix is the path of the client API: a key's path is KVPrefix followed
// by the key escaped as one path segment (KVPath).
const KVPrefix = "/v1/kv/"

// EscapeKey encodes key as one path segment of a request target, so that
// every key, whatever its bytes, reaches the node unchanged.
//
// url.PathEscape escapes '/', '%', spaces and every byte outside the
// unreserved set, but it leaves the keys "." and ".." as they are. As path
// segments those are dot segments, which clients, proxies and servers remove
// while normalising a path (RFC 3986 §5.2.4: curl does, and Go's ServeMux
// redirects to the cleaned path), so a request for them would reach another
// path or none. They are sent as %2E and %2E%2E instead: percent-encoded
// dots are not dot segments (RFC 3986 §6.2.2.2 says to decode them only in
// normalisation the origin server agrees to, and ours does not), and the
// node decodes them back to "." and "..". Keys that merely contain dots
// ("a.b", "...") are no dot segments and are left as url.PathEscape leaves
// them.
func EscapeKey(key string) string {
	if key == "." || key == ".." {
		return strings.Repeat("%2E", len(key))
	}
	return url.PathEscape(key)
}

// KVPath is the escaped path of key in the client API: KVPrefix and
// EscapeKey(key). Append a query string, if any, after it.
func KVPath(key string) string {
	return KVPrefix + EscapeKey(key)
}
