package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/certs"
)

// get sends GET base+target with hc and returns the status and body.
func get(t *testing.T, hc *http.Client, url string) (int, http.Header, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), streamBound)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// TestGateway_MetricsListener: with a metrics listener, /metrics moves
// there (the main listener says where it went), the probes answer on
// both, and the client and admin APIs stay on the main listener only.
func TestGateway_MetricsListener(t *testing.T) {
	t.Parallel()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kvConfig()
	cfg.MetricsListener = mln
	g, main := startGateway(t, cfg)
	metrics := "http://" + mln.Addr().String()
	hc := &http.Client{}
	defer hc.CloseIdleConnections()

	tests := []struct {
		name, url  string
		wantStatus int
		wantCode   string // of a JSON error; "" for none
		wantInBody string
	}{
		{name: "metrics on the metrics listener", url: metrics + "/metrics", wantStatus: 200, wantInBody: "go_goroutines"},
		{name: "healthz on the metrics listener", url: metrics + "/healthz", wantStatus: 200, wantInBody: "ok"},
		{name: "readyz on the metrics listener", url: metrics + "/readyz", wantStatus: 200, wantInBody: "ready"},
		{name: "metrics gone from the main listener", url: main + "/metrics", wantStatus: 404, wantCode: string(codeNotFound), wantInBody: "http.metrics_listen"},
		{name: "healthz on the main listener", url: main + "/healthz", wantStatus: 200, wantInBody: "ok"},
		{name: "readyz on the main listener", url: main + "/readyz", wantStatus: 200, wantInBody: "ready"},
		{name: "no client API on the metrics listener", url: metrics + "/v1/kv/k", wantStatus: 404},
		{name: "no admin API on the metrics listener", url: metrics + "/admin/status", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body, err := get(t, hc, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus || !strings.Contains(string(body), tt.wantInBody) {
				t.Fatalf("GET %s = %d %.200q, want %d with %q", tt.url, status, body, tt.wantStatus, tt.wantInBody)
			}
			if tt.wantCode != "" {
				wantJSONError(t, h, body, tt.wantCode)
			}
		})
	}

	// Shutdown stops both listeners.
	hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), streamBound)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if c, err := net.Dial("tcp", mln.Addr().String()); err == nil {
		_ = c.Close()
		t.Fatal("the metrics listener still accepts after Shutdown")
	}
}

// TestGateway_MetricsOnMainListener: without a metrics listener, /metrics
// is served on the main one, as before.
func TestGateway_MetricsOnMainListener(t *testing.T) {
	t.Parallel()
	_, main := startGateway(t, kvConfig())
	status, _, body, err := get(t, http.DefaultClient, main+"/metrics")
	if err != nil || status != 200 || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("GET /metrics = %d %.200q, %v; want 200 with metrics", status, body, err)
	}
}

// pki is a CA with the PEM files of a server certificate for 127.0.0.1
// and of a client certificate, written to a test directory.
type pki struct {
	ca                *certs.Authority
	caFile, cert, key string
	clientCert        tls.Certificate
	pool              *x509.CertPool
	foreignClientCert tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	now := time.Now()
	ca, err := certs.NewAuthority("test-ca", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(a *certs.Authority, leaf certs.Leaf) ([]byte, []byte) {
		leaf.NotBefore, leaf.NotAfter = now.Add(-time.Minute), now.Add(time.Hour)
		c, k, err := a.Issue(leaf)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	p := pki{ca: ca, caFile: write("ca.pem", ca.CertPEM()), pool: x509.NewCertPool()}
	p.pool.AddCert(ca.Cert)
	c, k := issue(ca, certs.Leaf{CommonName: "server", Hosts: []string{"127.0.0.1"}, Server: true})
	p.cert, p.key = write("server.pem", c), write("server-key.pem", k)
	c, k = issue(ca, certs.Leaf{CommonName: "client", Client: true})
	if p.clientCert, err = tls.X509KeyPair(c, k); err != nil {
		t.Fatal(err)
	}
	foreign, err := certs.NewAuthority("foreign-ca", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, k = issue(foreign, certs.Leaf{CommonName: "client", Client: true})
	if p.foreignClientCert, err = tls.X509KeyPair(c, k); err != nil {
		t.Fatal(err)
	}
	return p
}

// startTLSGateway starts a gateway serving TLS from a certs.Store of p's
// files, requiring client certificates when clientCA is set; it returns
// the gateway and its host:port.
func startTLSGateway(t *testing.T, p pki, clientCA bool) (*Gateway, string) {
	t.Helper()
	files := certs.Files{Cert: p.cert, Key: p.key}
	if clientCA {
		files.CA = p.caFile
	}
	store, err := certs.Open(files, certs.Options{ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close) // after the gateway's Shutdown (cleanups run last first)
	cfg := kvConfig()
	cfg.TLSConfig = store.HTTPServerConfig()
	cfg.MaxConnections = 16 // TLS over the bounded listener
	g, base := startGateway(t, cfg)
	return g, strings.TrimPrefix(base, "http://")
}

// httpsClient trusts p's CA and presents cert when it is not nil.
func httpsClient(t *testing.T, p pki, cert *tls.Certificate) *http.Client {
	tlsCfg := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestGateway_TLS: the gateway serves HTTPS from a certs.Store; with a
// client CA, only clients with a certificate it signed get in; a
// plain-HTTP client gets net/http's clear 400.
func TestGateway_TLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tests := []struct {
		name      string
		clientCA  bool
		cert      *tls.Certificate
		wantOK    bool
		wantProto string // of an answer; "" for any
	}{
		{name: "server certificate only", wantOK: true, wantProto: "HTTP/2.0"},
		{name: "server certificate only, client presents one", cert: &p.clientCert, wantOK: true},
		{name: "client CA, client certificate", clientCA: true, cert: &p.clientCert, wantOK: true},
		{name: "client CA, no client certificate", clientCA: true},
		{name: "client CA, certificate of another CA", clientCA: true, cert: &p.foreignClientCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startTLSGateway(t, p, tt.clientCA)
			ctx, cancel := context.WithTimeout(t.Context(), streamBound)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/healthz", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := httpsClient(t, p, tt.cert).Do(req)
			if !tt.wantOK {
				if err == nil {
					_ = resp.Body.Close()
					t.Fatalf("GET /healthz = %d, want the handshake refused", resp.StatusCode)
				}
				// The error's text depends on when the client sees the
				// server's alert (TLS 1.3 sends it after the handshake);
				// the same server let a client with a good certificate in.
				return
			}
			if err != nil {
				t.Fatalf("GET /healthz over TLS: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
				t.Fatalf("GET /healthz = %d %q, want 200 ok", resp.StatusCode, body)
			}
			if tt.wantProto != "" && resp.Proto != tt.wantProto {
				t.Errorf("protocol %s, want %s", resp.Proto, tt.wantProto)
			}
		})
	}
}

// TestGateway_TLSRefusesPlainHTTP: plain HTTP to the TLS port gets
// net/http's own 400 saying what went wrong.
func TestGateway_TLSRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	_, addr := startTLSGateway(t, newPKI(t), false)
	status, _, body, err := get(t, &http.Client{}, "http://"+addr+"/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusBadRequest || !strings.Contains(string(body), "Client sent an HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP to the TLS port = %d %q, want 400 naming the mistake", status, body)
	}
}

// TestShutdown_TLS: graceful shutdown works on the TLS listener too. An
// idle TLS connection and one that never began its handshake are both
// closed, and Shutdown returns before net/http's 5 s wait for the latter.
func TestShutdown_TLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	g, addr := startTLSGateway(t, p, false)
	hc := httpsClient(t, p, nil)
	if status, _, _, err := get(t, hc, "https://"+addr+"/healthz"); err != nil || status != 200 {
		t.Fatalf("GET /healthz = %d, %v", status, err)
	}
	unused, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer unused.Close()
	waitUntil(t, func() bool {
		g.conns.mu.Lock()
		defer g.conns.mu.Unlock()
		return len(g.conns.mu.unused) == 1
	})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an unused TLS connection open = %v, want nil", err)
	}
	_ = unused.SetReadDeadline(time.Now().Add(streamBound))
	if _, err := unused.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read from the unused connection = %v, want EOF (closed by the server)", err)
	}
}
