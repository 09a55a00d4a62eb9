package gateway_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtkv/dht/config"
)

// Limits of the node the bad-input tests run against.
const (
	testMaxKeyBytes   = 64
	testMaxValueBytes = 32
)

// TestGateway_RejectsBadInput sends one malformed request per case against a
// key of its own that holds a value, and checks the status, the JSON error,
// and that the stored value and its context are untouched.
func TestGateway_RejectsBadInput(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *config.Config) {
		c.Limits.MaxKeyBytes = testMaxKeyBytes
		c.Limits.MaxValueBytes = testMaxValueBytes
	})
	otherCtx := n.mustPut(t, "other", "x", "")
	longKey := strings.Repeat("k", testMaxKeyBytes+1)

	// Context mutations: each turns the victim's good context into a bad one.
	flip := func(bit int) func(string) string {
		return func(token string) string {
			raw := must(base64.RawURLEncoding.DecodeString(token))
			if bit < 0 {
				bit += len(raw) * 8
			}
			raw[bit/8] ^= 1 << (bit % 8)
			return base64.RawURLEncoding.EncodeToString(raw)
		}
	}
	constant := func(s string) func(string) string { return func(string) string { return s } }
	padded := func(token string) string {
		if pad := (4 - len(token)%4) % 4; pad > 0 {
			return token + strings.Repeat("=", pad)
		}
		return token + "===="
	}
	stdBase64 := func(token string) string {
		return base64.StdEncoding.EncodeToString(must(base64.RawURLEncoding.DecodeString(token))) + "+/"
	}

	const victimPath = "{victim}" // replaced by the case's own key path
	textPlain := http.Header{"Content-Type": {"text/plain"}}
	ct := func(v string) http.Header { return http.Header{"Content-Type": {v}} }

	tests := []struct {
		name   string
		method string
		target string              // victimPath is replaced by the victim's path
		header http.Header         // sent as is
		ctx    func(string) string // derives the X-Dht-Context sent from the victim's
		body   string

		wantStatus int
		wantCode   string
		wantInMsg  []string // substrings of the "error" message
	}{
		{name: "empty key get", method: "GET", target: "/v1/kv/",
			wantStatus: 400, wantCode: "bad_key", wantInMsg: []string{"key is empty"}},
		{name: "empty key put", method: "PUT", target: "/v1/kv/", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_key", wantInMsg: []string{"key is empty"}},
		{name: "key over the limit", method: "PUT", target: keyPath(longKey), header: textPlain, body: "x",
			wantStatus: 414, wantCode: "key_too_long", wantInMsg: []string{"limits.max_key_bytes", "65", "64"}},
		{name: "escaped key over the limit", method: "GET", target: "/v1/kv/" + strings.Repeat("%FF", testMaxKeyBytes+1),
			wantStatus: 414, wantCode: "key_too_long"},
		{name: "value over the limit", method: "PUT", target: victimPath, header: textPlain, body: strings.Repeat("v", testMaxValueBytes+1),
			wantStatus: 413, wantCode: "value_too_large", wantInMsg: []string{"limits.max_value_bytes", "32"}},
		{name: "value far over the limit", method: "PUT", target: victimPath, header: textPlain, body: strings.Repeat("v", 1<<20),
			wantStatus: 413, wantCode: "value_too_large"},

		{name: "context bit flip", method: "PUT", target: victimPath, header: textPlain, ctx: flip(13), body: "x",
			wantStatus: 400, wantCode: "bad_context", wantInMsg: []string{"X-Dht-Context"}},
		{name: "context checksum bit flip", method: "PUT", target: victimPath, header: textPlain, ctx: flip(-1), body: "x",
			wantStatus: 400, wantCode: "bad_context"},
		{name: "context random string", method: "PUT", target: victimPath, header: textPlain, ctx: constant("definitely not a context!"), body: "x",
			wantStatus: 400, wantCode: "bad_context"},
		{name: "context random base64url", method: "PUT", target: victimPath, header: textPlain, ctx: constant("AAAAAAAAAAAAAAAAAAAAAAAA"), body: "x",
			wantStatus: 400, wantCode: "bad_context"},
		{name: "context truncated", method: "PUT", target: victimPath, header: textPlain, ctx: func(s string) string { return s[:len(s)-4] }, body: "x",
			wantStatus: 400, wantCode: "bad_context"},
		{name: "context cut to a few bytes", method: "PUT", target: victimPath, header: textPlain, ctx: func(s string) string { return s[:4] }, body: "x",
			wantStatus: 400, wantCode: "bad_context"},
		{name: "context with base64 padding", method: "PUT", target: victimPath, header: textPlain, ctx: padded, body: "x",
			wantStatus: 400, wantCode: "bad_context", wantInMsg: []string{"base64"}},
		{name: "context in standard base64", method: "PUT", target: victimPath, header: textPlain, ctx: stdBase64, body: "x",
			wantStatus: 400, wantCode: "bad_context"},
		{name: "context over the size limit", method: "PUT", target: victimPath, header: textPlain, ctx: constant(strings.Repeat("A", 9<<10)), body: "x",
			wantStatus: 400, wantCode: "bad_context"},
		{name: "context of another key", method: "PUT", target: victimPath, header: textPlain, ctx: constant(otherCtx), body: "x",
			wantStatus: 400, wantCode: "bad_context", wantInMsg: []string{"different key"}},
		{name: "delete with a context of another key", method: "DELETE", target: victimPath, ctx: constant(otherCtx),
			wantStatus: 400, wantCode: "bad_context", wantInMsg: []string{"different key"}},
		{name: "delete with a corrupt context", method: "DELETE", target: victimPath, ctx: flip(20),
			wantStatus: 400, wantCode: "bad_context"},

		{name: "r=0", method: "GET", target: victimPath + "?r=0",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"r=0"}},
		{name: "r>n", method: "GET", target: victimPath + "?r=2",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"r=2", "n=1"}},
		{name: "pr>r", method: "GET", target: victimPath + "?pr=2",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"pr=2"}},
		{name: "negative pr", method: "GET", target: victimPath + "?pr=-1",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"pr=-1"}},
		{name: "w=0", method: "PUT", target: victimPath + "?w=0", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"w=0"}},
		{name: "w>n", method: "PUT", target: victimPath + "?w=2", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"w=2", "n=1"}},
		{name: "pw>w", method: "PUT", target: victimPath + "?pw=2", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"pw=2"}},
		{name: "delete w=0", method: "DELETE", target: victimPath + "?w=0",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"w=0"}},
		{name: "delete r>n", method: "DELETE", target: victimPath + "?r=2",
			wantStatus: 400, wantCode: "bad_quorum", wantInMsg: []string{"r=2", "n=1"}},
		{name: "unknown parameter on a delete", method: "DELETE", target: victimPath + "?dw=1",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"dw"`, "r, pr, w, pw"}},
		{name: "non-integer r", method: "GET", target: victimPath + "?r=one",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{"r", "one", "integer"}},
		{name: "empty w", method: "PUT", target: victimPath + "?w=", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{"w", "integer"}},
		{name: "fractional w", method: "PUT", target: victimPath + "?w=1.0", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{"1.0"}},
		{name: "unknown parameter W", method: "PUT", target: victimPath + "?W=1", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"W"`}},
		{name: "unknown parameter", method: "GET", target: victimPath + "?consistency=all",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"consistency"`}},
		{name: "write parameter on a read", method: "GET", target: victimPath + "?w=1",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"w"`}},
		{name: "ttl not a duration", method: "PUT", target: victimPath + "?ttl=30", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_ttl", wantInMsg: []string{`ttl="30"`, "not a duration"}},
		{name: "ttl below a second", method: "PUT", target: victimPath + "?ttl=500ms", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_ttl", wantInMsg: []string{"ttl=500ms", "outside 1s..87600h0m0s"}},
		{name: "ttl beyond ten years", method: "PUT", target: victimPath + "?ttl=87601h", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_ttl", wantInMsg: []string{"ttl=87601h", "outside"}},
		{name: "ttl on a read", method: "GET", target: victimPath + "?ttl=30s",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"ttl"`}},
		{name: "ttl on a delete", method: "DELETE", target: victimPath + "?ttl=30s",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"ttl"`}},
		{name: "read parameter on a write", method: "PUT", target: victimPath + "?r=1", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"r"`}},
		{name: "repeated parameter", method: "PUT", target: victimPath + "?w=1&w=1", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{`"w"`, "2 times"}},
		// A query that does not parse must not silently fall back to the
		// default quorum, any more than a misspelt parameter may.
		{name: "malformed escape in a parameter", method: "PUT", target: victimPath + "?w=%zz", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_parameter"},
		{name: "malformed escape in a read parameter", method: "GET", target: victimPath + "?r=%zz",
			wantStatus: 400, wantCode: "bad_parameter"},
		{name: "semicolon separated parameters", method: "PUT", target: victimPath + "?w=1;pw=5", header: textPlain, body: "x",
			wantStatus: 400, wantCode: "bad_parameter"},

		{name: "unquoted If-Match", method: "PUT", target: victimPath, header: http.Header{"Content-Type": {"text/plain"}, "If-Match": {"abc"}}, body: "x",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{"If-Match", "entity tag"}},
		{name: "If-None-Match * in a list", method: "PUT", target: victimPath, header: http.Header{"Content-Type": {"text/plain"}, "If-None-Match": {`*, "abc"`}}, body: "x",
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{"If-None-Match", "alone"}},
		{name: "empty If-Match on a delete", method: "DELETE", target: victimPath, header: http.Header{"If-Match": {" , "}},
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{"If-Match"}},
		{name: "too many entity tags", method: "GET", target: victimPath, header: http.Header{"If-None-Match": {strings.Repeat(`"a",`, 65)}},
			wantStatus: 400, wantCode: "bad_parameter", wantInMsg: []string{"64"}},

		{name: "content type without subtype", method: "PUT", target: victimPath, header: ct("text/"), body: "x",
			wantStatus: 400, wantCode: "bad_content_type", wantInMsg: []string{"Content-Type", "text/"}},
		{name: "content type garbage", method: "PUT", target: victimPath, header: ct("not a type"), body: "x",
			wantStatus: 400, wantCode: "bad_content_type"},
		{name: "content type bad parameter", method: "PUT", target: victimPath, header: ct("text/plain; charset"), body: "x",
			wantStatus: 400, wantCode: "bad_content_type"},
		{name: "content type too long", method: "PUT", target: victimPath, header: ct("application/x-" + strings.Repeat("a", 250)), body: "x",
			wantStatus: 400, wantCode: "bad_content_type", wantInMsg: []string{"256"}},

		{name: "POST", method: "POST", target: victimPath, header: textPlain, body: "x",
			wantStatus: 405, wantCode: "method_not_allowed", wantInMsg: []string{"POST"}},
		{name: "PATCH", method: "PATCH", target: victimPath, header: textPlain, body: "x",
			wantStatus: 405, wantCode: "method_not_allowed", wantInMsg: []string{"PATCH"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "victim-" + strconv.Itoa(i)
			const value = "original"
			good := n.mustPut(t, key, value, "")

			h := tt.header.Clone()
			if h == nil {
				h = http.Header{}
			}
			if tt.ctx != nil {
				h.Set("X-Dht-Context", tt.ctx(good))
			}
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			target := strings.Replace(tt.target, victimPath, keyPath(key), 1)
			resp := n.do(t, tt.method, target, h, body)
			if resp.status != tt.wantStatus {
				t.Errorf("%s %s = %d %q, want %d", tt.method, target, resp.status, resp.body, tt.wantStatus)
			} else {
				e := decodeError(t, resp)
				if e.Code != tt.wantCode {
					t.Errorf("code = %q, want %q (error %q)", e.Code, tt.wantCode, e.Error)
				}
				for _, s := range tt.wantInMsg {
					if !strings.Contains(e.Error, s) {
						t.Errorf("error %q does not mention %q", e.Error, s)
					}
				}
				if resp.header.Get("X-Dht-Context") != "" {
					t.Errorf("a refused request answered with a context")
				}
				if tt.wantStatus == http.StatusMethodNotAllowed {
					if got := resp.header.Get("Allow"); got != "GET, HEAD, PUT, DELETE" {
						t.Errorf("Allow = %q, want %q", got, "GET, HEAD, PUT, DELETE")
					}
				}
			}
			// Nothing stored changed: still the one original sibling, and
			// no dot minted (the context is as before).
			get := n.wantValue(t, key, value)
			if got := get.header.Get("X-Dht-Context"); got != good {
				t.Errorf("context after the refused request = %q, want %q", got, good)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
