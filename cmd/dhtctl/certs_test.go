package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// runCerts runs dhtctl certs with args and --json, and decodes what it
// printed.
func runCerts(t *testing.T, args ...string) certsResult {
	t.Helper()
	r := dhtctl(t, nil, "", append([]string{"certs", "--json"}, args...)...)
	r.want(t, exitOK)
	var res certsResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
	return res
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifyFor checks that cert chains to the CA in caFile for usage.
func verifyFor(t *testing.T, cert *x509.Certificate, caFile string, usage x509.ExtKeyUsage) error {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, caFile))
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestCerts_Issues(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	before := time.Now()
	res := runCerts(t, "--dir", dir, "--nodes", "node1,node2", "--hosts", "127.0.0.1,localhost", "--client", "alice", "--validity", "48h")

	if !res.CA.Created || res.CA.Cert != filepath.Join(dir, "ca.crt") || res.CA.Key != filepath.Join(dir, "ca.key") {
		t.Fatalf("ca = %+v, want a new CA in %s", res.CA, dir)
	}
	if fileMode(t, res.CA.Key) != 0o600 {
		t.Errorf("ca.key mode %v, want 0600", fileMode(t, res.CA.Key))
	}
	if ca := readCert(t, res.CA.Cert); !ca.IsCA {
		t.Fatal("ca.crt is not a CA certificate")
	}

	tests := []struct {
		name       string
		got        *issued
		wantUsages []x509.ExtKeyUsage
		wantDNS    []string
		wantIPs    int
	}{
		{"node1", &res.Nodes[0], []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []string{"localhost", "node1"}, 1},
		{"node2", &res.Nodes[1], []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []string{"localhost", "node2"}, 1},
		{"alice", res.Client, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, 0},
	}
	if len(res.Nodes) != 2 || res.Client == nil {
		t.Fatalf("result = %+v, want two nodes and a client", res)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Name != tt.name || tt.got.Cert != filepath.Join(dir, tt.name+".crt") || tt.got.Key != filepath.Join(dir, tt.name+".key") {
				t.Fatalf("issued = %+v, want %s.crt and %s.key in %s", tt.got, tt.name, tt.name, dir)
			}
			if m := fileMode(t, tt.got.Key); m != 0o600 {
				t.Errorf("key mode %v, want 0600", m)
			}
			c := readCert(t, tt.got.Cert)
			if c.Subject.CommonName != tt.name {
				t.Errorf("CN = %q, want %q", c.Subject.CommonName, tt.name)
			}
			if !slices.Equal(c.ExtKeyUsage, tt.wantUsages) {
				t.Errorf("ext key usage = %v, want %v", c.ExtKeyUsage, tt.wantUsages)
			}
			if !slices.Equal(c.DNSNames, tt.wantDNS) || len(c.IPAddresses) != tt.wantIPs {
				t.Errorf("SANs = %v %v, want %v and %d IPs", c.DNSNames, c.IPAddresses, tt.wantDNS, tt.wantIPs)
			}
			for _, u := range tt.wantUsages {
				if err := verifyFor(t, c, res.CA.Cert, u); err != nil {
					t.Errorf("does not verify against ca.crt for %v: %v", u, err)
				}
			}
			if d := c.NotAfter.Sub(before.Add(48 * time.Hour)); d < -time.Second || d > time.Minute {
				t.Errorf("NotAfter = %v, want 48h from now", c.NotAfter)
			}
			if !c.NotAfter.Equal(tt.got.NotAfter) {
				t.Errorf("--json not_after %v, certificate's %v", tt.got.NotAfter, c.NotAfter)
			}
			if c.NotBefore.After(before) {
				t.Errorf("NotBefore %v is after the run started (%v)", c.NotBefore, before)
			}
		})
	}
}

func TestCerts_ReusesCAAndRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	first := runCerts(t, "--dir", dir, "--nodes", "node1")
	caBefore, _ := os.ReadFile(first.CA.Cert)
	keyBefore, _ := os.ReadFile(first.CA.Key)
	node1Before, _ := os.ReadFile(first.Nodes[0].Cert)

	t.Run("adds a node with the same CA", func(t *testing.T) {
		res := runCerts(t, "--dir", dir, "--nodes", "node2")
		if res.CA.Created {
			t.Fatal("the CA was made again")
		}
		if err := verifyFor(t, readCert(t, res.Nodes[0].Cert), first.CA.Cert, x509.ExtKeyUsageServerAuth); err != nil {
			t.Fatalf("node2 does not chain to the first CA: %v", err)
		}
	})
	t.Run("refuses to overwrite without --force", func(t *testing.T) {
		r := dhtctl(t, nil, "", "certs", "--dir", dir, "--nodes", "node3,node1")
		r.want(t, exitError)
		if !strings.Contains(r.stderr, filepath.Join(dir, "node1.crt")) || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("stderr = %q, want node1.crt named and --force suggested", r.stderr)
		}
		if got, _ := os.ReadFile(first.Nodes[0].Cert); !bytes.Equal(got, node1Before) {
			t.Fatal("node1.crt changed")
		}
		if _, err := os.Stat(filepath.Join(dir, "node3.crt")); err == nil {
			t.Fatal("node3.crt was written although the run was refused")
		}
	})
	t.Run("re-issues with --force", func(t *testing.T) {
		res := runCerts(t, "--dir", dir, "--nodes", "node1", "--force")
		if !res.Nodes[0].Replaced {
			t.Error("--json does not say node1 was replaced")
		}
		got, _ := os.ReadFile(first.Nodes[0].Cert)
		if bytes.Equal(got, node1Before) {
			t.Fatal("node1.crt was not replaced")
		}
		if err := verifyFor(t, readCert(t, first.Nodes[0].Cert), first.CA.Cert, x509.ExtKeyUsageClientAuth); err != nil {
			t.Fatalf("the new node1.crt does not chain to the CA: %v", err)
		}
	})
	if ca, _ := os.ReadFile(first.CA.Cert); !bytes.Equal(ca, caBefore) {
		t.Error("ca.crt changed")
	}
	if key, _ := os.ReadFile(first.CA.Key); !bytes.Equal(key, keyBefore) {
		t.Error("ca.key changed")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestCerts_ClampsToCA(t *testing.T) {
	dir := t.TempDir()
	r := dhtctl(t, nil, "", "certs", "--dir", dir, "--nodes", "node1", "--ca-validity", "2h", "--validity", "24h")
	r.want(t, exitOK)
	if !strings.Contains(r.stderr, "the CA expires before --validity ends") {
		t.Errorf("stderr = %q, want a warning", r.stderr)
	}
	ca, node := readCert(t, filepath.Join(dir, "ca.crt")), readCert(t, filepath.Join(dir, "node1.crt"))
	if node.NotAfter.After(ca.NotAfter) {
		t.Fatalf("node1 valid until %v, after its CA (%v)", node.NotAfter, ca.NotAfter)
	}
}

func TestCerts_Refusals(t *testing.T) {
	withCA := t.TempDir()
	runCerts(t, "--dir", withCA)
	certOnly := t.TempDir()
	ca, _ := os.ReadFile(filepath.Join(withCA, "ca.crt"))
	if err := os.WriteFile(filepath.Join(certOnly, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	mismatched := t.TempDir()
	other := t.TempDir()
	runCerts(t, "--dir", other)
	otherKey, _ := os.ReadFile(filepath.Join(other, "ca.key"))
	if err := os.WriteFile(filepath.Join(mismatched, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mismatched, "ca.key"), otherKey, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no dir", []string{"--nodes", "n1"}, exitUsage, `required flag(s) "dir" not set`},
		{"name with a path", []string{"--dir", t.TempDir(), "--nodes", "../n1"}, exitUsage, `"../n1" cannot name a certificate`},
		{"node named ca", []string{"--dir", t.TempDir(), "--nodes", "ca"}, exitUsage, "the CA's file name"},
		{"node twice", []string{"--dir", t.TempDir(), "--nodes", "n1,n1"}, exitUsage, `"n1" is named twice`},
		{"client named as a node", []string{"--dir", t.TempDir(), "--nodes", "n1", "--client", "n1"}, exitUsage, `"n1" is named twice`},
		{"host with a port", []string{"--dir", t.TempDir(), "--nodes", "n1", "--hosts", "localhost:8080"}, exitUsage, `"localhost:8080" is not a host name`},
		{"host as URL", []string{"--dir", t.TempDir(), "--nodes", "n1", "--hosts", "https://node1"}, exitUsage, "is not a host name"},
		{"no hosts", []string{"--dir", t.TempDir(), "--nodes", "n1", "--hosts", ""}, exitUsage, "--hosts must name at least one host"},
		{"zero validity", []string{"--dir", t.TempDir(), "--nodes", "n1", "--validity", "0s"}, exitUsage, "--validity must be positive"},
		{"nothing to issue", []string{"--dir", withCA}, exitUsage, "nothing to issue"},
		{"CA without its key", []string{"--dir", certOnly, "--nodes", "n1"}, exitError, "ca.key does not"},
		{"CA with another key", []string{"--dir", mismatched, "--nodes", "n1"}, exitError, "is not the key of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, nil, "", append([]string{"certs"}, tt.args...)...)
			r.want(t, tt.code)
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr = %q, want %q", r.stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(certOnly, "n1.crt")); err == nil {
		t.Error("a certificate was written beside a CA without its key")
	}
}
