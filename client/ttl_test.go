package client_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
)

func TestClient_TTL(t *testing.T) {
	srv, c := fake(t, "")
	if _, err := c.Put(t.Context(), "k", []byte("v"), &client.WriteOptions{TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if q := srv.LastRequest().Query; q.Get("ttl") != "30s" {
		t.Errorf("put query = %v, want ttl=30s", q)
	}
	if _, err := c.Put(t.Context(), "k", []byte("v"), &client.WriteOptions{TTL: 90 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if ttl, err := time.ParseDuration(srv.LastRequest().Query.Get("ttl")); err != nil || ttl != 90*time.Minute {
		t.Errorf("put ttl %q (%v), want a Go duration of 90m", srv.LastRequest().Query.Get("ttl"), err)
	}
	if _, err := c.Put(t.Context(), "k", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if q := srv.LastRequest().Query; q.Has("ttl") {
		t.Errorf("put without TTL sent %v", q)
	}
	if _, err := c.Delete(t.Context(), "k", &client.WriteOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if q := srv.LastRequest().Query; q.Has("ttl") {
		t.Errorf("delete sent %v; a delete takes no ttl", q)
	}
}

func TestClient_Expires(t *testing.T) {
	const at = "2030-01-02T03:04:05.678Z"
	want, _ := time.Parse(time.RFC3339Nano, at)
	hdr := map[string]string{"X-Dht-Context": "c", "X-Dht-Expires": at, "Content-Type": "text/plain"}

	obj, err := canned(t, http.StatusOK, hdr, "v").Get(t.Context(), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !obj.Expires.Equal(want) || !obj.Siblings[0].Expires.Equal(want) {
		t.Errorf("Get: Expires %v, sibling's %v; want %v", obj.Expires, obj.Siblings[0].Expires, want)
	}
	sibs := `{"siblings":[{"value":"YQ==","content_type":"text/plain","timestamp":"2030-01-01T00:00:00Z","expires":"` + at + `"},` +
		`{"value":"Yg==","content_type":"text/plain","timestamp":"2030-01-01T00:00:00Z"}]}`
	obj, err = canned(t, http.StatusMultipleChoices, hdr, sibs).Get(t.Context(), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !obj.Siblings[0].Expires.Equal(want) || !obj.Siblings[1].Expires.IsZero() || !obj.Expires.Equal(want) {
		t.Errorf("Get 300: siblings' expiries %v, %v and the object's %v", obj.Siblings[0].Expires, obj.Siblings[1].Expires, obj.Expires)
	}
	res, err := canned(t, http.StatusNoContent, hdr, "").Put(t.Context(), "k", []byte("v"), &client.WriteOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Expires.Equal(want) {
		t.Errorf("Put: Expires %v, want %v", res.Expires, want)
	}
	obj, err = canned(t, http.StatusOK, map[string]string{"X-Dht-Context": "c"}, "v").Get(t.Context(), "k", nil)
	if err != nil || !obj.Expires.IsZero() {
		t.Errorf("Get without X-Dht-Expires: %v, Expires %v; want zero", err, obj.Expires)
	}
}
