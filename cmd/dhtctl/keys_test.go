package main

import (
	"testing"

	"github.com/dhtkv/dht/api"
)

// TestKV_KeysSentEscaped: dhtctl sends every key as api.KVPath writes it,
// "." and ".." as %2E and %2E%2E, so that no path cleaning on the way can
// turn them into another path; each is stored under the key given.
func TestKV_KeysSentEscaped(t *testing.T) {
	for _, key := range []string{".", "..", "a/b", "100%", "a b", "é"} {
		t.Run(key, func(t *testing.T) {
			srv, env, _ := newFake(t)
			dhtctl(t, env, "", "put", key, "v").want(t, exitOK)
			req := srv.LastRequest()
			if req.EscapedPath != api.KVPath(key) || req.Key != key {
				t.Fatalf("put %q sent path %q (key %q), want %q", key, req.EscapedPath, req.Key, api.KVPath(key))
			}
			r := dhtctl(t, env, "", "get", key)
			r.want(t, exitOK)
			if r.stdout != "v" {
				t.Fatalf("get %q = %q, want v", key, r.stdout)
			}
		})
	}
}
