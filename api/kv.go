package api

import "time"

// Siblings is the body of a 300 Multiple Choices answer to GET /v1/kv/{key}:
// every live sibling, oldest first. The causal context covering them all
// travels in the context header, not in the body.
type Siblings struct {
	Siblings []Sibling `json:"siblings"`
}

// Sibling is one concurrent value of a key.
type Sibling struct {
	// Value is the value's bytes, base64 (standard encoding) in JSON. A
	// writer sets an empty value as []byte{}, not nil, so that it encodes
	// as "" rather than null.
	Value       []byte    `json:"value"`
	ContentType string    `json:"content_type"`
	Timestamp   time.Time `json:"timestamp"`
	// Expires is when the value expires (written with a TTL); absent for
	// one that never does.
	Expires *time.Time `json:"expires,omitempty"`
}
