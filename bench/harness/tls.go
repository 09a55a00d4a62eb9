package harness

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/certs"
)

// certValidity is how long the certificates a system makes at Start stay
// valid: longer than any run.
const certValidity = 7 * 24 * time.Hour

// tlsMaterial is what a dht system with TLS runs with: a CA made for the
// run, a certificate per node, and a context secret, all in one directory.
type tlsMaterial struct {
	dir string
	// caFile holds the CA certificate, PEM.
	caFile string
	// secret is security.context_secret, the same on every node.
	secret string
	// client verifies the nodes' HTTPS certificates with the CA.
	client *tls.Config
}

// certFile and keyFile are node id's certificate and key, PEM: the same
// pair serves mutual TLS between nodes and HTTPS on the API.
func (m *tlsMaterial) certFile(id string) string { return filepath.Join(m.dir, id+".pem") }
func (m *tlsMaterial) keyFile(id string) string  { return filepath.Join(m.dir, id+"-key.pem") }

// makeTLS writes under dir a new CA and, for each node id, a certificate
// signed by it with the node id as CN (what mutual TLS between nodes
// checks), valid for 127.0.0.1 and localhost (what an HTTPS client checks),
// for client and server use. Keys are written 0600.
func makeTLS(dir string, ids []string, now time.Time) (*tlsMaterial, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := certs.NewAuthority("dhtbench CA", now, certValidity)
	if err != nil {
		return nil, fmt.Errorf("harness: making a CA: %w", err)
	}
	m := &tlsMaterial{dir: dir, caFile: filepath.Join(dir, "ca.pem")}
	if err := os.WriteFile(m.caFile, ca.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	for _, id := range ids {
		cert, key, err := ca.Issue(certs.Leaf{
			CommonName: id,
			Hosts:      []string{"127.0.0.1", "localhost"},
			NotBefore:  now.Add(-time.Minute),
			NotAfter:   now.Add(certValidity),
			Client:     true,
			Server:     true,
		})
		if err != nil {
			return nil, fmt.Errorf("harness: issuing %s's certificate: %w", id, err)
		}
		if err := os.WriteFile(m.certFile(id), cert, 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(m.keyFile(id), key, 0o600); err != nil {
			return nil, err
		}
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	m.secret = hex.EncodeToString(secret[:])
	if m.client, err = client.TLSConfig(m.caFile, "", ""); err != nil {
		return nil, err
	}
	return m, nil
}

// nodeArgs are the dhtd flags that make node id use m. The context secret
// goes in the environment (nodeEnv), where ps does not show it.
func (m *tlsMaterial) nodeArgs(id string) []string {
	return []string{
		"--cluster.tls.ca_file", m.caFile,
		"--cluster.tls.cert_file", m.certFile(id),
		"--cluster.tls.key_file", m.keyFile(id),
		"--http.tls.cert_file", m.certFile(id),
		"--http.tls.key_file", m.keyFile(id),
	}
}

// nodeEnv is the environment a node adds to the harness's.
func (m *tlsMaterial) nodeEnv() []string {
	return []string{"DHT_SECURITY_CONTEXT_SECRET=" + m.secret}
}
