package gateway_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/wire"
)

// Secrets of the context tests: the cluster's, the one it rotated from,
// and another cluster's.
const (
	contextSecret  = "0123456789abcdef-this-cluster"
	previousSecret = "0123456789abcdef-rotated-from"
	foreignSecret  = "0123456789abcdef-other-cluster"
)

// TestGateway_ContextSecret: with security.context_secret set, the node
// takes back only the contexts it (or a node on the previous secret)
// issued. A client cannot forge one, not even with a valid v1 checksum,
// nor bring one from another cluster, nor alter one.
func TestGateway_ContextSecret(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *config.Config) {
		c.Security.ContextSecret = contextSecret
		c.Security.PreviousContextSecret = previousSecret
	})
	cluster := wire.ContextCodec{Secret: []byte(contextSecret)}
	// forge claims that the client has seen far more than anyone wrote:
	// accepted, it would replace siblings the client never read.
	forge := func(key string, good string) dvv.VersionVector {
		vv, err := cluster.Decode([]byte(key), good)
		if err != nil {
			t.Fatalf("the node's own token: %v", err)
		}
		out := append(dvv.VersionVector(nil), vv...)
		for i := range out {
			out[i].Counter += 1 << 40
		}
		return out
	}
	tests := []struct {
		name string
		// token derives the context sent from the key and the context the
		// node last returned for it.
		token     func(key, good string) string
		wantOK    bool
		wantInMsg []string
	}{
		{name: "the node's own token", wantOK: true,
			token: func(_, good string) string { return good }},
		{name: "a token under the previous secret", wantOK: true,
			token: func(key, good string) string {
				vv, _ := cluster.Decode([]byte(key), good)
				return wire.ContextCodec{Secret: []byte(previousSecret)}.Encode([]byte(key), vv)
			}},
		{name: "forged v1 with a valid checksum",
			token:     func(key, good string) string { return wire.ContextCodec{}.Encode([]byte(key), forge(key, good)) },
			wantInMsg: []string{"X-Dht-Context", "not issued by this cluster or was altered"}},
		{name: "the node's own context as v1",
			token: func(key, good string) string {
				vv, _ := cluster.Decode([]byte(key), good)
				return wire.EncodeContext([]byte(key), vv)
			},
			wantInMsg: []string{"not issued by this cluster"}},
		{name: "a token of another cluster",
			token: func(key, good string) string {
				return wire.ContextCodec{Secret: []byte(foreignSecret)}.Encode([]byte(key), forge(key, good))
			},
			wantInMsg: []string{"not issued by this cluster or was altered"}},
		{name: "a tampered byte",
			token: func(_, good string) string {
				raw, err := base64.RawURLEncoding.DecodeString(good)
				if err != nil {
					t.Fatal(err)
				}
				raw[len(raw)/2] ^= 0x01
				return base64.RawURLEncoding.EncodeToString(raw)
			},
			wantInMsg: []string{"not issued by this cluster or was altered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "ctx-" + strings.ReplaceAll(tt.name, " ", "-")
			good := n.mustPut(t, key, "original", "")
			for _, method := range []string{http.MethodPut, http.MethodDelete} {
				if tt.wantOK && method == http.MethodDelete {
					continue // the PUT consumed it
				}
				h := http.Header{"Content-Type": {"text/plain"}, "X-Dht-Context": {tt.token(key, good)}}
				var body []byte
				if method == http.MethodPut {
					body = []byte("replacement")
				}
				resp := n.do(t, method, keyPath(key), h, body)
				if tt.wantOK {
					if resp.status != http.StatusNoContent {
						t.Fatalf("%s = %d %s, want 204", method, resp.status, resp.body)
					}
					// It replaced the value rather than becoming a sibling.
					n.wantValue(t, key, "replacement")
					continue
				}
				if resp.status != http.StatusBadRequest {
					t.Fatalf("%s = %d %s, want 400", method, resp.status, resp.body)
				}
				e := decodeError(t, resp)
				if e.Code != "bad_context" {
					t.Errorf("code = %q, want bad_context", e.Code)
				}
				for _, s := range tt.wantInMsg {
					if !strings.Contains(e.Error, s) {
						t.Errorf("error %q does not mention %q", e.Error, s)
					}
				}
				// Nothing changed.
				if got := n.wantValue(t, key, "original").header.Get("X-Dht-Context"); got != good {
					t.Errorf("context after the refused %s = %q, want %q", method, got, good)
				}
			}
		})
	}
}

// TestGateway_ContextWithoutSecret: without a secret, the node issues and
// takes v1 tokens as before, and refuses a signed one, saying that the
// nodes' secrets differ.
func TestGateway_ContextWithoutSecret(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	good := n.mustPut(t, "k", "v1", "")
	vv, err := wire.ContextCodec{}.Decode([]byte("k"), good)
	if err != nil {
		t.Fatalf("the node's token is not v1: %v", err)
	}
	signed := wire.ContextCodec{Secret: []byte(contextSecret)}.Encode([]byte("k"), vv)
	resp := n.put(t, "k", "v2", signed)
	if resp.status != http.StatusBadRequest {
		t.Fatalf("PUT with a signed token = %d %s, want 400", resp.status, resp.body)
	}
	if e := decodeError(t, resp); e.Code != "bad_context" || !strings.Contains(e.Error, "security.context_secret") {
		t.Errorf("error %q (%s), want bad_context naming security.context_secret", e.Error, e.Code)
	}
	n.mustPut(t, "k", "v2", good)
	n.wantValue(t, "k", "v2")
}
