package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// NodeID returns the node id a certificate names: its subject common name.
func NodeID(cert *x509.Certificate) string { return cert.Subject.CommonName }

// ErrNoNodeID means a peer's certificate names no node.
var ErrNoNodeID = errors.New("certs: the certificate names no node id (empty subject common name)")

// Verify checks a peer's certificate chain (leaf first, as TLS sends it)
// against pool at now, for usage, and returns the leaf.
func Verify(rawCerts [][]byte, pool *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) (*x509.Certificate, error) {
	if len(rawCerts) == 0 {
		return nil, errors.New("certs: the peer presented no certificate")
	}
	if pool == nil {
		return nil, errors.New("certs: no CA to verify the peer against")
	}
	chain := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("certs: the peer's certificate does not parse: %w", err)
		}
		chain[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return nil, fmt.Errorf("certs: the peer's certificate (CN %q) is not valid: %w", chain[0].Subject.CommonName, err)
	}
	return chain[0], nil
}

// verifyNode returns a VerifyPeerCertificate callback that checks the chain
// against the store's current CA and requires a node id.
func (s *Store) verifyNode(usage x509.ExtKeyUsage) func([][]byte, [][]*x509.Certificate) error {
	return func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		leaf, err := Verify(rawCerts, s.Current().Pool, usage, time.Now())
		if err != nil {
			return err
		}
		if NodeID(leaf) == "" {
			return ErrNoNodeID
		}
		return nil
	}
}

// PeerServerConfig is the remote port's server side: TLS 1.3, and every
// peer must present a node certificate signed by the cluster CA. The chain
// is checked by the callback against the CA current at the handshake,
// which is why crypto/tls's own check (fixed at construction) is replaced.
func (s *Store) PeerServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		GetCertificate:        s.certificate,
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: s.verifyNode(x509.ExtKeyUsageClientAuth),
	}
}

// PeerClientConfig is the remote port's dialing side: TLS 1.3, this node's
// certificate as client certificate, and the server's chain checked against
// the current cluster CA (InsecureSkipVerify only turns off crypto/tls's
// fixed-pool check and host-name match; the callback does the check).
func (s *Store) PeerClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		GetClientCertificate:  s.clientCertificate,
		InsecureSkipVerify:    true, //nolint:gosec // verified in VerifyPeerCertificate against the cluster CA
		VerifyPeerCertificate: s.verifyNode(x509.ExtKeyUsageServerAuth),
	}
}

// HTTPServerConfig is the HTTP API's server side: TLS 1.2 or later (curl
// and browsers), and, when the store has a CA, a client certificate it
// signed is required.
func (s *Store) HTTPServerConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.certificate,
	}
	if s.files.CA != "" {
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.VerifyPeerCertificate = func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			_, err := Verify(rawCerts, s.Current().Pool, x509.ExtKeyUsageClientAuth, time.Now())
			return err
		}
	}
	return cfg
}
