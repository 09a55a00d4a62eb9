package gateway_test

import (
	"net/http"
	"strconv"
	"testing"
)

func TestGateway_PutThenGet(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	tests := []struct {
		name        string
		key         string
		value       string
		contentType string // sent; "" sends none
		wantType    string
	}{
		{name: "text", key: "greeting", value: "hello", contentType: "text/plain", wantType: "text/plain"},
		{name: "type with parameters", key: "doc", value: `{"a":1}`, contentType: "application/json; charset=utf-8", wantType: "application/json; charset=utf-8"},
		{name: "no content type", key: "blob", value: "\x00\x01\xff", wantType: "application/octet-stream"},
		{name: "empty value", key: "empty", value: "", contentType: "text/plain", wantType: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			put := n.do(t, http.MethodPut, keyPath(tt.key), h, []byte(tt.value))
			if put.status != http.StatusNoContent {
				t.Fatalf("PUT = %d %q, want 204", put.status, put.body)
			}
			if len(put.body) != 0 {
				t.Errorf("PUT body = %q, want none", put.body)
			}
			if put.header.Get("X-Dht-Context") == "" {
				t.Error("PUT answer has no X-Dht-Context")
			}
			if got := put.header.Get("X-Dht-Siblings"); got != "1" {
				t.Errorf("PUT X-Dht-Siblings = %q, want 1", got)
			}

			get := n.wantValue(t, tt.key, tt.value)
			if got := get.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("GET Content-Type = %q, want %q", got, tt.wantType)
			}
			if get.header.Get("X-Dht-Context") == "" {
				t.Error("GET answer has no X-Dht-Context")
			}
			if _, err := http.ParseTime(get.header.Get("Last-Modified")); err != nil {
				t.Errorf("GET Last-Modified %q: %v", get.header.Get("Last-Modified"), err)
			}
		})
	}
}

// TestGateway_PutWithContextReplaces checks the ordinary read-modify-write
// cycle: a write carrying the previous write's context overwrites it.
func TestGateway_PutWithContextReplaces(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	ctx := ""
	for i := range 5 {
		ctx = n.mustPut(t, "counter", strconv.Itoa(i), ctx)
		n.wantValue(t, "counter", strconv.Itoa(i))
	}
}

// TestGateway_KeysRoundTrip writes every key first and reads them all back
// afterwards, so two keys that the gateway confused would read each other's
// value.
func TestGateway_KeysRoundTrip(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	keys := []string{
		"plain",
		"a/b",
		"a//b",
		"/leading",
		"trailing/",
		"a/./b",
		"a/../b",
		".",
		"..",
		"a b",
		"a+b",
		"a%2Fb", // a literal percent sign: not the key "a/b"
		"a?b#c",
		"ключ/值/🔑",
		"\x00",
		"\xff\xfe raw \x80 bytes",
		"A", "a",
	}
	for i, k := range keys {
		t.Run("put "+strconv.Quote(k), func(t *testing.T) {
			n.mustPut(t, k, "value-"+strconv.Itoa(i), "")
		})
	}
	for i, k := range keys {
		t.Run("get "+strconv.Quote(k), func(t *testing.T) {
			n.wantValue(t, k, "value-"+strconv.Itoa(i))
		})
	}
}

func TestGateway_DeleteHidesValue(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	ctx := n.mustPut(t, "doomed", "v1", "")
	del := n.del(t, "doomed", ctx)
	if del.status != http.StatusNoContent || del.header.Get("X-Dht-Context") == "" {
		t.Fatalf("DELETE = %d %q (context %q), want 204 with a context", del.status, del.body, del.header.Get("X-Dht-Context"))
	}

	var notFoundCtx string
	for i := range 2 { // a second read must not resurrect the value
		get := n.get(t, "doomed")
		if get.status != http.StatusNotFound {
			t.Fatalf("GET %d after DELETE = %d %q, want 404", i, get.status, get.body)
		}
		e := decodeError(t, get)
		if e.Error != "not found" || e.Code != "not_found" {
			t.Errorf("404 body = %+v, want error \"not found\" code not_found", e)
		}
		if notFoundCtx = get.header.Get("X-Dht-Context"); notFoundCtx == "" {
			t.Fatal("404 of a deleted key has no X-Dht-Context")
		}
	}

	put := n.put(t, "doomed", "reborn", notFoundCtx)
	if put.status != http.StatusNoContent || put.header.Get("X-Dht-Siblings") != "1" {
		t.Fatalf("PUT with the 404's context = %d siblings %q, want 204 with 1 (the tombstone superseded)",
			put.status, put.header.Get("X-Dht-Siblings"))
	}
	n.wantValue(t, "doomed", "reborn")
}

func TestGateway_GetMissingKey(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	get := n.get(t, "never-written")
	if get.status != http.StatusNotFound {
		t.Fatalf("GET = %d %q, want 404", get.status, get.body)
	}
	if e := decodeError(t, get); e.Code != "not_found" {
		t.Errorf("code = %q, want not_found", e.Code)
	}
	if get.header.Get("X-Dht-Context") == "" {
		t.Error("404 has no X-Dht-Context")
	}
	// The empty context of a missing key is a valid context to write with.
	n.mustPut(t, "never-written", "first", get.header.Get("X-Dht-Context"))
	n.wantValue(t, "never-written", "first")
}

// TestGateway_ContextIsOpaqueAndStable checks that a context is URL-safe
// and that reading twice without writes hands out the same token.
func TestGateway_ContextIsOpaqueAndStable(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	n.mustPut(t, "k", "v", "")
	a := n.get(t, "k").header.Get("X-Dht-Context")
	b := n.get(t, "k").header.Get("X-Dht-Context")
	if a == "" || a != b {
		t.Fatalf("contexts %q and %q, want equal and non-empty", a, b)
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			t.Fatalf("context %q holds %q, want unpadded base64url", a, r)
		}
	}
}
