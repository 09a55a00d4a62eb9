package harness

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMakeTLS_NodeCertificates(t *testing.T) {
	ids := []string{"node1", "node2", "node3"}
	m, err := makeTLS(t.TempDir(), ids, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.secret) < 16 {
		t.Errorf("context secret %q: dhtd wants 16 characters or more", m.secret)
	}
	caPEM, err := os.ReadFile(m.caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("the CA file holds no certificate")
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			pair, err := tls.LoadX509KeyPair(m.certFile(id), m.keyFile(id))
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := x509.ParseCertificate(pair.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			// Mutual TLS between nodes takes the node id from the CN.
			if leaf.Subject.CommonName != id {
				t.Errorf("CN %q, want the node id %q", leaf.Subject.CommonName, id)
			}
			// One certificate serves both ends of the remote port and the
			// HTTPS API, which clients reach at 127.0.0.1.
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
					t.Errorf("usage %v at 127.0.0.1: %v", usage, err)
				}
			}
			if err := leaf.VerifyHostname("localhost"); err != nil {
				t.Error(err)
			}
			st, err := os.Stat(m.keyFile(id))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
			}
			// The node's flags name its own files.
			args := strings.Join(m.nodeArgs(id), " ")
			for _, f := range []string{m.caFile, m.certFile(id), m.keyFile(id)} {
				if !strings.Contains(args, f) {
					t.Errorf("flags %q lack %s", args, f)
				}
			}
		})
	}

	// The harness's client trusts an HTTPS server with a node certificate.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	pair, err := tls.LoadX509KeyPair(m.certFile("node1"), m.keyFile("node1"))
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: m.client}}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatalf("the harness's client refused a node certificate: %v", err)
	}
	_ = resp.Body.Close()
	hc.CloseIdleConnections()
}

func TestMakeTLS_FreshCAEachTime(t *testing.T) {
	a, err := makeTLS(t.TempDir(), []string{"node1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := makeTLS(t.TempDir(), []string{"node1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := os.ReadFile(a.caFile)
	pb, _ := os.ReadFile(b.caFile)
	if blk, _ := pem.Decode(pa); blk == nil || string(pa) == string(pb) {
		t.Error("two systems share a CA, or the CA file is not PEM")
	}
	if a.secret == b.secret {
		t.Error("two systems share a context secret")
	}
}
