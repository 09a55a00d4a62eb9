package clienttest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

// TestServer_InterleavedWritersBoundSiblings checks the fake's causality
// model against the store's promise: two clients that each write back the
// context of their own last write never leave more than two siblings.
func TestServer_InterleavedWritersBoundSiblings(t *testing.T) {
	srv := clienttest.NewServer("")
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var ctxs [2]string
	for i := range 200 {
		w := i % 2
		res, err := c.Put(t.Context(), "k", []byte{byte(i)}, &client.WriteOptions{Context: ctxs[w]})
		if err != nil {
			t.Fatal(err)
		}
		ctxs[w] = res.Context
		if res.Siblings > 2 || srv.Siblings("k") > 2 {
			t.Fatalf("write %d left %d siblings, want at most 2", i, res.Siblings)
		}
	}
}

func TestServer_FailAndClear(t *testing.T) {
	srv := clienttest.NewServer("")
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv.Fail("k", clienttest.Failure{Method: "PUT", Status: 503, Code: "timeout", Indeterminate: true, Apply: true})
	if _, err := c.Put(t.Context(), "k", []byte("v"), nil); !client.IsIndeterminate(err) {
		t.Fatalf("Put = %v, want an indeterminate error", err)
	}
	obj, err := c.Get(t.Context(), "k", nil)
	if err != nil || !obj.Found {
		t.Fatalf("Get after an applied failure = %+v, %v; want the value to have landed", obj, err)
	}
	srv.Fail("k", clienttest.Failure{})
	if _, err := c.Put(t.Context(), "k", []byte("v"), &client.WriteOptions{Context: obj.Context}); err != nil {
		t.Fatalf("Put after clearing the failure: %v", err)
	}
}

// TestServer_NotFoundBodyIsTheGateways: a missing key is a 404 whose body is
// api.Error with code not_found, as the gateway answers, so that clients
// tested against the fake decode what the store sends.
func TestServer_NotFoundBodyIsTheGateways(t *testing.T) {
	srv := clienttest.NewServer("")
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/kv/missing")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body api.Error
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNotFound || body.Code != api.CodeNotFound || body.Error == "" {
		t.Fatalf("GET of a missing key: %d %+v, want 404 with code %q", resp.StatusCode, body, api.CodeNotFound)
	}
}
