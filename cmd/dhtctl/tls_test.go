package main

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dhtkv/dht/client/clienttest"
)

// tlsFake starts a fake node serving HTTPS with the certificate dhtctl
// certs wrote for node in dir; with clientCerts it requires client
// certificates from the CA in dir, as a node with http.tls.client_ca_file.
func tlsFake(t *testing.T, dir, node string, clientCerts bool) *clienttest.Server {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, node+".crt"), filepath.Join(dir, node+".key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCerts {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = x509.NewCertPool()
		cfg.ClientCAs.AddCert(readCert(t, filepath.Join(dir, "ca.crt")))
	}
	srv := clienttest.NewTLSServer("", cfg)
	t.Cleanup(srv.Close)
	return srv
}

func TestRun_TLS(t *testing.T) {
	dir := t.TempDir()
	runCerts(t, "--dir", dir, "--nodes", "node1", "--hosts", "127.0.0.1", "--client", "ops")
	otherDir := t.TempDir()
	runCerts(t, "--dir", otherDir, "--nodes", "node9", "--hosts", "node9.example", "--client", "stranger")

	tlsNode := tlsFake(t, dir, "node1", false)
	mtlsNode := tlsFake(t, dir, "node1", true)
	wrongHost := tlsFake(t, otherDir, "node9", false)
	plain := clienttest.NewServer("")
	t.Cleanup(plain.Close)

	ca := filepath.Join(dir, "ca.crt")
	cert, key := filepath.Join(dir, "ops.crt"), filepath.Join(dir, "ops.key")
	asHTTP := func(u string) string { return strings.Replace(u, "https://", "http://", 1) }
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		code  int
		wants []string // in stderr
	}{
		{name: "CA from the environment", env: map[string]string{envAddr: tlsNode.URL, envCACert: ca}, code: exitOK},
		{name: "CA from the flag", env: map[string]string{envAddr: tlsNode.URL}, args: []string{"--cacert", ca}, code: exitOK},
		{name: "flag overrides the environment", env: map[string]string{envAddr: tlsNode.URL, envCACert: filepath.Join(otherDir, "ca.crt")}, args: []string{"--cacert", ca}, code: exitOK},
		{name: "client certificate from the environment", env: map[string]string{envAddr: mtlsNode.URL, envCACert: ca, envCert: cert, envKey: key}, code: exitOK},
		{name: "client certificate from the flags", env: map[string]string{envAddr: mtlsNode.URL}, args: []string{"--cacert", ca, "--cert", cert, "--key", key}, code: exitOK},
		{
			name: "no CA", env: map[string]string{envAddr: tlsNode.URL}, code: exitError,
			wants: []string{"unknown authority", "--cacert FILE (or $DHTCTL_CACERT)"},
		},
		{
			name: "another CA", env: map[string]string{envAddr: tlsNode.URL, envCACert: filepath.Join(otherDir, "ca.crt")}, code: exitError,
			wants: []string{"unknown authority", "not signed by the CA in --cacert " + filepath.Join(otherDir, "ca.crt")},
		},
		{
			name: "http to an HTTPS node", env: map[string]string{envAddr: asHTTP(tlsNode.URL), envCACert: ca}, code: exitError,
			wants: []string{"400", "use --addr " + tlsNode.URL},
		},
		{
			name: "https to a plain node", env: map[string]string{envAddr: strings.Replace(plain.URL, "http://", "https://", 1), envCACert: ca}, code: exitError,
			wants: []string{"server gave HTTP response to HTTPS client", "use --addr " + plain.URL},
		},
		{
			name: "host not in the certificate", env: map[string]string{envAddr: wrongHost.URL, envCACert: filepath.Join(otherDir, "ca.crt")}, code: exitError,
			wants: []string{"node9.example", "dhtctl certs --hosts"},
		},
		{
			name: "client certificate missing", env: map[string]string{envAddr: mtlsNode.URL, envCACert: ca}, code: exitError,
			wants: []string{"requires a client certificate", "--cert and --key"},
		},
		{
			name: "client certificate from another CA", env: map[string]string{envAddr: mtlsNode.URL, envCACert: ca}, code: exitError,
			args:  []string{"--cert", filepath.Join(otherDir, "stranger.crt"), "--key", filepath.Join(otherDir, "stranger.key")},
			wants: []string{"refused the client certificate in --cert " + filepath.Join(otherDir, "stranger.crt")},
		},
		{
			name: "CA file missing", env: map[string]string{envAddr: tlsNode.URL, envCACert: filepath.Join(dir, "nope.crt")}, code: exitUsage,
			wants: []string{"--cacert", "nope.crt"},
		},
		{
			name: "certificate without key", env: map[string]string{envAddr: mtlsNode.URL, envCACert: ca, envCert: cert}, code: exitUsage,
			wants: []string{"needs its key file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// put and get take the key-value client, members the admin
			// one, events --follow its own transport.
			for _, cmd := range [][]string{{"put", "k", "v"}, {"get", "k"}, {"members"}, {"events", "--follow"}} {
				r := dhtctl(t, tt.env, "", append(append([]string(nil), tt.args...), cmd...)...)
				if (cmd[0] == "members" || cmd[0] == "events") && tt.code == exitOK {
					// The fake has no cluster view nor events: 503, over TLS.
					r.want(t, exitError)
					if !strings.Contains(r.stderr, "503") {
						t.Fatalf("members: stderr = %q, want the fake's 503", r.stderr)
					}
					continue
				}
				r.want(t, tt.code)
				for _, w := range tt.wants {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("%s: stderr = %q, want %q", cmd[0], r.stderr, w)
					}
				}
				if strings.Contains(r.stderr, "outcome unknown") {
					t.Errorf("%s: stderr = %q: a refused handshake sent nothing", cmd[0], r.stderr)
				}
			}
		})
	}
}

// TestStatus_TLS checks that status asks the other members over HTTPS, with
// the CA and client certificate given, when --addr is https://.
func TestStatus_TLS(t *testing.T) {
	dir := t.TempDir()
	runCerts(t, "--dir", dir, "--nodes", "node-a,node-b", "--hosts", "127.0.0.1", "--client", "ops")
	a, b := tlsFake(t, dir, "node-a", true), tlsFake(t, dir, "node-b", true)
	a.SetStatus(&clienttest.Status{Node: "node-a"})
	b.SetStatus(&clienttest.Status{Node: "node-b", HintsPending: map[string]int{"node-a": 4}})
	a.SetCluster(&clienttest.Cluster{Members: []clienttest.Member{
		{ID: "node-a", Status: "alive", Owner: true, HTTPAddr: strings.TrimPrefix(a.URL, "https://"), Self: true},
		{ID: "node-b", Status: "alive", Owner: true, HTTPAddr: strings.TrimPrefix(b.URL, "https://")},
	}})
	env := map[string]string{envAddr: a.URL, envCACert: filepath.Join(dir, "ca.crt"),
		envCert: filepath.Join(dir, "ops.crt"), envKey: filepath.Join(dir, "ops.key")}
	r := dhtctl(t, env, "", "status")
	r.want(t, exitOK)
	if strings.Contains(r.stdout, "unreachable") || !strings.Contains(r.stdout, "node-a=4") {
		t.Fatalf("stdout = %q, want both nodes' status", r.stdout)
	}
}
