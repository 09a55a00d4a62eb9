package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultReloadInterval is how often a Store looks at its files.
const DefaultReloadInterval = 2 * time.Second

// Files names the PEM files of one TLS endpoint. CA is optional where no
// peer certificate is verified (an HTTP server that requires none).
type Files struct {
	CA, Cert, Key string
}

// Material is what a Store read from its files at one time.
type Material struct {
	// Cert is the certificate (chain) and key this endpoint presents.
	Cert *tls.Certificate
	// Leaf is Cert's parsed first certificate.
	Leaf *x509.Certificate
	// Pool holds the CA certificates peers must chain to; nil without a CA
	// file.
	Pool *x509.CertPool
}

// Store holds an endpoint's current Material and keeps it in step with its
// files.
type Store struct {
	files  Files
	logger *slog.Logger
	// onReload, when set, is told of each successful reload.
	onReload func(Material)

	mu struct {
		sync.Mutex
		mat Material
		raw [3][]byte // the files' contents behind mat: CA, cert, key
	}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Options tunes Open.
type Options struct {
	// ReloadInterval is the poll period; zero means DefaultReloadInterval,
	// negative disables polling (Reload may still be called).
	ReloadInterval time.Duration
	Logger         *slog.Logger
	// OnReload, when set, is called after every successful load, the first
	// included, on the poller's goroutine.
	OnReload func(Material)
}

// Open reads files and starts polling them. An error names the file at
// fault.
func Open(files Files, opts Options) (*Store, error) {
	if files.Cert == "" || files.Key == "" {
		return nil, errors.New("certs: a certificate file and a key file are required")
	}
	s := &Store{files: files, logger: opts.Logger, onReload: opts.OnReload, stop: make(chan struct{}), done: make(chan struct{})}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	interval := opts.ReloadInterval
	if interval == 0 {
		interval = DefaultReloadInterval
	}
	if interval < 0 {
		close(s.done)
		return s, nil
	}
	go s.poll(interval)
	return s, nil
}

func (s *Store) poll(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if changed, err := s.Reload(); err != nil {
				s.logger.Warn("TLS files changed but cannot be used yet; keeping the previous certificate", "err", err)
			} else if changed {
				s.logger.Info("TLS certificate reloaded", "cert_file", s.files.Cert, "subject", s.Current().Leaf.Subject.CommonName,
					"not_after", s.Current().Leaf.NotAfter.UTC().Format(time.RFC3339))
			}
		}
	}
}

// Close stops polling. The configs built from s keep serving its last
// material.
func (s *Store) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Reload reads the files again and, when their contents changed and form a
// usable whole, makes them current. It reports whether they changed.
func (s *Store) Reload() (changed bool, err error) {
	var raw [3][]byte
	for i, path := range []string{s.files.CA, s.files.Cert, s.files.Key} {
		if path == "" {
			continue
		}
		if raw[i], err = os.ReadFile(path); err != nil {
			return false, fmt.Errorf("certs: %w", err)
		}
	}
	s.mu.Lock()
	same := bytes.Equal(raw[0], s.mu.raw[0]) && bytes.Equal(raw[1], s.mu.raw[1]) && bytes.Equal(raw[2], s.mu.raw[2]) && s.mu.mat.Cert != nil
	s.mu.Unlock()
	if same {
		return false, nil
	}
	mat, err := parse(s.files, raw)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	s.mu.mat, s.mu.raw = mat, raw
	s.mu.Unlock()
	if s.onReload != nil {
		s.onReload(mat)
	}
	return true, nil
}

func parse(files Files, raw [3][]byte) (Material, error) {
	var mat Material
	if files.CA != "" {
		mat.Pool = x509.NewCertPool()
		if !mat.Pool.AppendCertsFromPEM(raw[0]) {
			return Material{}, fmt.Errorf("certs: %s holds no PEM certificate", files.CA)
		}
	}
	cert, err := tls.X509KeyPair(raw[1], raw[2])
	if err != nil {
		return Material{}, fmt.Errorf("certs: %s and %s: %w", files.Cert, files.Key, err)
	}
	mat.Cert = &cert
	mat.Leaf = cert.Leaf
	if mat.Leaf == nil {
		if mat.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return Material{}, fmt.Errorf("certs: %s: %w", files.Cert, err)
		}
	}
	return mat, nil
}

// Current returns the material in use.
func (s *Store) Current() Material {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.mat
}

func (s *Store) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.Current().Cert, nil
}

func (s *Store) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return s.Current().Cert, nil
}
