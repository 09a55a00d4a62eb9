package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeNode issues a node certificate for id under ca into dir and returns
// the files, CA included.
func writeNode(t *testing.T, dir string, ca *Authority, id string, notBefore, notAfter time.Time) Files {
	t.Helper()
	cert, key, err := ca.Issue(Leaf{CommonName: id, Hosts: []string{"127.0.0.1", "localhost"}, NotBefore: notBefore, NotAfter: notAfter, Client: true, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	f := Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, id+".pem"), Key: filepath.Join(dir, id+".key")}
	for path, b := range map[string][]byte{f.CA: ca.CertPEM(), f.Cert: cert, f.Key: key} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func newCA(t *testing.T, name string) *Authority {
	t.Helper()
	ca, err := NewAuthority(name, time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func open(t *testing.T, f Files) *Store {
	t.Helper()
	s, err := Open(f, Options{ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// handshake runs a TLS handshake between the two configs over a pipe and
// returns the server's and the client's errors.
func handshake(server, client *tls.Config) (serverErr, clientErr error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, server)
		err := s.Handshake()
		if err != nil {
			// Unblock the client, which may be waiting for the server's
			// next flight.
			a.Close()
		}
		done <- err
	}()
	c := tls.Client(b, client)
	clientErr = c.Handshake()
	if clientErr == nil {
		// TLS 1.3: the client finishes before the server has checked the
		// client's certificate; a read surfaces the server's verdict.
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.Read(make([]byte, 1))
	}
	b.Close()
	return <-done, clientErr
}

func TestPeerConfigs_MutualTLS(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "cluster")
	dir := t.TempDir()
	server := open(t, writeNode(t, dir, ca, "node-a", now.Add(-time.Hour), now.Add(time.Hour)))
	good := open(t, writeNode(t, dir, ca, "node-b", now.Add(-time.Hour), now.Add(time.Hour)))

	other := t.TempDir()
	foreign := open(t, writeNode(t, other, newCA(t, "another cluster"), "node-b", now.Add(-time.Hour), now.Add(time.Hour)))
	expiredDir := t.TempDir()
	expiredFiles := writeNode(t, expiredDir, ca, "node-c", now.Add(-2*time.Hour), now.Add(-time.Hour))
	expiredFiles.CA = filepath.Join(dir, "ca.pem")
	expired := open(t, expiredFiles)
	nameless := open(t, writeNode(t, t.TempDir(), ca, "", now.Add(-time.Hour), now.Add(time.Hour)))

	tests := []struct {
		name    string
		client  *tls.Config
		wantErr string
	}{
		{"a member of the same CA", good.PeerClientConfig(), ""},
		{"a certificate of another CA", trustingAnyServer(foreign.PeerClientConfig()), "not valid"},
		{"an expired certificate", expired.PeerClientConfig(), "not valid"},
		{"a certificate naming no node", nameless.PeerClientConfig(), "names no node id"},
		{"no certificate at all", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serr, cerr := handshake(server.PeerServerConfig(), tc.client)
			if tc.wantErr == "" {
				if serr != nil || cerr != nil {
					t.Fatalf("handshake failed: server %v, client %v", serr, cerr)
				}
				return
			}
			if serr == nil || !strings.Contains(serr.Error(), tc.wantErr) {
				t.Fatalf("server accepted or failed otherwise: %v (want an error containing %q)", serr, tc.wantErr)
			}
		})
	}

	// And the dialing side refuses a server of another CA.
	if _, cerr := handshake(foreign.PeerServerConfig(), good.PeerClientConfig()); cerr == nil {
		t.Error("a client accepted a server certificate of another CA")
	}
}

func TestStore_ReloadsRotatedFiles(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "cluster")
	dir := t.TempDir()
	f := writeNode(t, dir, ca, "node-a", now.Add(-time.Hour), now.Add(time.Hour))
	reloads := 0
	s, err := Open(f, Options{ReloadInterval: -1, OnReload: func(Material) { reloads++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := s.Current().Leaf.SerialNumber

	if changed, err := s.Reload(); err != nil || changed {
		t.Fatalf("Reload of unchanged files = %v, %v; want false, nil", changed, err)
	}

	// A half-done rotation: the new certificate is written, its key is not
	// yet. The old material stays.
	cert2, key2, err := ca.Issue(Leaf{CommonName: "node-a", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(2 * time.Hour), Client: true, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Cert, cert2, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err == nil {
		t.Fatal("Reload accepted a certificate that does not match its key")
	}
	if got := s.Current().Leaf.SerialNumber; got.Cmp(first) != 0 {
		t.Fatal("a failed reload replaced the certificate")
	}

	if err := os.WriteFile(f.Key, key2, 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Reload(); err != nil || !changed {
		t.Fatalf("Reload after the rotation = %v, %v; want true, nil", changed, err)
	}
	if got := s.Current().Leaf.SerialNumber; got.Cmp(first) == 0 {
		t.Fatal("the rotated certificate is not current")
	}
	if reloads != 2 {
		t.Errorf("OnReload called %d times, want 2 (open and rotation)", reloads)
	}
}

func TestStore_PollsFiles(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "cluster")
	f := writeNode(t, t.TempDir(), ca, "node-a", now.Add(-time.Hour), now.Add(time.Hour))
	reloaded := make(chan Material, 4)
	s, err := Open(f, Options{ReloadInterval: 10 * time.Millisecond, OnReload: func(m Material) { reloaded <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-reloaded
	cert, key, err := ca.Issue(Leaf{CommonName: "node-a", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(3 * time.Hour), Client: true, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	// The key first, then the certificate: between the two the pair does
	// not match, and the poller must wait.
	if err := os.WriteFile(f.Key, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Cert, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-reloaded:
		if !m.Leaf.NotAfter.After(now.Add(2 * time.Hour)) {
			t.Errorf("reloaded a certificate valid until %v, want the rotated one", m.Leaf.NotAfter)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the poller did not pick up the rotated files")
	}
}

func TestOpen_NamesTheFileAtFault(t *testing.T) {
	_, err := Open(Files{Cert: "/nonexistent/cert.pem", Key: "/nonexistent/key.pem"}, Options{ReloadInterval: -1})
	var pe *os.PathError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "/nonexistent/cert.pem") {
		t.Errorf("Open = %v, want a path error naming the file", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := writeNode(t, dir, newCA(t, "x"), "n", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	f.CA = bad
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f, Options{ReloadInterval: -1}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open with a bad CA file = %v, want an error naming it", err)
	}
}

func TestVerify_Usage(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "cluster")
	cert, _, err := ca.Issue(Leaf{CommonName: "client-only", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), Client: true})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	der := pemDER(t, cert)
	if _, err := Verify([][]byte{der}, pool, x509.ExtKeyUsageClientAuth, now); err != nil {
		t.Errorf("client usage: %v", err)
	}
	if _, err := Verify([][]byte{der}, pool, x509.ExtKeyUsageServerAuth, now); err == nil {
		t.Error("a client-only certificate verified as a server's")
	}
}

// trustingAnyServer makes an outsider's dialing config accept any server,
// so that the handshake reaches the server's check of its certificate.
func trustingAnyServer(c *tls.Config) *tls.Config {
	c.VerifyPeerCertificate = nil
	return c
}
