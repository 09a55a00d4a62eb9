package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
)

// WithTLS makes the client verify https:// nodes with cfg and present the
// client certificate it holds, if any: how to reach a node whose
// certificate comes from a private CA (cluster/certs, `dhtctl certs`), or
// one that requires client certificates (http.tls.client_ca_file).
// TLSConfig builds cfg from PEM files.
//
// cfg is set on a clone of the HTTP client's transport, so WithTLS and
// WithHTTPClient combine in either order; New fails when that transport is
// not an *http.Transport, whose TLS the client cannot reach. A nil cfg
// leaves TLS as the HTTP client has it (the system's roots). It has no
// effect on http:// base URLs.
func WithTLS(cfg *tls.Config) Option {
	return func(c *Client) { c.tls = cfg }
}

// TLSConfig returns a TLS configuration for WithTLS from PEM files. caFile
// holds the CA certificates that sign the nodes' certificates; empty trusts
// the system's roots instead. certFile and keyFile are a client
// certificate and its key, for a node that requires one; give both or
// neither. An error names the file at fault.
//
// The files are read once: a client that outlives a rotation of its client
// certificate should set tls.Config.GetClientCertificate itself.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	// TLS 1.2 is what a node's HTTP API accepts at least.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "":
		return nil, fmt.Errorf("client: a client key (%s) needs its certificate file too", keyFile)
	case keyFile == "":
		return nil, fmt.Errorf("client: a client certificate (%s) needs its key file too", certFile)
	default:
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client: client certificate %s and key %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// withTLSTransport returns a copy of hc whose transport, a clone of hc's,
// uses cfg. hc itself, which the caller may share, is left as it is.
//
// certMissing is set when a node asks for a client certificate in a
// handshake and cfg has none to offer, which send uses to explain the lost
// connection that follows.
func withTLSTransport(hc *http.Client, cfg *tls.Config, certMissing *atomic.Bool) (*http.Client, error) {
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		def, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, errors.New("client: WithTLS: http.DefaultTransport is not an *http.Transport; give an HTTP client with one (WithHTTPClient)")
		}
		tr = def.Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("client: WithTLS: the HTTP client's transport is a %T, not an *http.Transport; set TLS on that transport instead", t)
	}
	tr.TLSClientConfig = cfg.Clone()
	tr.TLSClientConfig.GetClientCertificate = clientCertificate(cfg, certMissing)
	out := *hc
	out.Transport = tr
	return &out, nil
}

// clientCertificate chooses the certificate to answer a node's request for
// one, as crypto/tls does without a callback (cfg's own callback, else the
// first of cfg.Certificates the node accepts), and notes in missing when
// there is none.
func clientCertificate(cfg *tls.Config, missing *atomic.Bool) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cfg.GetClientCertificate != nil {
			c, err := cfg.GetClientCertificate(cri)
			if err == nil && (c == nil || len(c.Certificate) == 0) {
				missing.Store(true)
			}
			return c, err
		}
		for i := range cfg.Certificates {
			if cri.SupportsCertificate(&cfg.Certificates[i]) == nil {
				return &cfg.Certificates[i], nil
			}
		}
		if len(cfg.Certificates) > 0 {
			// None matches what the node asked for; send the first, as
			// crypto/tls does, and let the node decide.
			return &cfg.Certificates[0], nil
		}
		missing.Store(true)
		return &tls.Certificate{}, nil
	}
}
