package client_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/dhtkv/dht/client"
)

// FuzzGet feeds arbitrary answers to Get: whatever a server or proxy sends,
// the client must return an object or an error, never panic, and a returned
// object must be self-consistent.
func FuzzGet(f *testing.F) {
	f.Add(200, "text/plain", "ctx", []byte("hello"))
	f.Add(300, "application/json", "ctx", []byte(`{"siblings":[{"value":"aGk=","content_type":"text/plain","timestamp":"2026-11-25T12:00:00.123Z"}]}`))
	f.Add(300, "application/json", "", []byte(`{"siblings":[{"value":1}]}`))
	f.Add(404, "application/json", "tomb", []byte(`{"error":"not found"}`))
	f.Add(404, "text/plain", "", []byte("404 page not found"))
	f.Add(503, "application/json", "", []byte(`{"error":"x","code":"timeout","indeterminate":true}`))
	f.Add(400, "application/json", "", []byte(`{"error":`))
	f.Fuzz(func(t *testing.T, status int, contentType, token string, body []byte) {
		if status < 100 || status > 999 {
			return // not an HTTP status; net/http rejects it before the client sees it
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			h.Set("Content-Type", contentType)
			if token != "" {
				h.Set(client.HeaderContext, token)
			}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		c, err := client.New("http://fuzz", client.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := c.Get(t.Context(), "k", nil)
		if err != nil {
			if obj != nil {
				t.Fatalf("Get returned both %+v and %v", obj, err)
			}
			return
		}
		if obj.Found != (len(obj.Siblings) > 0) {
			t.Fatalf("Found = %v with %d siblings", obj.Found, len(obj.Siblings))
		}
		for _, s := range obj.Siblings {
			if s.Value == nil {
				t.Fatalf("nil sibling value in %+v", obj)
			}
		}
	})
}
