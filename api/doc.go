// Package api holds the JSON shapes of the node's HTTP API: the admin
// answers (/admin/members, /admin/ring, /admin/status, the 202 of an
// ownership change), the body of an ownership change's request, the error
// body every failed answer carries, the error codes as typed constants, and
// how a key is written into a request's path (EscapeKey, KVPath: "." and
// ".." as %2E and %2E%2E).
//
// The gateway encodes these types and the client decodes them, so a field
// renamed on one side is renamed on both; the JSON field names are the wire
// format and must stay byte for byte as they are (older clients and nodes
// read them). client/clienttest keeps a fake node of its own but answers
// with these shapes too.
//
// Use: a server fills a value and encodes it with encoding/json; a client
// decodes into the same type. The package holds data and a few pure helpers
// (Handoff.ETA, Transfer.Progress, EscapeKey), no I/O, and its values are plain data:
// safe to share read-only between goroutines, not to mutate concurrently.
package api
