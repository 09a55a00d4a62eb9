package api

// ListPath is the key listing endpoint: GET /v1/kv?prefix=&limit=&cursor=
// &values=&r= answers a ListPage. It is the client API's path without a
// key.
const ListPath = "/v1/kv"

// ListPage is the body of a key listing's answer: up to limit keys, in key
// order within each partition, partition by partition. Cursor, when
// present, resumes the listing after the last key; it is absent once every
// partition has been covered. Error, when present, says why the page
// stopped short of its limit (a partition none of whose replicas
// answered): Cursor then resumes at that partition.
type ListPage struct {
	Keys   []ListedKey `json:"keys"`
	Cursor string      `json:"cursor,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// ListedKey is one listed key; Siblings are its live values, only when
// values=true was asked.
type ListedKey struct {
	// Key is the key as a string. A key that is not valid UTF-8 is also
	// given exactly in KeyBase64 (standard encoding), since JSON strings
	// cannot carry arbitrary bytes.
	Key       string    `json:"key"`
	KeyBase64 []byte    `json:"key_base64,omitempty"`
	Siblings  []Sibling `json:"siblings,omitempty"`
}

// Bytes returns the key's exact bytes.
func (k ListedKey) Bytes() []byte {
	if k.KeyBase64 != nil {
		return k.KeyBase64
	}
	return []byte(k.Key)
}
