package api

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestEscapeKey_Wire(t *testing.T) {
	tests := []struct{ key, want string }{
		{key: "a", want: "a"},
		{key: ".", want: "%2E"},
		{key: "..", want: "%2E%2E"},
		{key: "...", want: "..."}, // no dot segment
		{key: "a.b", want: "a.b"},
		{key: "a/b", want: "a%2Fb"},
		{key: "../x", want: "..%2Fx"}, // one segment: no '/' left to split on
		{key: "100%", want: "100%25"},
		{key: "a b", want: "a%20b"},
		{key: "a?b#c", want: "a%3Fb%23c"},
		{key: "é€", want: "%C3%A9%E2%82%AC"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := EscapeKey(tt.key); got != tt.want {
				t.Errorf("EscapeKey(%q) = %q, want %q", tt.key, got, tt.want)
			}
			if got := KVPath(tt.key); got != "/v1/kv/"+tt.want {
				t.Errorf("KVPath(%q) = %q, want /v1/kv/%s", tt.key, got, tt.want)
			}
		})
	}
}

// FuzzEscapeKey checks the property the client relies on: every non-empty
// key becomes one path segment that no path cleaning changes, and decodes
// back to the key.
func FuzzEscapeKey(f *testing.F) {
	for _, k := range []string{"a", ".", "..", "a/b", "%", " ", "\x00\xff", "é"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if key == "" {
			return
		}
		p := KVPath(key)
		seg := strings.TrimPrefix(p, KVPrefix)
		if strings.Contains(seg, "/") {
			t.Fatalf("KVPath(%q) = %q: more than one segment", key, p)
		}
		if path.Clean(p) != p {
			t.Fatalf("KVPath(%q) = %q: cleaning it gives %q", key, p, path.Clean(p))
		}
		back, err := url.PathUnescape(seg)
		if err != nil || back != key {
			t.Fatalf("KVPath(%q) = %q decodes to %q, %v", key, p, back, err)
		}
	})
}
