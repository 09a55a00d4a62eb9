package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
)

var testLimits = Limits{MaxKeyBytes: 8, MaxValueBytes: 16, MaxSiblings: 4}

// knownCodes are the error codes of the client API (errors.go).
var knownCodes = []api.Code{
	codeBadKey, codeKeyTooLong, codeValueTooLarge, codeBadContext, codeBadQuorum,
	codeBadParameter, codeBadContentType, codeMethod, codeUnauthorized,
	codeTooManySiblings, codeUnavailable, codeTimeout, codeNotFound, codeInternal,
	codeUnknownPath, codeHeadersTooLarge, codeBadRequest, codeBadTTL,
}

func TestParseKey_Table(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		want       string
		wantStatus int // 0: no error
		wantCode   api.Code
	}{
		{name: "plain", path: "/v1/kv/abc", want: "abc"},
		{name: "escaped slash", path: "/v1/kv/a%2Fb", want: "a/b"},
		{name: "literal slash", path: "/v1/kv/a/b", want: "a/b"},
		{name: "escaped percent", path: "/v1/kv/a%252F", want: "a%2F"},
		{name: "plus is not a space", path: "/v1/kv/a+b", want: "a+b"},
		{name: "escaped space", path: "/v1/kv/a%20b", want: "a b"},
		{name: "utf-8", path: "/v1/kv/%E2%82%AC", want: "€"},
		{name: "raw bytes", path: "/v1/kv/%00%FF", want: "\x00\xff"},
		{name: "lower-case hex", path: "/v1/kv/%ff", want: "\xff"},
		{name: "dot", path: "/v1/kv/%2E", want: "."},
		{name: "at the limit", path: "/v1/kv/12345678", want: "12345678"},
		{name: "limit counts decoded bytes", path: "/v1/kv/%41%41%41%41%41%41%41%41", want: "AAAAAAAA"},

		{name: "empty", path: "/v1/kv/", wantStatus: 400, wantCode: codeBadKey},
		{name: "bad escape", path: "/v1/kv/%zz", wantStatus: 400, wantCode: codeBadKey},
		{name: "short escape", path: "/v1/kv/a%2", wantStatus: 400, wantCode: codeBadKey},
		{name: "lone percent", path: "/v1/kv/%", wantStatus: 400, wantCode: codeBadKey},
		{name: "over the limit", path: "/v1/kv/123456789", wantStatus: 414, wantCode: codeKeyTooLong},
		{name: "over the limit in multi-byte runes", path: "/v1/kv/%E2%82%AC%E2%82%AC%E2%82%AC", wantStatus: 414, wantCode: codeKeyTooLong},
		{name: "other endpoint", path: "/v2/kv/abc", wantStatus: 404, wantCode: codeUnknownPath},
		{name: "prefix without slash", path: "/v1/kvabc", wantStatus: 404, wantCode: codeUnknownPath},
		{name: "no path", path: "", wantStatus: 404, wantCode: codeUnknownPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKey(tt.path, testLimits)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("parseKey(%q) = error %v, want %q", tt.path, err, tt.want)
				}
				if string(got) != tt.want {
					t.Fatalf("parseKey(%q) = %q, want %q", tt.path, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseKey(%q) = %q, want a %d error", tt.path, got, tt.wantStatus)
			}
			if err.status != tt.wantStatus || err.code != tt.wantCode || err.msg == "" {
				t.Errorf("parseKey(%q) = %d %s %q, want %d %s", tt.path, err.status, err.code, err.msg, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestParseParams_Table(t *testing.T) {
	defaults := quorum.Params{N: 3, R: 2, W: 2, PR: 0, PW: 0}
	tests := []struct {
		name     string
		query    string
		write    bool
		want     quorum.Params
		wantCode api.Code // "" means no error
		wantMsg  []string
	}{
		{name: "read defaults", query: "", want: defaults},
		{name: "write defaults", query: "", write: true, want: defaults},
		{name: "r", query: "r=3", want: quorum.Params{N: 3, R: 3, W: 2}},
		{name: "r and pr", query: "r=1&pr=1", want: quorum.Params{N: 3, R: 1, W: 2, PR: 1}},
		{name: "w and pw", query: "w=3&pw=2", write: true, want: quorum.Params{N: 3, R: 2, W: 3, PW: 2}},
		{name: "explicit sign", query: "r=%2B1", want: quorum.Params{N: 3, R: 1, W: 2}},
		{name: "leading zero", query: "w=03", write: true, want: quorum.Params{N: 3, R: 2, W: 3}},

		{name: "r=0", query: "r=0", wantCode: codeBadQuorum, wantMsg: []string{"r=0"}},
		{name: "r>n", query: "r=4", wantCode: codeBadQuorum, wantMsg: []string{"r=4", "n=3"}},
		{name: "negative r", query: "r=-1", wantCode: codeBadQuorum, wantMsg: []string{"r=-1"}},
		{name: "pr>r", query: "r=1&pr=2", wantCode: codeBadQuorum, wantMsg: []string{"pr=2", "r=1"}},
		// A primary count alone raises its quorum (as Riak does); given
		// with a smaller quorum it is a contradiction.
		{name: "pr alone raises r", query: "pr=3", want: quorum.Params{N: 3, R: 3, W: 2, PR: 3}},
		{name: "pw alone raises w", query: "pw=3", write: true, want: quorum.Params{N: 3, R: 2, W: 3, PW: 3}},
		{name: "pw alone below w keeps w", query: "pw=1", write: true, want: quorum.Params{N: 3, R: 2, W: 2, PW: 1}},
		{name: "pr alone beyond n", query: "pr=4", wantCode: codeBadQuorum, wantMsg: []string{"r=4", "n=3"}},
		{name: "w=2&pw=3 contradicts", query: "w=2&pw=3", write: true, wantCode: codeBadQuorum, wantMsg: []string{"pw=3", "w=2"}},
		{name: "negative pr", query: "pr=-1", wantCode: codeBadQuorum, wantMsg: []string{"pr=-1"}},
		{name: "w=0", query: "w=0", write: true, wantCode: codeBadQuorum, wantMsg: []string{"w=0"}},
		{name: "w>n", query: "w=4", write: true, wantCode: codeBadQuorum, wantMsg: []string{"w=4", "n=3"}},
		{name: "pw>w", query: "w=1&pw=2", write: true, wantCode: codeBadQuorum, wantMsg: []string{"pw=2"}},
		{name: "negative pw", query: "pw=-1", write: true, wantCode: codeBadQuorum, wantMsg: []string{"pw=-1"}},

		{name: "non-integer", query: "r=two", wantCode: codeBadParameter, wantMsg: []string{"r", "two", "integer"}},
		{name: "empty value", query: "w=", write: true, wantCode: codeBadParameter, wantMsg: []string{"w"}},
		{name: "no value", query: "r", wantCode: codeBadParameter, wantMsg: []string{"r"}},
		{name: "float", query: "r=1.5", wantCode: codeBadParameter, wantMsg: []string{"1.5"}},
		{name: "overflow", query: "r=99999999999999999999", wantCode: codeBadParameter, wantMsg: []string{"99999999999999999999"}},
		{name: "upper-case name", query: "W=1", write: true, wantCode: codeBadParameter, wantMsg: []string{`"W"`, "w, pw"}},
		{name: "unknown name", query: "n=5", wantCode: codeBadParameter, wantMsg: []string{`"n"`, "r, pr"}},
		{name: "write parameter on a read", query: "w=1", wantCode: codeBadParameter, wantMsg: []string{`"w"`}},
		{name: "read parameter on a write", query: "r=1", write: true, wantCode: codeBadParameter, wantMsg: []string{`"r"`}},
		{name: "repeated", query: "r=1&r=1", wantCode: codeBadParameter, wantMsg: []string{`"r"`, "2 times"}},
		{name: "repeated differently", query: "w=1&w=3", write: true, wantCode: codeBadParameter, wantMsg: []string{`"w"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, apiErr := parseParams(q, defaults, tt.write)
			if tt.wantCode == "" {
				if apiErr != nil {
					t.Fatalf("parseParams(%q) = error %v, want %+v", tt.query, apiErr, tt.want)
				}
				if got != tt.want {
					t.Fatalf("parseParams(%q) = %+v, want %+v", tt.query, got, tt.want)
				}
				return
			}
			if apiErr == nil {
				t.Fatalf("parseParams(%q) = %+v, want a %s error", tt.query, got, tt.wantCode)
			}
			if apiErr.status != http.StatusBadRequest || apiErr.code != tt.wantCode {
				t.Errorf("parseParams(%q) = %d %s %q, want 400 %s", tt.query, apiErr.status, apiErr.code, apiErr.msg, tt.wantCode)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(apiErr.msg, s) {
					t.Errorf("error %q does not mention %q", apiErr.msg, s)
				}
			}
		})
	}
}

func TestParseContentType_Table(t *testing.T) {
	longest := "application/x-" + strings.Repeat("a", maxContentTypeBytes-len("application/x-"))
	tests := []struct {
		name    string
		header  []string // Content-Type values; nil sends none
		want    string
		wantErr bool
	}{
		{name: "absent", want: "application/octet-stream"},
		{name: "empty", header: []string{""}, want: "application/octet-stream"},
		{name: "simple", header: []string{"text/plain"}, want: "text/plain"},
		{name: "kept verbatim", header: []string{"Text/Plain; Charset=UTF-8"}, want: "Text/Plain; Charset=UTF-8"},
		{name: "quoted parameter", header: []string{`multipart/mixed; boundary="a b"`}, want: `multipart/mixed; boundary="a b"`},
		{name: "at the limit", header: []string{longest}, want: longest},
		{name: "first of two", header: []string{"text/plain", "text/html"}, want: "text/plain"},

		{name: "over the limit", header: []string{longest + "a"}, wantErr: true},
		{name: "no subtype", header: []string{"text/"}, wantErr: true},
		{name: "spaces", header: []string{"not a type"}, wantErr: true},
		{name: "parameter without value", header: []string{"text/plain; charset"}, wantErr: true},
		{name: "duplicate parameter", header: []string{"text/plain; a=1; a=2"}, wantErr: true},
		{name: "only parameters", header: []string{"; charset=utf-8"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != nil {
				h["Content-Type"] = tt.header
			}
			got, err := parseContentType(h)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseContentType(%q) = %q, want an error", tt.header, got)
				}
				if err.status != http.StatusBadRequest || err.code != codeBadContentType || !strings.Contains(err.msg, "Content-Type") {
					t.Errorf("parseContentType(%q) = %d %s %q, want 400 %s naming Content-Type", tt.header, err.status, err.code, err.msg, codeBadContentType)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseContentType(%q) = %q, %v, want %q", tt.header, got, err, tt.want)
			}
		})
	}
}

// checkAPIError fails unless e is a well-formed client error.
func checkAPIError(t *testing.T, e *apiError) {
	t.Helper()
	if e.status < 400 || e.status > 499 {
		t.Fatalf("status %d for %q, want 4xx", e.status, e.msg)
	}
	if !slices.Contains(knownCodes, e.code) {
		t.Fatalf("unknown code %q", e.code)
	}
	if e.msg == "" {
		t.Fatal("empty message")
	}
}

// FuzzParseKey checks that any escaped path yields a key within the limits
// that escapes back to itself, or a 4xx with a known code.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		"/v1/kv/abc", "/v1/kv/a%2Fb", "/v1/kv/", "/v1/kv/%zz", "/v1/kv/%", "/v1/kv/%E2%82%AC",
		"/v1/kv/%00%ff", "/v2/kv/a", "/v1/kv/123456789", "/v1/kv//", "/v1/kv/a+b%20c",
	} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, path string, maxKey int) {
		limits := Limits{MaxKeyBytes: max(1, min(maxKey, 1<<16)), MaxValueBytes: 1, MaxSiblings: 1}
		key, err := parseKey(path, limits)
		if err != nil {
			checkAPIError(t, err)
			if key != nil {
				t.Fatalf("parseKey(%q) returned both %q and %v", path, key, err)
			}
			return
		}
		if len(key) == 0 || len(key) > limits.MaxKeyBytes {
			t.Fatalf("parseKey(%q) = %d bytes, want 1..%d", path, len(key), limits.MaxKeyBytes)
		}
		if !strings.HasPrefix(path, kvPrefix) {
			t.Fatalf("parseKey(%q) accepted a path outside %s", path, kvPrefix)
		}
		// The client's escaping of the key leads back to the same key.
		again, err := parseKey(kvPrefix+url.PathEscape(string(key)), limits)
		if err != nil || string(again) != string(key) {
			t.Fatalf("key %q escaped as %q parses as %q, %v", key, url.PathEscape(string(key)), again, err)
		}
	})
}

// FuzzParseParams checks that any query either yields parameters that pass
// validation for the operation, or a 400 with a parameter or quorum code.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"", "r=1", "w=3&pw=2", "r=0", "W=1", "r=1&r=2", "pr=9", "w=%zz", "r=+2", "r", "a=b&c=d"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	defaults := quorum.Params{N: 3, R: 2, W: 2}
	f.Fuzz(func(t *testing.T, rawQuery string, write bool) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // the gateway's parsing of the query string is a separate concern
		}
		got, apiErr := parseParams(q, defaults, write)
		if apiErr != nil {
			checkAPIError(t, apiErr)
			if apiErr.code != codeBadParameter && apiErr.code != codeBadQuorum {
				t.Fatalf("parseParams(%q) code %q, want bad_parameter or bad_quorum", rawQuery, apiErr.code)
			}
			if !utf8.ValidString(apiErr.msg) && utf8.ValidString(rawQuery) {
				t.Fatalf("message %q is not valid UTF-8", apiErr.msg)
			}
			return
		}
		check := got.ValidateRead
		if write {
			check = got.ValidateWrite
		}
		if err := check(); err != nil {
			t.Fatalf("parseParams(%q) = %+v, which is invalid: %v", rawQuery, got, err)
		}
		if got.N != defaults.N {
			t.Fatalf("parseParams(%q) changed n to %d", rawQuery, got.N)
		}
		if write && (got.R != defaults.R || got.PR != defaults.PR) || !write && (got.W != defaults.W || got.PW != defaults.PW) {
			t.Fatalf("parseParams(%q, write=%v) = %+v changed the other operation's parameters", rawQuery, write, got)
		}
		for name := range q {
			if !slices.Contains([]string{"r", "pr", "w", "pw"}, name) {
				t.Fatalf("parseParams(%q) accepted parameter %q", rawQuery, name)
			}
		}
	})
}

func TestParseTTL_Table(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		want     time.Duration
		wantCode api.Code // "": no error
		wantMsg  string
	}{
		{name: "absent", query: "w=2", want: 0},
		{name: "seconds", query: "ttl=30s&w=2", want: 30 * time.Second},
		{name: "compound", query: "ttl=1h30m", want: 90 * time.Minute},
		{name: "the least", query: "ttl=1s", want: time.Second},
		{name: "ten years", query: "ttl=87600h", want: 87600 * time.Hour},
		{name: "below a second", query: "ttl=999ms", wantCode: codeBadTTL, wantMsg: "outside"},
		{name: "zero", query: "ttl=0s", wantCode: codeBadTTL, wantMsg: "outside"},
		{name: "negative", query: "ttl=-5s", wantCode: codeBadTTL, wantMsg: "outside"},
		{name: "beyond ten years", query: "ttl=87601h", wantCode: codeBadTTL, wantMsg: "outside"},
		{name: "no unit", query: "ttl=30", wantCode: codeBadTTL, wantMsg: "not a duration"},
		{name: "days are not a Go unit", query: "ttl=1d", wantCode: codeBadTTL, wantMsg: "not a duration"},
		{name: "empty", query: "ttl=", wantCode: codeBadTTL, wantMsg: "not a duration"},
		{name: "twice", query: "ttl=1s&ttl=2s", wantCode: codeBadTTL, wantMsg: "2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, rest, apiErr := parseTTL(q)
			if _, left := rest["ttl"]; left {
				t.Errorf("the rest of the query still holds ttl: %v", rest)
			}
			if tt.wantCode == "" {
				if apiErr != nil || got != tt.want {
					t.Fatalf("parseTTL(%q) = %v, %v; want %v", tt.query, got, apiErr, tt.want)
				}
				if _, err := parseParams(rest, quorum.Params{N: 3, R: 2, W: 2}, true); err != nil {
					t.Fatalf("the rest of the query does not parse: %v", err)
				}
				return
			}
			if apiErr == nil || apiErr.code != tt.wantCode || apiErr.status != http.StatusBadRequest || !strings.Contains(apiErr.msg, tt.wantMsg) {
				t.Fatalf("parseTTL(%q) = %v, %+v; want 400 %s naming %q", tt.query, got, apiErr, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestSetExpires(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	perishable := dvv.Set{Siblings: []dvv.Sibling{{Value: []byte("v"), ExpiresAt: at.UnixMilli()}}}
	h := http.Header{}
	setExpires(h, perishable)
	if got := h.Get(ExpiresHeader); got != "2030-01-02T03:04:05Z" {
		t.Fatalf("%s = %q, want RFC 3339 UTC", ExpiresHeader, got)
	}
	h = http.Header{}
	setExpires(h, dvv.Set{Siblings: []dvv.Sibling{{Value: []byte("v")}}})
	if got := h.Get(ExpiresHeader); got != "" {
		t.Fatalf("%s = %q for a value that never expires", ExpiresHeader, got)
	}
}
