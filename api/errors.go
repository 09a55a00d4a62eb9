package api

// Code is the stable short code of a failed answer, the "code" field of
// Error. Codes are part of the API: clients switch on them, so a code is
// never renamed, only added.
type Code string

// The error codes of the client API.
const (
	CodeBadKey          Code = "bad_key"
	CodeKeyTooLong      Code = "key_too_long"
	CodeValueTooLarge   Code = "value_too_large"
	CodeBodyTooLarge    Code = "body_too_large"
	CodeBadContext      Code = "bad_context"
	CodeBadRequest      Code = "bad_request"
	CodeBadQuorum       Code = "bad_quorum"
	CodeBadParameter    Code = "bad_parameter"
	CodeBadContentType  Code = "bad_content_type"
	CodeMethod          Code = "method_not_allowed"
	CodeUnauthorized    Code = "unauthorized"
	CodeTooManySiblings Code = "too_many_siblings"
	CodeUnavailable     Code = "unavailable"
	CodeTimeout         Code = "timeout"
	CodeNotFound        Code = "not_found"
	CodeInternal        Code = "internal"
	// CodePreconditionFailed answers 412: a conditional request's If-Match
	// or If-None-Match does not hold; a write stored nothing.
	CodePreconditionFailed Code = "precondition_failed"
	// CodeUnknownPath answers 404 for a path the node serves nothing at
	// (GET /, a typo, GET /v1/kv), so that a client can tell a wrong
	// address from a key without a value (CodeNotFound).
	CodeUnknownPath Code = "unknown_path"
	// CodeHeadersTooLarge answers 431: the request's header block is over
	// http.max_header_bytes. Nothing was read past it.
	CodeHeadersTooLarge Code = "headers_too_large"
	// CodeBadTTL answers 400: a PUT's ttl is not a Go duration between 1s
	// and 87600h (ten years).
	CodeBadTTL Code = "bad_ttl"
	// CodeBadCursor answers 400: a key listing's cursor cannot be decoded,
	// or was made by a ring of another size.
	CodeBadCursor Code = "bad_cursor"
	// CodeForbidden answers 403: the token is right but does not allow the
	// request (the client token on key listing, unless
	// http.listing_for_clients).
	CodeForbidden Code = "forbidden"
)

// The error codes of the admin API's ownership changes.
const (
	CodeBadNode     Code = "bad_node"
	CodeUnknownNode Code = "unknown_node"
	CodeConflict    Code = "conflict"
)

// Error is the JSON body of every failed answer of the client and admin
// APIs: {"error": message, "code": code}, with "indeterminate": true when a
// write may still land.
type Error struct {
	// Error is the human-readable explanation.
	Error string `json:"error"`
	// Code is the stable code to switch on.
	Code Code `json:"code"`
	// Indeterminate is set when a write failed in a way that leaves its
	// outcome unknown; omitted when false.
	Indeterminate bool `json:"indeterminate,omitempty"`
}
