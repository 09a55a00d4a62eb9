package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

func TestGet_SingleValueIsExactBytes(t *testing.T) {
	_, env, c := newFake(t)
	value := "\x00\xffbinary, no trailing newline"
	mustPut(t, c, "a/b c", value, "")

	r := dhtctl(t, env, "", "get", "a/b c")
	r.want(t, exitOK)
	if r.stdout != value {
		t.Fatalf("stdout = %q, want exactly %q", r.stdout, value)
	}
	if r.stderr != "context: v1:1\netag: \"v1:1\"\n" {
		t.Fatalf("stderr = %q, want the context line", r.stderr)
	}
}

func TestGet_Siblings(t *testing.T) {
	_, env, c := newFake(t)
	mustPut(t, c, "k", "first", "text/plain")
	mustPut(t, c, "k", "second\n", "application/json")

	r := dhtctl(t, env, "", "get", "k")
	r.want(t, exitOK)
	want := "--- sibling 1 (text/plain, 2026-11-25T12:00:00.001Z) ---\nfirst\n" +
		"--- sibling 2 (application/json, 2026-11-25T12:00:00.002Z) ---\nsecond\n"
	if r.stdout != want {
		t.Fatalf("stdout =\n%s\nwant\n%s", r.stdout, want)
	}
	if r.stderr != "context: v1:1,2\netag: \"v1:1,2\"\nsiblings: 2\n" {
		t.Fatalf("stderr = %q", r.stderr)
	}
}

func TestGet_NotFound(t *testing.T) {
	_, env, c := newFake(t)

	r := dhtctl(t, env, "", "get", "missing")
	r.want(t, exitError)
	if r.stdout != "" || !strings.Contains(r.stderr, "not found") || strings.Count(r.stderr, "dhtctl:") != 1 {
		t.Fatalf("stdout %q, stderr %q: want nothing and one not-found error", r.stdout, r.stderr)
	}

	// A deleted key's context is shown: a later put must send it back.
	mustPut(t, c, "gone", "v", "")
	if _, err := c.Delete(t.Context(), "gone", &client.WriteOptions{Context: "v1:1"}); err != nil {
		t.Fatal(err)
	}
	r = dhtctl(t, env, "", "get", "gone")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "context: v1:2\n") || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("stderr = %q, want the tombstone's context and not found", r.stderr)
	}
}

func TestGet_JSON(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		setup func(t *testing.T, c *client.Client)
		code  int
		want  jsonObject
	}{
		{
			name:  "text value",
			key:   "k",
			setup: func(t *testing.T, c *client.Client) { mustPut(t, c, "k", "héllo <&>", "text/plain") },
			code:  exitOK,
			want: jsonObject{Key: "k", Found: true, Context: "v1:1", ETag: `"v1:1"`, Siblings: []jsonSibling{
				{Value: "héllo <&>", ContentType: "text/plain"},
			}},
		},
		{
			name: "binary siblings",
			key:  "\xffkey",
			setup: func(t *testing.T, c *client.Client) {
				mustPut(t, c, "\xffkey", "\x00\xff", "")
				mustPut(t, c, "\xffkey", "text", "text/plain")
			},
			code: exitOK,
			want: jsonObject{Key: "/2tleQ==", KeyEncoding: "base64", Found: true, Context: "v1:1,2", ETag: `"v1:1,2"`, Siblings: []jsonSibling{
				{Value: "AP8=", Encoding: "base64", ContentType: "application/octet-stream", Timestamp: "2026-11-25T12:00:00.001Z"},
				{Value: "text", ContentType: "text/plain", Timestamp: "2026-11-25T12:00:00.002Z"},
			}},
		},
		{
			name:  "not found",
			key:   "nope",
			setup: func(*testing.T, *client.Client) {},
			code:  exitError,
			want:  jsonObject{Key: "nope", Context: "v1:", ETag: `"v1:"`, Siblings: []jsonSibling{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, env, c := newFake(t)
			tt.setup(t, c)
			r := dhtctl(t, env, "", "get", "--json", tt.key)
			r.want(t, tt.code)
			var got jsonObject
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("document = %s\nwant       %s", gotJSON, wantJSON)
			}
			if !strings.Contains(r.stdout, `"siblings": [`) {
				t.Errorf("siblings must be a list even when empty:\n%s", r.stdout)
			}
		})
	}
}

func TestGet_QuorumFlags(t *testing.T) {
	srv, env, c := newFake(t)
	mustPut(t, c, "k", "v", "")
	dhtctl(t, env, "", "get", "--r", "2", "--pr", "1", "k").want(t, exitOK)
	if q := srv.LastRequest().Query; q.Get("r") != "2" || q.Get("pr") != "1" {
		t.Fatalf("query = %v, want r=2 pr=1", q)
	}

	r := dhtctl(t, env, "", "get", "--r", "5", "k")
	r.want(t, exitError)
	if want := "dhtctl: dht: 400 bad_quorum: r=5 is impossible"; !strings.HasPrefix(r.stderr, want) {
		t.Fatalf("stderr = %q, want prefix %q", r.stderr, want)
	}
}

func TestPut(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantBody string
		wantCT   string
	}{
		{"value argument", []string{"put", "k", "hello"}, "ignored", "hello", client.DefaultContentType},
		{"stdin when omitted", []string{"put", "k"}, "from\x00stdin", "from\x00stdin", client.DefaultContentType},
		{"stdin with dash", []string{"put", "k", "-", "--content-type", "text/plain"}, "dash", "dash", "text/plain"},
		{"empty value", []string{"put", "k", ""}, "ignored", "", client.DefaultContentType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, env, _ := newFake(t)
			r := dhtctl(t, env, tt.stdin, tt.args...)
			r.want(t, exitOK)
			if r.stdout != "" || r.stderr != "context: v1:1\netag: \"v1:1\"\n" {
				t.Fatalf("stdout %q, stderr %q: want nothing and the new context", r.stdout, r.stderr)
			}
			req := srv.LastRequest()
			if req.Method != http.MethodPut || string(req.Body) != tt.wantBody || req.Header.Get("Content-Type") != tt.wantCT {
				t.Fatalf("sent %s body %q type %q, want PUT %q %q", req.Method, req.Body, req.Header.Get("Content-Type"), tt.wantBody, tt.wantCT)
			}
		})
	}
}

func TestPut_ContextAndSiblings(t *testing.T) {
	srv, env, _ := newFake(t)
	dhtctl(t, env, "", "put", "k", "one").want(t, exitOK)

	// A second write without the context is concurrent: the count shows it.
	r := dhtctl(t, env, "", "put", "k", "two", "--w", "2", "--pw", "1")
	r.want(t, exitOK)
	if r.stdout != "" || r.stderr != "context: v1:2\netag: \"v1:1,2\"\nsiblings: 2\n" {
		t.Fatalf("stdout %q, stderr %q: want nothing and the context and sibling count", r.stdout, r.stderr)
	}
	if q := srv.LastRequest().Query; q.Get("w") != "2" || q.Get("pw") != "1" {
		t.Errorf("query = %v, want w=2 pw=1", q)
	}

	r = dhtctl(t, env, "", "put", "k", "three", "--context", "v1:1,2")
	r.want(t, exitOK)
	if r.stderr != "context: v1:3\netag: \"v1:3\"\n" {
		t.Fatalf("stderr = %q, want one sibling left", r.stderr)
	}
	if got := srv.LastRequest().Header.Get(client.HeaderContext); got != "v1:1,2" {
		t.Fatalf("sent context %q, want v1:1,2", got)
	}
}

func TestPut_Failures(t *testing.T) {
	srv, env, _ := newFake(t)

	r := dhtctl(t, env, "", "put", "k", "v", "--context", "garbage")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "dhtctl: dht: 400 bad_context") {
		t.Fatalf("stderr = %q, want the 400", r.stderr)
	}

	srv.Fail("slow", clienttest.Failure{Status: 503, Code: "timeout", Message: "1 of 2 acks", Indeterminate: true, Apply: true})
	r = dhtctl(t, env, "", "put", "slow", "v")
	r.want(t, exitError)
	for _, want := range []string{"503 timeout: 1 of 2 acks", "may still be applied", `dhtctl get "slow"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr = %q, want %q", r.stderr, want)
		}
	}
	if strings.Count(r.stderr, "dhtctl: ") != 1 {
		t.Errorf("error printed more than once: %q", r.stderr)
	}
}

func TestDelete(t *testing.T) {
	t.Run("reads the context first", func(t *testing.T) {
		srv, env, c := newFake(t)
		mustPut(t, c, "k", "a", "")
		mustPut(t, c, "k", "b", "")
		r := dhtctl(t, env, "", "delete", "k", "--w", "2")
		r.want(t, exitOK)
		if r.stdout != "" || r.stderr != "context: v1:3\netag: \"v1:3\"\n" {
			t.Fatalf("stdout %q, stderr %q", r.stdout, r.stderr)
		}
		reqs := srv.Requests()
		del := reqs[len(reqs)-1]
		if del.Method != http.MethodDelete || del.Header.Get(client.HeaderContext) != "v1:1,2" || del.Query.Get("w") != "2" {
			t.Fatalf("delete sent %s context %q query %v, want DELETE with the read's v1:1,2 and w=2",
				del.Method, del.Header.Get(client.HeaderContext), del.Query)
		}
		dhtctl(t, env, "", "get", "k").want(t, exitError)
	})
	t.Run("with context", func(t *testing.T) {
		srv, env, c := newFake(t)
		mustPut(t, c, "k", "a", "")
		mustPut(t, c, "k", "b", "")
		n := len(srv.Requests())
		r := dhtctl(t, env, "", "delete", "k", "--context", "v1:1")
		r.want(t, exitOK)
		if got := len(srv.Requests()) - n; got != 1 {
			t.Fatalf("sent %d requests, want only the delete", got)
		}
		// Only the covered sibling is gone.
		obj, err := c.Get(t.Context(), "k", nil)
		if err != nil || !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != "b" {
			t.Fatalf("after delete: %+v, %v; want sibling b left", obj, err)
		}
	})
	t.Run("not found writes nothing", func(t *testing.T) {
		srv, env, _ := newFake(t)
		r := dhtctl(t, env, "", "delete", "missing")
		r.want(t, exitError)
		if !strings.Contains(r.stderr, "not found") {
			t.Fatalf("stderr = %q", r.stderr)
		}
		for _, req := range srv.Requests() {
			if req.Method != http.MethodGet {
				t.Fatalf("sent a %s for a missing key", req.Method)
			}
		}
	})
}

func TestResolve(t *testing.T) {
	t.Run("replaces all siblings", func(t *testing.T) {
		srv, env, c := newFake(t)
		for _, v := range []string{"x", "y", "z"} {
			mustPut(t, c, "k", v, "text/plain")
		}
		r := dhtctl(t, env, "", "resolve", "k", "--value", "merged", "--w", "3")
		r.want(t, exitOK)
		if r.stdout != "" || r.stderr != "replaced 3 sibling(s)\ncontext: v1:4\netag: \"v1:4\"\n" {
			t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
		}
		put := srv.LastRequest()
		if put.Header.Get(client.HeaderContext) != "v1:1,2,3" || put.Header.Get("Content-Type") != "text/plain" || put.Query.Get("w") != "3" {
			t.Fatalf("write-back context %q type %q query %v: want the read's context, the common type, w=3",
				put.Header.Get(client.HeaderContext), put.Header.Get("Content-Type"), put.Query)
		}
		obj, err := c.Get(t.Context(), "k", nil)
		if err != nil || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != "merged" {
			t.Fatalf("after resolve: %+v, %v", obj, err)
		}
	})
	t.Run("value from stdin, mixed content types", func(t *testing.T) {
		srv, env, c := newFake(t)
		mustPut(t, c, "k", "x", "text/plain")
		mustPut(t, c, "k", "y", "application/json")
		dhtctl(t, env, "piped", "resolve", "k", "--value", "-").want(t, exitOK)
		put := srv.LastRequest()
		if string(put.Body) != "piped" || put.Header.Get("Content-Type") != client.DefaultContentType {
			t.Fatalf("wrote %q as %q, want stdin's value with the default type", put.Body, put.Header.Get("Content-Type"))
		}
	})
	t.Run("explicit content type", func(t *testing.T) {
		srv, env, c := newFake(t)
		mustPut(t, c, "k", "x", "text/plain")
		dhtctl(t, env, "", "resolve", "k", "--value", "{}", "--content-type", "application/json").want(t, exitOK)
		if got := srv.LastRequest().Header.Get("Content-Type"); got != "application/json" {
			t.Fatalf("content type %q, want application/json", got)
		}
	})
	t.Run("not found writes nothing", func(t *testing.T) {
		srv, env, _ := newFake(t)
		r := dhtctl(t, env, "", "resolve", "missing", "--value", "v")
		r.want(t, exitError)
		if !strings.Contains(r.stderr, "not found") {
			t.Fatalf("stderr = %q", r.stderr)
		}
		if got := srv.LastRequest().Method; got != http.MethodGet {
			t.Fatalf("last request %s, want only the read", got)
		}
	})
}

// TestPut_Conditional: --if-none-match alone creates only; --if-match
// writes only while the key's ETag is the one given; a failed condition
// exits 1 with the 412 and writes nothing.
func TestPut_Conditional(t *testing.T) {
	srv, env, _ := newFake(t)
	dhtctl(t, env, "", "put", "k", "v1", "--if-none-match").want(t, exitOK)
	if got := srv.LastRequest().Header.Get("If-None-Match"); got != "*" {
		t.Fatalf("--if-none-match sent If-None-Match %q, want *", got)
	}
	r := dhtctl(t, env, "", "put", "k", "v2", "--if-none-match")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "412 precondition_failed") {
		t.Fatalf("stderr = %q, want the 412", r.stderr)
	}

	r = dhtctl(t, env, "", "put", "k", "v2", "--if-match", `"v1:1"`)
	r.want(t, exitOK)
	if got := srv.LastRequest().Header.Get("If-Match"); got != `"v1:1"` {
		t.Fatalf("--if-match sent If-Match %q", got)
	}
	dhtctl(t, env, "", "put", "k", "v3", "--if-match", `"v1:1"`).want(t, exitError)
	if n := srv.Siblings("k"); n != 1 {
		t.Errorf("the key has %d siblings, want 1 (the conditional write replaced, the stale one wrote nothing)", n)
	}

	// delete --if-match sends no read first.
	before := len(srv.Requests())
	dhtctl(t, env, "", "delete", "k", "--if-match", `"v1:2"`).want(t, exitOK)
	if reqs := srv.Requests(); len(reqs) != before+1 || reqs[len(reqs)-1].Header.Get("If-Match") != `"v1:2"` {
		t.Fatalf("delete --if-match sent %d requests, the last with If-Match %q; want one DELETE with it", len(reqs)-before, reqs[len(reqs)-1].Header.Get("If-Match"))
	}
}

func TestPut_TTL(t *testing.T) {
	srv, env, _ := newFake(t)
	r := dhtctl(t, env, "", "put", "--ttl", "30s", "k", "v")
	r.want(t, exitOK)
	if q := srv.LastRequest().Query; q.Get("ttl") != "30s" {
		t.Fatalf("query = %v, want ttl=30s", q)
	}
	// The fake's clock starts at 12:00:00 and moves 1ms per write.
	const expires = "expires: 2026-11-25T12:00:30.001Z\n"
	if !strings.HasSuffix(r.stderr, expires) {
		t.Fatalf("put stderr = %q, want it to end with %q", r.stderr, expires)
	}
	get := dhtctl(t, env, "", "get", "k")
	get.want(t, exitOK)
	if get.stdout != "v" || !strings.HasSuffix(get.stderr, expires) {
		t.Fatalf("get: stdout %q, stderr %q; want v and %q", get.stdout, get.stderr, expires)
	}
	js := dhtctl(t, env, "", "get", "--json", "k")
	js.want(t, exitOK)
	if !strings.Contains(js.stdout, `"expires": "2026-11-25T12:00:30.001Z"`) {
		t.Fatalf("get --json = %s, want the sibling's expires", js.stdout)
	}
	srv.Advance(31 * time.Second)
	dhtctl(t, env, "", "get", "k").want(t, exitError)

	dhtctl(t, env, "", "put", "k", "v").want(t, exitOK)
	if q := srv.LastRequest().Query; q.Has("ttl") {
		t.Fatalf("query = %v without --ttl, want no ttl", q)
	}
	// Not a duration: refused before anything is sent.
	before := len(srv.Requests())
	r = dhtctl(t, env, "", "put", "--ttl", "30", "k", "v")
	r.want(t, exitUsage)
	if !strings.Contains(r.stderr, "--ttl") {
		t.Fatalf("stderr = %q, want it to name --ttl", r.stderr)
	}
	if n := len(srv.Requests()); n != before {
		t.Fatalf("%d requests sent with a bad --ttl", n-before)
	}
	// Out of range: the node's answer.
	r = dhtctl(t, env, "", "put", "--ttl", "500ms", "k", "v")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "400 bad_ttl") {
		t.Fatalf("stderr = %q, want the node's 400 bad_ttl", r.stderr)
	}
}
