package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/wire"
)

// FuzzServeKV sends arbitrary requests to a real in-process node over a raw
// TCP connection, so that net/http's client does not tidy the input first.
// Every request must get an answer, never a 5xx other than 503, and no
// handler may panic (startNode fails the test on a recovered panic). The
// node has a context secret, so contexts go through v2 decoding; the seeds
// hold a v2 token of it, a v1 token and one of another secret.
func FuzzServeKV(f *testing.F) {
	vv := dvv.NewVersionVector(dvv.Dot{Actor: 7, Counter: 3})
	signed := wire.ContextCodec{Secret: []byte(contextSecret)}.Encode([]byte("a"), vv)
	foreign := wire.ContextCodec{Secret: []byte(foreignSecret)}.Encode([]byte("a"), vv)
	seeds := []struct {
		method, path, query, ctx, contentType string
		body                                  []byte
	}{
		{"GET", "/v1/kv/a", "", "", "", nil},
		{"PUT", "/v1/kv/a", "", "", "text/plain", []byte("v")},
		{"PUT", "/v1/kv/a%2Fb", "w=1", "", "application/json; charset=utf-8", []byte("{}")},
		{"DELETE", "/v1/kv/a", "", "AQ", "", nil},
		{"PUT", "/v1/kv/a", "", "AQmsFmpRa5fUlhISCctCl4_Cv6abENTdo6yVo5gDnEGhOQ", "text/plain", []byte("v")},
		{"PUT", "/v1/kv/", "W=1", "", "", []byte("v")},
		{"GET", "/v1/kv/a", "r=0&pr=%zz", "", "", nil},
		{"PUT", "/v1/kv/%FF%00", "w=1;pw=1", "", "text/", bytes.Repeat([]byte("x"), 100)},
		{"POST", "/v1/kv/a", "", "", "", []byte("v")},
		{"GET", "/v1/kv/%zz", "", "", "", nil},
		{"GET", "/v1/kv/../../metrics", "", "", "", nil},
		{"CONNECT", "/v1/kv/a", "", "", "", nil},
		{"GET", "/metrics", "", "", "", nil},
		{"GET", "/readyz", "", "", "", nil},
		{"PUT", "/v1/kv/a", "", signed, "text/plain", []byte("v")},
		{"DELETE", "/v1/kv/a", "w=1", signed, "", nil},
		{"PUT", "/v1/kv/b", "", signed, "text/plain", []byte("v")},
		{"PUT", "/v1/kv/a", "", foreign, "text/plain", []byte("v")},
		{"PUT", "/v1/kv/a", "", wire.EncodeContext([]byte("a"), vv), "text/plain", []byte("v")},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.ctx, s.contentType, s.body)
	}
	n := startNode(f, func(c *config.Config) {
		c.Limits.MaxKeyBytes = 64
		c.Limits.MaxValueBytes = 64
		c.Limits.MaxSiblings = 4
		c.Security.ContextSecret = contextSecret
	})
	addr := n.node.HTTPAddr()
	f.Fuzz(func(t *testing.T, method, path, query, ctx, contentType string, body []byte) {
		// Line breaks would smuggle in headers of their own (a Content-Length
		// that never arrives makes the server wait, not misbehave).
		clean := strings.NewReplacer("\r", "", "\n", "").Replace
		target := clean(path)
		if query != "" {
			target += "?" + clean(query)
		}
		var req bytes.Buffer
		fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\nContent-Length: %d\r\n", clean(method), target, len(body))
		if ctx != "" {
			fmt.Fprintf(&req, "X-Dht-Context: %s\r\n", clean(ctx))
		}
		if contentType != "" {
			fmt.Fprintf(&req, "Content-Type: %s\r\n", clean(contentType))
		}
		req.WriteString("\r\n")
		req.Write(body)

		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := conn.Write(req.Bytes()); err != nil {
			t.Fatalf("writing %q: %v", req.Bytes(), err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to %q: %v", req.Bytes(), err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", req.Bytes(), err)
		}
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%q answered %d %q", req.Bytes(), resp.StatusCode, data)
		}
		// The gateway's own errors are JSON with a code.
		if resp.Header.Get("Content-Type") == "application/json" && resp.StatusCode >= 400 {
			var e errorJSON
			if err := json.Unmarshal(data, &e); err != nil || e.Code == "" || e.Error == "" {
				t.Fatalf("%q answered %d with a malformed error body %q", req.Bytes(), resp.StatusCode, data)
			}
		}
	})
}
