package client_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

// canned answers every request with a fixed response, for decoding tests
// that a fake with real behaviour cannot provoke.
func canned(t *testing.T, status int, header map[string]string, body string) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL)
}

func newClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", url, err)
	}
	return c
}

func fake(t *testing.T, token string) (*clienttest.Server, *client.Client) {
	t.Helper()
	srv := clienttest.NewServer(token)
	t.Cleanup(srv.Close)
	return srv, newClient(t, srv.URL, client.WithToken(token))
}

func TestNew_ValidatesURL(t *testing.T) {
	tests := []struct {
		url  string
		ok   bool
		want string // substring of the error
	}{
		{url: "http://127.0.0.1:8080", ok: true},
		{url: "https://node-0.dht:8443/", ok: true},
		{url: "http://proxy/dht/", ok: true},
		{url: "", want: "scheme"},
		{url: "127.0.0.1:8080", want: "base URL"},
		{url: "ftp://host", want: "scheme"},
		{url: "http://", want: "missing host"},
		{url: "http://host?x=1", want: "query"},
		{url: "http://host#frag", want: "fragment"},
		{url: "http://host:port:bad\x7f", want: "base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := client.New(tt.url)
			if tt.ok {
				if err != nil {
					t.Fatalf("New(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%q) = %v, want error containing %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestClient_GetDecodesAnswers(t *testing.T) {
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		want    *client.Object
		wantErr *client.Error // nil when any non-*Error error is wanted too
		anyErr  bool
	}{
		{
			name:   "200 one value",
			status: 200,
			header: map[string]string{"Content-Type": "text/plain", "X-Dht-Context": "ctx1"},
			body:   "hello",
			want: &client.Object{Key: "k", Found: true, Context: "ctx1",
				Siblings: []client.Sibling{{Value: []byte("hello"), ContentType: "text/plain"}}},
		},
		{
			name:   "200 empty value",
			status: 200,
			header: map[string]string{"Content-Type": "application/octet-stream", "X-Dht-Context": "c"},
			want: &client.Object{Key: "k", Found: true, Context: "c",
				Siblings: []client.Sibling{{Value: []byte{}, ContentType: "application/octet-stream"}}},
		},
		{
			name:   "300 siblings",
			status: 300,
			header: map[string]string{"Content-Type": "application/json", "X-Dht-Context": "both"},
			body: `{"siblings":[
				{"value":"aGVsbG8=","content_type":"text/plain","timestamp":"2026-11-25T12:00:00.123Z"},
				{"value":"","content_type":"application/octet-stream","timestamp":"2026-11-25T12:00:01Z"}]}`,
			want: &client.Object{Key: "k", Found: true, Context: "both", Siblings: []client.Sibling{
				{Value: []byte("hello"), ContentType: "text/plain", Timestamp: ts("2026-11-25T12:00:00.123Z")},
				{Value: []byte{}, ContentType: "application/octet-stream", Timestamp: ts("2026-11-25T12:00:01Z")},
			}},
		},
		{
			name:   "300 malformed JSON",
			status: 300,
			header: map[string]string{"Content-Type": "application/json"},
			body:   `{"siblings":[{"value":"not base64!"}]}`,
			anyErr: true,
		},
		{
			name:   "300 without siblings",
			status: 300,
			body:   `{"siblings":[]}`,
			anyErr: true,
		},
		{
			name:   "404 with context is not found",
			status: 404,
			header: map[string]string{"Content-Type": "application/json", "X-Dht-Context": "tomb"},
			body:   `{"error":"not found"}`,
			want:   &client.Object{Key: "k", Context: "tomb"},
		},
		{
			name:   "404 JSON without context is not found",
			status: 404,
			header: map[string]string{"Content-Type": "application/json"},
			body:   `{"error":"not found"}`,
			want:   &client.Object{Key: "k"},
		},
		{
			name:    "404 of a wrong route is an error",
			status:  404,
			header:  map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			body:    "404 page not found\n",
			wantErr: &client.Error{Status: 404, Message: "404 page not found"},
		},
		{
			name:    "400 bad quorum",
			status:  400,
			header:  map[string]string{"Content-Type": "application/json"},
			body:    `{"error":"r=5 exceeds n=3","code":"bad_quorum"}`,
			wantErr: &client.Error{Status: 400, Code: "bad_quorum", Message: "r=5 exceeds n=3"},
		},
		{
			name:    "401",
			status:  401,
			body:    `{"error":"missing bearer token","code":"unauthorized"}`,
			wantErr: &client.Error{Status: 401, Code: "unauthorized", Message: "missing bearer token"},
		},
		{
			name:    "414",
			status:  414,
			body:    `{"error":"key is 2000 bytes, limit 1024","code":"key_too_long"}`,
			wantErr: &client.Error{Status: 414, Code: "key_too_long", Message: "key is 2000 bytes, limit 1024"},
		},
		{
			name:    "503 unavailable",
			status:  503,
			body:    `{"error":"1 of 2 replicas answered","code":"unavailable"}`,
			wantErr: &client.Error{Status: 503, Code: "unavailable", Message: "1 of 2 replicas answered"},
		},
		{
			name:    "503 from a proxy is not indeterminate for a read",
			status:  503,
			body:    "no healthy upstream",
			wantErr: &client.Error{Status: 503, Message: "no healthy upstream"},
		},
		{
			name:    "500 empty body",
			status:  500,
			wantErr: &client.Error{Status: 500},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := canned(t, tt.status, tt.header, tt.body)
			got, err := c.Get(t.Context(), "k", nil)
			switch {
			case tt.want != nil:
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				assertObject(t, got, tt.want)
			case tt.wantErr != nil:
				var e *client.Error
				if !errors.As(err, &e) {
					t.Fatalf("Get error = %v (%T), want *client.Error", err, err)
				}
				if *e != *tt.wantErr {
					t.Fatalf("Get error = %+v, want %+v", *e, *tt.wantErr)
				}
				if got != nil {
					t.Fatalf("Get returned object %+v with error", got)
				}
			case tt.anyErr:
				if err == nil {
					t.Fatalf("Get = %+v, want an error", got)
				}
			}
		})
	}
}

func assertObject(t *testing.T, got, want *client.Object) {
	t.Helper()
	if got.Key != want.Key || got.Found != want.Found || got.Context != want.Context {
		t.Fatalf("object = {Key:%q Found:%v Context:%q}, want {Key:%q Found:%v Context:%q}",
			got.Key, got.Found, got.Context, want.Key, want.Found, want.Context)
	}
	if len(got.Siblings) != len(want.Siblings) {
		t.Fatalf("got %d siblings, want %d: %+v", len(got.Siblings), len(want.Siblings), got.Siblings)
	}
	for i := range want.Siblings {
		g, w := got.Siblings[i], want.Siblings[i]
		if !bytes.Equal(g.Value, w.Value) || g.ContentType != w.ContentType || !g.Timestamp.Equal(w.Timestamp) {
			t.Errorf("sibling %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestClient_WriteDecodesAnswers(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		header        map[string]string
		body          string
		want          *client.WriteResult
		wantErr       *client.Error
		indeterminate bool
	}{
		{
			name:   "204",
			status: 204,
			header: map[string]string{"X-Dht-Context": "new", "X-Dht-Siblings": "1"},
			want:   &client.WriteResult{Context: "new", Siblings: 1},
		},
		{
			name:   "204 with concurrent siblings",
			status: 204,
			header: map[string]string{"X-Dht-Context": "new", "X-Dht-Siblings": "3"},
			want:   &client.WriteResult{Context: "new", Siblings: 3},
		},
		{
			name:   "204 with malformed sibling count is still acknowledged",
			status: 204,
			header: map[string]string{"X-Dht-Context": "new", "X-Dht-Siblings": "many"},
			want:   &client.WriteResult{Context: "new"},
		},
		{
			name:          "503 timeout is indeterminate",
			status:        503,
			body:          `{"error":"1 of 2 acks before the deadline","code":"timeout","indeterminate":true}`,
			wantErr:       &client.Error{Status: 503, Code: "timeout", Message: "1 of 2 acks before the deadline", Indeterminate: true},
			indeterminate: true,
		},
		{
			name:    "503 unavailable is determinate",
			status:  503,
			body:    `{"error":"1 of 2 replicas reachable","code":"unavailable"}`,
			wantErr: &client.Error{Status: 503, Code: "unavailable", Message: "1 of 2 replicas reachable"},
		},
		{
			name:          "504 from a gateway is indeterminate",
			status:        504,
			body:          "upstream timed out",
			wantErr:       &client.Error{Status: 504, Message: "upstream timed out", Indeterminate: true},
			indeterminate: true,
		},
		{
			name:    "409 too many siblings",
			status:  409,
			body:    `{"error":"key has 64 siblings, limit 64","code":"too_many_siblings"}`,
			wantErr: &client.Error{Status: 409, Code: "too_many_siblings", Message: "key has 64 siblings, limit 64"},
		},
		{
			name:    "413 too large",
			status:  413,
			body:    `{"error":"value is 2 MiB, limit 1 MiB","code":"too_large"}`,
			wantErr: &client.Error{Status: 413, Code: "too_large", Message: "value is 2 MiB, limit 1 MiB"},
		},
		{
			name:    "400 corrupt context",
			status:  400,
			body:    `{"error":"X-Dht-Context is corrupt","code":"bad_context"}`,
			wantErr: &client.Error{Status: 400, Code: "bad_context", Message: "X-Dht-Context is corrupt"},
		},
	}
	for _, tt := range tests {
		for _, op := range []string{"put", "delete"} {
			t.Run(tt.name+"/"+op, func(t *testing.T) {
				c := canned(t, tt.status, tt.header, tt.body)
				var got *client.WriteResult
				var err error
				if op == "put" {
					got, err = c.Put(t.Context(), "k", []byte("v"), nil)
				} else {
					got, err = c.Delete(t.Context(), "k", nil)
				}
				if tt.want != nil {
					if err != nil {
						t.Fatalf("%s: %v", op, err)
					}
					if *got != *tt.want {
						t.Fatalf("%s = %+v, want %+v", op, *got, *tt.want)
					}
					return
				}
				var e *client.Error
				if !errors.As(err, &e) {
					t.Fatalf("%s error = %v (%T), want *client.Error", op, err, err)
				}
				if *e != *tt.wantErr {
					t.Fatalf("%s error = %+v, want %+v", op, *e, *tt.wantErr)
				}
				if client.IsIndeterminate(err) != tt.indeterminate {
					t.Fatalf("IsIndeterminate(%v) = %v, want %v", err, !tt.indeterminate, tt.indeterminate)
				}
			})
		}
	}
}

func TestClient_KeyEscaping(t *testing.T) {
	srv, c := fake(t, "")
	tests := []struct {
		key  string
		wire string // escaped path segment after /v1/kv/
	}{
		{key: "plain", wire: "plain"},
		{key: "a/b/c", wire: "a%2Fb%2Fc"},
		{key: "with space", wire: "with%20space"},
		{key: "\xff\xfe\x00", wire: "%FF%FE%00"},
		{key: "ünï", wire: "%C3%BCn%C3%AF"},
		{key: "q?x=1#f", wire: "q%3Fx=1%23f"},
		{key: "%2F", wire: "%252F"},
		{key: "a/../b", wire: "a%2F..%2Fb"},
		{key: ".", wire: "%2E"},
		{key: "..", wire: "%2E%2E"},
		{key: "...", wire: "..."},
		{key: "+&;", wire: "+&%3B"},
	}
	for _, tt := range tests {
		t.Run(tt.wire, func(t *testing.T) {
			value := []byte("value of " + tt.key)
			if _, err := c.Put(t.Context(), tt.key, value, &client.WriteOptions{ContentType: "text/plain"}); err != nil {
				t.Fatalf("Put: %v", err)
			}
			req := srv.LastRequest()
			if req.EscapedPath != "/v1/kv/"+tt.wire || req.Key != tt.key {
				t.Fatalf("sent path %q (key %q), want /v1/kv/%s (key %q)", req.EscapedPath, req.Key, tt.wire, tt.key)
			}
			obj, err := c.Get(t.Context(), tt.key, nil)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !obj.Found || len(obj.Siblings) != 1 || !bytes.Equal(obj.Siblings[0].Value, value) {
				t.Fatalf("Get = %+v, want the value just put", obj)
			}
		})
	}
}

func TestClient_EmptyKey(t *testing.T) {
	_, c := fake(t, "")
	if _, err := c.Get(t.Context(), "", nil); !errors.Is(err, client.ErrEmptyKey) {
		t.Errorf("Get(\"\") = %v, want ErrEmptyKey", err)
	}
	if _, err := c.Put(t.Context(), "", nil, nil); !errors.Is(err, client.ErrEmptyKey) {
		t.Errorf("Put(\"\") = %v, want ErrEmptyKey", err)
	}
	if _, err := c.Delete(t.Context(), "", nil); !errors.Is(err, client.ErrEmptyKey) {
		t.Errorf("Delete(\"\") = %v, want ErrEmptyKey", err)
	}
}

func TestClient_Token(t *testing.T) {
	srv, c := fake(t, "s3cret")
	if _, err := c.Put(t.Context(), "k", []byte("v"), nil); err != nil {
		t.Fatalf("Put with token: %v", err)
	}
	if got := srv.LastRequest().Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Fatalf("Authorization = %q, want %q", got, "Bearer s3cret")
	}

	for name, opts := range map[string][]client.Option{
		"no token":    nil,
		"wrong token": {client.WithToken("guess")},
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, srv.URL, opts...)
			_, err := c.Get(t.Context(), "k", nil)
			var e *client.Error
			if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
				t.Fatalf("Get = %v, want a 401 *client.Error", err)
			}
		})
	}
}

func TestClient_QuorumParameters(t *testing.T) {
	srv, c := fake(t, "")
	if _, err := c.Put(t.Context(), "k", []byte("v"), &client.WriteOptions{W: 2, PW: 1}); err != nil {
		t.Fatal(err)
	}
	if q := srv.LastRequest().Query; q.Get("w") != "2" || q.Get("pw") != "1" {
		t.Errorf("put query = %v, want w=2 pw=1", q)
	}
	if _, err := c.Get(t.Context(), "k", &client.ReadOptions{R: 3}); err != nil {
		t.Fatal(err)
	}
	if q := srv.LastRequest().Query; q.Get("r") != "3" || q.Has("pr") {
		t.Errorf("get query = %v, want r=3 and no pr", q)
	}
	if _, err := c.Delete(t.Context(), "k", nil); err != nil {
		t.Fatal(err)
	}
	if q := srv.LastRequest().Query; len(q) != 0 {
		t.Errorf("delete query = %v, want none for server defaults", q)
	}

	_, err := c.Get(t.Context(), "k", &client.ReadOptions{R: 5})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "bad_quorum" || !strings.Contains(e.Message, "r=5") {
		t.Fatalf("Get with R=5 = %v, want 400 bad_quorum naming r=5", err)
	}
}

func TestClient_PutSendsContentTypeAndContext(t *testing.T) {
	srv, c := fake(t, "")
	res, err := c.Put(t.Context(), "k", []byte("v1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := srv.LastRequest()
	if got := req.Header.Get("Content-Type"); got != client.DefaultContentType {
		t.Errorf("default Content-Type = %q, want %q", got, client.DefaultContentType)
	}
	if req.Header.Get(client.HeaderContext) != "" {
		t.Errorf("first put sent a context: %q", req.Header.Get(client.HeaderContext))
	}
	if _, err := c.Put(t.Context(), "k", []byte("v2"), &client.WriteOptions{Context: res.Context, ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	req = srv.LastRequest()
	if req.Header.Get(client.HeaderContext) != res.Context || req.Header.Get("Content-Type") != "text/plain" || string(req.Body) != "v2" {
		t.Errorf("second put = %+v, want context %q, text/plain, body v2", req, res.Context)
	}
	if n := srv.Siblings("k"); n != 1 {
		t.Errorf("after a put with the previous context the key has %d siblings, want 1", n)
	}
}

func TestClient_SiblingsAndDelete(t *testing.T) {
	_, c := fake(t, "")
	ctx := t.Context()
	// Two writes without a context are concurrent.
	if _, err := c.Put(ctx, "k", []byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	res, err := c.Put(ctx, "k", []byte("b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Siblings != 2 {
		t.Fatalf("second blind put reports %d siblings, want 2", res.Siblings)
	}
	obj, err := c.Get(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !obj.Found || len(obj.Siblings) != 2 || obj.Siblings[0].Timestamp.IsZero() {
		t.Fatalf("Get = %+v, want 2 timestamped siblings", obj)
	}

	del, err := c.Delete(ctx, "k", &client.WriteOptions{Context: obj.Context})
	if err != nil {
		t.Fatal(err)
	}
	obj, err = c.Get(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Found || len(obj.Siblings) != 0 || obj.Context == "" {
		t.Fatalf("Get after delete = %+v, want not found with the tombstone's context", obj)
	}
	if del.Context == "" {
		t.Errorf("Delete returned no context")
	}
}

func TestClient_Update(t *testing.T) {
	srv, c := fake(t, "")
	ctx := t.Context()
	for _, v := range []string{"x", "y", "z"} {
		if _, err := c.Put(ctx, "set", []byte(v), &client.WriteOptions{ContentType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := c.Get(ctx, "set", nil)
	if err != nil {
		t.Fatal(err)
	}

	var seen []string
	res, err := c.Update(ctx, "set", func(sibs []client.Sibling) ([]byte, string, error) {
		for _, s := range sibs {
			seen = append(seen, string(s.Value))
		}
		return []byte(strings.Join(seen, ",")), "", nil
	}, &client.WriteOptions{W: 2, ContentType: "text/csv", Context: "ignored"})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if strings.Join(seen, ",") != "x,y,z" {
		t.Fatalf("resolver saw %v, want all three siblings", seen)
	}
	put := srv.LastRequest()
	if put.Method != http.MethodPut || put.Header.Get(client.HeaderContext) != before.Context {
		t.Fatalf("write-back = %s with context %q, want PUT with the read's context %q",
			put.Method, put.Header.Get(client.HeaderContext), before.Context)
	}
	if put.Query.Get("w") != "2" || put.Header.Get("Content-Type") != "text/csv" {
		t.Errorf("write-back query %v, content type %q: want w=2 and the options' text/csv", put.Query, put.Header.Get("Content-Type"))
	}
	if res.Siblings != 1 {
		t.Errorf("Update left %d siblings, want 1", res.Siblings)
	}
	after, err := c.Get(ctx, "set", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Siblings) != 1 || string(after.Siblings[0].Value) != "x,y,z" {
		t.Fatalf("after Update: %+v, want the single merged value", after)
	}
}

func TestClient_UpdateNotFoundAndDeleted(t *testing.T) {
	srv, c := fake(t, "")
	ctx := t.Context()

	called := false
	if _, err := c.Update(ctx, "fresh", func(sibs []client.Sibling) ([]byte, string, error) {
		called = true
		if sibs != nil {
			t.Errorf("resolver got %v for a missing key, want nil", sibs)
		}
		return []byte("first"), "text/plain", nil
	}, nil); err != nil || !called {
		t.Fatalf("Update on missing key: err %v, resolver called %v", err, called)
	}
	if got := srv.LastRequest().Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("content type = %q, want the resolver's text/plain", got)
	}

	// A deleted key: the write-back must carry the tombstone's context so
	// that it supersedes the delete instead of becoming its sibling.
	obj, _ := c.Get(ctx, "fresh", nil)
	if _, err := c.Delete(ctx, "fresh", &client.WriteOptions{Context: obj.Context}); err != nil {
		t.Fatal(err)
	}
	tomb, _ := c.Get(ctx, "fresh", nil)
	if _, err := c.Update(ctx, "fresh", func(sibs []client.Sibling) ([]byte, string, error) {
		return []byte("again"), "", nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if got := srv.LastRequest().Header.Get(client.HeaderContext); got == "" || got != tomb.Context {
		t.Fatalf("write-back context = %q, want the tombstone's %q", got, tomb.Context)
	}
	if n := srv.Siblings("fresh"); n != 1 {
		t.Fatalf("key has %d versions after resurrecting, want 1 (tombstone replaced)", n)
	}
}

func TestClient_UpdateResolverError(t *testing.T) {
	srv, c := fake(t, "")
	if _, err := c.Put(t.Context(), "k", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	n := len(srv.Requests())
	boom := errors.New("cannot merge")
	_, err := c.Update(t.Context(), "k", func([]client.Sibling) ([]byte, string, error) {
		return nil, "", boom
	}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want it to wrap the resolver's error", err)
	}
	if got := len(srv.Requests()); got != n+1 {
		t.Fatalf("Update sent %d requests, want only the read", got-n)
	}
	if _, err := c.Update(t.Context(), "k", nil, nil); err == nil {
		t.Fatal("Update with a nil resolver succeeded")
	}
}

func TestClient_UpdateReadErrorSkipsWrite(t *testing.T) {
	srv, c := fake(t, "")
	srv.Fail("k", clienttest.Failure{Method: http.MethodGet, Status: 503, Code: "unavailable", Message: "no replicas"})
	_, err := c.Update(t.Context(), "k", func([]client.Sibling) ([]byte, string, error) {
		t.Error("resolver called after a failed read")
		return nil, "", nil
	}, nil)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "unavailable" {
		t.Fatalf("Update = %v, want the read's 503", err)
	}
}

func TestIsIndeterminate_TransportErrors(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name string
		url  string
		call func(context.Context, *client.Client) error
		want bool
	}{
		{"put timed out after sending", slow.URL, func(ctx context.Context, c *client.Client) error {
			_, err := c.Put(ctx, "k", []byte("v"), nil)
			return err
		}, true},
		{"delete timed out after sending", slow.URL, func(ctx context.Context, c *client.Client) error {
			_, err := c.Delete(ctx, "k", nil)
			return err
		}, true},
		{"get timed out is only a failed read", slow.URL, func(ctx context.Context, c *client.Client) error {
			_, err := c.Get(ctx, "k", nil)
			return err
		}, false},
		{"put refused connection never sent", closedURL, func(ctx context.Context, c *client.Client) error {
			_, err := c.Put(ctx, "k", []byte("v"), nil)
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.url)
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			err := tt.call(ctx, c)
			if err == nil {
				t.Fatal("call succeeded, want a transport error")
			}
			if got := client.IsIndeterminate(err); got != tt.want {
				t.Fatalf("IsIndeterminate(%v) = %v, want %v", err, got, tt.want)
			}
			if tt.url == slow.URL && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
		})
	}

	t.Run("deadline while dialling: never sent", func(t *testing.T) {
		// A dial that lasts past the deadline (a slow network, a loaded
		// machine): the request never left, so a write's outcome is
		// known, whatever the error's words.
		var dials atomic.Int32
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			dials.Add(1)
			<-ctx.Done()
			return nil, ctx.Err()
		}}}
		c := newClient(t, slow.URL, client.WithHTTPClient(hc))
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Put(ctx, "k", []byte("v"), nil)
		if err == nil || client.IsIndeterminate(err) || dials.Load() == 0 {
			t.Fatalf("Put whose dial outlasted the deadline = %v (%d dials), want a determinate failure", err, dials.Load())
		}
	})
	t.Run("context done before sending", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := newClient(t, slow.URL).Put(ctx, "k", nil, nil)
		if !errors.Is(err, context.Canceled) || client.IsIndeterminate(err) {
			t.Fatalf("Put with a done context = %v, want a determinate context.Canceled", err)
		}
	})
	t.Run("nil and foreign errors", func(t *testing.T) {
		if client.IsIndeterminate(nil) || client.IsIndeterminate(errors.New("x")) {
			t.Fatal("IsIndeterminate true for an unrelated error")
		}
	})
}

func TestClient_RefusesMethodChangingRedirect(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // a GET here would look like success
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()

	c := newClient(t, redirector.URL)
	_, err := c.Put(t.Context(), "k", []byte("v"), nil)
	if err == nil || !strings.Contains(err.Error(), "redirected") {
		t.Fatalf("Put through a 302 = %v, want a redirect error", err)
	}
}

func TestClient_BasePathPrefix(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL+"/dht/")
	if _, err := c.Put(t.Context(), "a/b", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got != "/dht/v1/kv/a%2Fb" {
		t.Fatalf("path = %q, want /dht/v1/kv/a%%2Fb", got)
	}
}

func TestClient_Health(t *testing.T) {
	_, c := fake(t, "")
	if err := c.Health(t.Context()); err != nil {
		t.Fatalf("Health: %v", err)
	}
	c = canned(t, 503, nil, `{"error":"storage closed","code":"unavailable"}`)
	var e *client.Error
	if err := c.Health(t.Context()); !errors.As(err, &e) || e.Status != 503 {
		t.Fatalf("Health = %v, want a 503 *client.Error", err)
	}
}

func TestClient_WithHTTPClient(t *testing.T) {
	used := false
	srv, _ := fake(t, "")
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, srv.URL, client.WithHTTPClient(hc), client.WithHTTPClient(nil))
	if _, err := c.Get(t.Context(), "k", nil); err != nil {
		t.Fatal(err)
	}
	if !used {
		t.Fatal("the given http.Client was not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestError_Error(t *testing.T) {
	tests := []struct {
		err  client.Error
		want string
	}{
		{client.Error{Status: 400, Code: "bad_quorum", Message: "r=5 exceeds n=3"}, "dht: 400 bad_quorum: r=5 exceeds n=3"},
		{client.Error{Status: 502}, "dht: 502: bad gateway"},
		{client.Error{Status: 503, Code: "timeout", Message: "deadline", Indeterminate: true},
			"dht: 503 timeout: deadline (outcome unknown: the write may still be applied)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestClient_ConditionalWrites sends IfMatch and IfNoneMatch as the HTTP
// headers, hands out the ETag of reads and writes, and reports a refused
// condition as ErrPreconditionFailed.
func TestClient_ConditionalWrites(t *testing.T) {
	srv, c := fake(t, "")
	ctx := t.Context()
	created, err := c.Put(ctx, "k", []byte("v1"), &client.WriteOptions{IfNoneMatch: "*"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := srv.LastRequest().Header.Get("If-None-Match"); got != "*" {
		t.Errorf("If-None-Match sent = %q, want *", got)
	}
	if created.ETag == "" {
		t.Error("WriteResult.ETag is empty")
	}
	_, err = c.Put(ctx, "k", []byte("again"), &client.WriteOptions{IfNoneMatch: "*"})
	if !errors.Is(err, client.ErrPreconditionFailed) || errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second create: %v, want ErrPreconditionFailed", err)
	}

	obj, err := c.Get(ctx, "k", nil)
	if err != nil || obj.ETag != created.ETag {
		t.Fatalf("Get = %+v, %v; want the write's ETag %q", obj, err, created.ETag)
	}
	updated, err := c.Put(ctx, "k", []byte("v2"), &client.WriteOptions{IfMatch: obj.ETag})
	if err != nil {
		t.Fatalf("put If-Match current: %v", err)
	}
	if got := srv.LastRequest().Header.Get("If-Match"); got != obj.ETag {
		t.Errorf("If-Match sent = %q, want %q", got, obj.ETag)
	}
	if updated.Siblings != 1 {
		t.Errorf("put If-Match left %d siblings, want 1", updated.Siblings)
	}
	if _, err := c.Delete(ctx, "k", &client.WriteOptions{IfMatch: obj.ETag}); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Fatalf("delete If-Match stale: %v, want ErrPreconditionFailed", err)
	}
}

// TestClient_DeleteWithoutContext: the node reads first and deletes what it
// saw; a key without a live value is ErrNotFound, and a route's 404 is not.
func TestClient_DeleteWithoutContext(t *testing.T) {
	_, c := fake(t, "")
	ctx := t.Context()
	for _, v := range []string{"a", "b"} {
		if _, err := c.Put(ctx, "k", []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Delete(ctx, "k", nil)
	if err != nil {
		t.Fatalf("Delete without a context: %v", err)
	}
	if res.Siblings != 0 {
		t.Errorf("Delete reports %d live siblings, want 0", res.Siblings)
	}
	if obj, err := c.Get(ctx, "k", nil); err != nil || obj.Found {
		t.Fatalf("Get after Delete = %+v, %v; want not found", obj, err)
	}
	if _, err := c.Delete(ctx, "k", nil); !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrPreconditionFailed) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
}
