package client_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
	"github.com/dhtkv/dht/cluster/certs"
)

// pki is a development CA and the PEM files it issued, as `dhtctl certs`
// writes them.
type pki struct {
	ca                    *certs.Authority
	caFile                string
	nodeCert, nodeKey     string // CN node1, for 127.0.0.1 and localhost
	clientCert, clientKey string // client authentication only
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	now := time.Now()
	ca, err := certs.NewAuthority("test CA", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &pki{ca: ca, caFile: filepath.Join(dir, "ca.crt")}
	writeFile(t, p.caFile, ca.CertPEM())
	p.nodeCert, p.nodeKey = p.issue(t, dir, certs.Leaf{CommonName: "node1", Hosts: []string{"127.0.0.1", "localhost"}, Server: true, Client: true})
	p.clientCert, p.clientKey = p.issue(t, dir, certs.Leaf{CommonName: "alice", Client: true})
	return p
}

// issue writes the certificate and key of leaf under dir, valid for an hour.
func (p *pki) issue(t *testing.T, dir string, leaf certs.Leaf) (certFile, keyFile string) {
	t.Helper()
	leaf.NotBefore, leaf.NotAfter = time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	certPEM, keyPEM, err := p.ca.Issue(leaf)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, leaf.CommonName+".crt"), filepath.Join(dir, leaf.CommonName+".key")
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	return certFile, keyFile
}

// serverConfig is a node's HTTP API TLS: its certificate and, with
// clientCerts, client certificates from the CA required.
func (p *pki) serverConfig(t *testing.T, certFile, keyFile string, clientCerts bool) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCerts {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = x509.NewCertPool()
		cfg.ClientCAs.AddCert(p.ca.Cert)
	}
	return cfg
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLSConfig_Files(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, []byte("hello"))
	missing := filepath.Join(dir, "missing.crt")

	tests := []struct {
		name                 string
		ca, cert, key        string
		wantErr              string // substring; empty for success
		wantRoots, wantCerts bool
	}{
		{name: "nothing: system roots"},
		{name: "CA only", ca: p.caFile, wantRoots: true},
		{name: "CA and client certificate", ca: p.caFile, cert: p.clientCert, key: p.clientKey, wantRoots: true, wantCerts: true},
		{name: "client certificate only", cert: p.clientCert, key: p.clientKey, wantCerts: true},
		{name: "missing CA file", ca: missing, wantErr: "missing.crt"},
		{name: "CA file without PEM", ca: notPEM, wantErr: "not.pem holds no PEM certificate"},
		{name: "certificate without key", ca: p.caFile, cert: p.clientCert, wantErr: "needs its key file"},
		{name: "key without certificate", ca: p.caFile, key: p.clientKey, wantErr: "needs its certificate file"},
		{name: "certificate and someone else's key", cert: p.clientCert, key: p.nodeKey, wantErr: "alice.crt"},
		{name: "missing certificate file", cert: missing, key: p.clientKey, wantErr: "missing.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := client.TLSConfig(tt.ca, tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("TLSConfig = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TLSConfig: %v", err)
			}
			if got := cfg.RootCAs != nil; got != tt.wantRoots {
				t.Errorf("RootCAs set = %v, want %v", got, tt.wantRoots)
			}
			if got := len(cfg.Certificates) == 1; got != tt.wantCerts {
				t.Errorf("client certificate set = %v, want %v", got, tt.wantCerts)
			}
			if cfg.MinVersion < tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2 at least", cfg.MinVersion)
			}
		})
	}
}

// TestClient_TLS runs a write and a read against fake nodes over HTTPS, and
// checks that each way a handshake fails is reported as such, and as a
// write that was never applied.
func TestClient_TLS(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	otherCert, otherKey := p.issue(t, dir, certs.Leaf{CommonName: "elsewhere", Hosts: []string{"node9.example"}, Server: true})
	foreign, err := certs.NewAuthority("foreign CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreignCA := filepath.Join(dir, "foreign-ca.crt")
	writeFile(t, foreignCA, foreign.CertPEM())
	strangerCert, strangerKey := (&pki{ca: foreign}).issue(t, dir, certs.Leaf{CommonName: "mallory", Client: true})

	tlsNode := clienttest.NewTLSServer("", p.serverConfig(t, p.nodeCert, p.nodeKey, false))
	defer tlsNode.Close()
	mtlsNode := clienttest.NewTLSServer("", p.serverConfig(t, p.nodeCert, p.nodeKey, true))
	defer mtlsNode.Close()
	wrongHost := clienttest.NewTLSServer("", p.serverConfig(t, otherCert, otherKey, false))
	defer wrongHost.Close()
	plainNode := clienttest.NewServer("")
	defer plainNode.Close()

	type files struct{ ca, cert, key string }
	tests := []struct {
		name  string
		url   string
		files *files // nil: no WithTLS
		check func(t *testing.T, err error)
	}{
		{name: "https with the CA", url: tlsNode.URL, files: &files{ca: p.caFile}},
		{name: "https with a client certificate", url: mtlsNode.URL, files: &files{ca: p.caFile, cert: p.clientCert, key: p.clientKey}},
		{name: "unknown authority without the CA", url: tlsNode.URL, check: func(t *testing.T, err error) {
			if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
				t.Fatalf("err = %v, want an x509.UnknownAuthorityError", err)
			}
		}},
		{name: "unknown authority with another CA", url: tlsNode.URL, files: &files{ca: foreignCA}, check: func(t *testing.T, err error) {
			if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
				t.Fatalf("err = %v, want an x509.UnknownAuthorityError", err)
			}
		}},
		{name: "host not in the certificate", url: wrongHost.URL, files: &files{ca: p.caFile}, check: func(t *testing.T, err error) {
			if _, ok := errors.AsType[x509.HostnameError](err); !ok {
				t.Fatalf("err = %v, want an x509.HostnameError", err)
			}
		}},
		{name: "client certificate required", url: mtlsNode.URL, files: &files{ca: p.caFile}, check: func(t *testing.T, err error) {
			if !client.IsCertificateRefused(err) {
				t.Fatalf("err = %v, want IsCertificateRefused", err)
			}
		}},
		{name: "client certificate from another CA", url: mtlsNode.URL, files: &files{ca: p.caFile, cert: strangerCert, key: strangerKey}, check: func(t *testing.T, err error) {
			if !client.IsCertificateRefused(err) {
				t.Fatalf("err = %v, want IsCertificateRefused", err)
			}
		}},
		{name: "https to a plain HTTP node", url: strings.Replace(plainNode.URL, "http://", "https://", 1), files: &files{ca: p.caFile}, check: func(t *testing.T, err error) {
			if !errors.Is(err, http.ErrSchemeMismatch) {
				t.Fatalf("err = %v, want http.ErrSchemeMismatch", err)
			}
		}},
		{name: "http to an HTTPS node", url: strings.Replace(tlsNode.URL, "https://", "http://", 1), check: func(t *testing.T, err error) {
			e, ok := errors.AsType[*client.Error](err)
			if !ok || e.Status != http.StatusBadRequest || !strings.Contains(e.Message, "HTTP request to an HTTPS server") {
				t.Fatalf("err = %v, want the server's 400 for plain HTTP", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []client.Option
			if tt.files != nil {
				cfg, err := client.TLSConfig(tt.files.ca, tt.files.cert, tt.files.key)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, client.WithTLS(cfg))
			}
			c := newClient(t, tt.url, opts...)
			_, putErr := c.Put(t.Context(), "k", []byte("v"), nil)
			obj, getErr := c.Get(t.Context(), "k", nil)
			if tt.check == nil {
				if putErr != nil || getErr != nil {
					t.Fatalf("Put = %v, Get = %v, want both to succeed", putErr, getErr)
				}
				if !obj.Found || string(obj.Siblings[0].Value) != "v" {
					t.Fatalf("Get = %+v, want the value written", obj)
				}
				return
			}
			if putErr == nil || getErr == nil {
				t.Fatalf("Put = %v, Get = %v, want both to fail", putErr, getErr)
			}
			tt.check(t, putErr)
			tt.check(t, getErr)
			if client.IsIndeterminate(putErr) {
				t.Errorf("IsIndeterminate(%v) = true, but a refused handshake sends nothing", putErr)
			}
		})
	}
}

func TestWithTLS_Transport(t *testing.T) {
	p := newPKI(t)
	node := clienttest.NewTLSServer("", p.serverConfig(t, p.nodeCert, p.nodeKey, false))
	defer node.Close()
	cfg, err := client.TLSConfig(p.caFile, "", "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("combines with WithHTTPClient in either order", func(t *testing.T) {
		for _, order := range []string{"tls first", "http client first"} {
			tr := &http.Transport{ResponseHeaderTimeout: time.Minute}
			hc := &http.Client{Transport: tr}
			opts := []client.Option{client.WithTLS(cfg), client.WithHTTPClient(hc)}
			if order == "http client first" {
				opts[0], opts[1] = opts[1], opts[0]
			}
			if err := newClient(t, node.URL, opts...).Health(t.Context()); err != nil {
				t.Fatalf("%s: Health: %v", order, err)
			}
			// net/http may give the transport a TLS config of its own (for
			// HTTP/2) when it is cloned; the CA must not end up in it.
			if hc.Transport != tr || (tr.TLSClientConfig != nil && tr.TLSClientConfig.RootCAs != nil) {
				t.Fatalf("%s: the caller's HTTP client or transport was changed", order)
			}
		}
	})
	t.Run("nil config keeps the HTTP client's TLS", func(t *testing.T) {
		err := newClient(t, node.URL, client.WithTLS(nil)).Health(t.Context())
		if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
			t.Fatalf("Health = %v, want the system roots' unknown authority", err)
		}
	})
	t.Run("refuses a transport it cannot configure", func(t *testing.T) {
		hc := &http.Client{Transport: roundTripFunc(http.DefaultTransport.RoundTrip)}
		_, err := client.New(node.URL, client.WithHTTPClient(hc), client.WithTLS(cfg))
		if err == nil || !strings.Contains(err.Error(), "not an *http.Transport") {
			t.Fatalf("New = %v, want a refusal naming the transport", err)
		}
	})
	t.Run("httptest's own client", func(t *testing.T) {
		// A plain httptest TLS server trusts nothing but its own client; the
		// client must still work with it through WithHTTPClient.
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer srv.Close()
		if err := newClient(t, srv.URL, client.WithHTTPClient(srv.Client())).Health(t.Context()); err != nil {
			t.Fatalf("Health: %v", err)
		}
	})
}
