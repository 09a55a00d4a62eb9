package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
)

// TestSecurity_HTTPSRefusesUnverifiedClients talks to the HTTPS API of a
// cluster that requires client certificates (http.tls.client_ca_file):
// plain HTTP gets Go's 400 "Client sent an HTTP request to an HTTPS
// server"; an HTTPS client without the cluster's CA fails to verify the
// node; a client without a client certificate, with one of another CA, or
// with an expired one is refused in the handshake. A client with the CA
// and a valid certificate is served (the control). The subtest dht_client
// checks what the Go client makes of such a refusal.
func TestSecurity_HTTPSRefusesUnverifiedClients(t *testing.T) {
	c := startCluster(t, clusterOptions{mutualTLS: true, https: true, clientCA: true, contextSecret: true})
	t.Run("raw_clients", func(t *testing.T) { c.httpsRawClients(t) })
	t.Run("dht_client", func(t *testing.T) { c.httpsDHTClient(t) })
}

func (c *cluster) httpsRawClients(t *testing.T) {
	now := time.Now()
	foreign := newPKI(t, "another-ca").issueValid(t, "foreign-client", "client").tlsCertificate(t)
	expired := c.pki.issue(t, "expired-client", "client", now.Add(-48*time.Hour), now.Add(-time.Hour)).tlsCertificate(t)
	valid := c.clientCred.tlsCertificate(t)

	type attempt struct {
		name   string
		scheme string
		tls    *tls.Config
		// want checks the outcome: the response's status and body, or the
		// error.
		want func(status int, body string, err error) error
	}
	refusedCert := func(_ int, _ string, err error) error {
		if err == nil {
			return errors.New("served")
		}
		if !client.IsCertificateRefused(err) {
			return errors.New("not a certificate refusal: " + err.Error())
		}
		return nil
	}
	withCA := func(cert *tls.Certificate) *tls.Config {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.pki.pool()}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return cfg
	}
	attempts := []attempt{
		{"plain HTTP to the HTTPS port", "http", nil, func(status int, body string, err error) error {
			if err != nil {
				return err
			}
			if status != http.StatusBadRequest || !strings.Contains(body, "Client sent an HTTP request to an HTTPS server") {
				return errors.New("not Go's 400 for plain HTTP on an HTTPS port")
			}
			return nil
		}},
		{"HTTPS without the cluster's CA (system roots)", "https", &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{valid}},
			func(_ int, _ string, err error) error {
				if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
					return errors.New("not an unknown-authority error")
				}
				return nil
			}},
		{"HTTPS with the CA, no client certificate", "https", withCA(nil), refusedCert},
		{"HTTPS with the CA, client certificate of another CA", "https", withCA(&foreign), refusedCert},
		{"HTTPS with the CA, expired client certificate", "https", withCA(&expired), refusedCert},
		{"HTTPS with the CA and a valid client certificate (control)", "https", withCA(&valid), func(status int, _ string, err error) error {
			if err != nil {
				return err
			}
			if status != http.StatusOK {
				return errors.New("not 200")
			}
			return nil
		}},
	}
	tb := newTable("GET /healthz on every node's HTTPS API port:", "client", "node", "outcome", "as wanted")
	for _, a := range attempts {
		for _, n := range c.nodes {
			hc := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{TLSClientConfig: a.tls, DisableKeepAlives: true}}
			status, body, err := get(hc, a.scheme+"://"+n.Addr()+"/healthz")
			outcome := describe(err)
			if err == nil {
				outcome = clip(fmt.Sprintf("%d %s", status, body), 90)
			}
			verdict := "yes"
			if werr := a.want(status, body, err); werr != nil {
				verdict = "NO: " + werr.Error()
				t.Errorf("%s, %s: %v (status %d, error %v)", a.name, n.ID(), werr, status, err)
			}
			tb.add(a.name, n.ID(), outcome, clip(verdict, 60))
		}
	}
	tb.log(t)

}

// dhtClientAttempts is how many refused writes httpsDHTClient makes per
// node: how the refusal reaches the client is a race (the TLS 1.3 alert
// against the request's first write), so one try proves little.
const dhtClientAttempts = 8

// httpsDHTClient writes with the dht client (client.WithTLS, the
// cluster's CA, no client certificate) to nodes that require client
// certificates. The node refuses the handshake, so the write was never
// read: the client must report a certificate refusal
// (client.IsCertificateRefused, which dhtctl's advice relies on) and must
// not call the write indeterminate. The nodes' HTTPS servers offer
// HTTP/2, which the client uses.
func (c *cluster) httpsDHTClient(t *testing.T) {
	cfg, err := client.TLSConfig(c.pki.caFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tb := newTable(fmt.Sprintf("dht client with the CA and no client certificate, %d writes per node to an API that requires one:", dhtClientAttempts),
		"node", "IsCertificateRefused", "IsIndeterminate", "neither", "an error seen")
	bad := 0
	for _, n := range c.nodes {
		var refused, indeterminate, neither int
		seen := map[string]bool{}
		var examples []string
		for range dhtClientAttempts {
			// A client per attempt: each write makes a fresh connection.
			cl, err := client.New(c.url(n), client.WithTLS(cfg))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			_, err = cl.Put(ctx, "sec/https/no-client-cert", []byte("x"), nil)
			cancel()
			if err == nil {
				t.Fatalf("%s served a write without a client certificate", n.ID())
			}
			isRefused, isIndeterminate := client.IsCertificateRefused(err), client.IsIndeterminate(err)
			switch {
			case isIndeterminate:
				indeterminate++
			case isRefused:
				refused++
			default:
				neither++
			}
			if !isRefused || isIndeterminate {
				bad++
				if msg := shortCause(err); !seen[msg] {
					seen[msg] = true
					examples = append(examples, msg)
				}
			}
		}
		tb.add(n.ID(), refused, indeterminate, neither, clip(strings.Join(examples, " | "), 100))
	}
	tb.log(t)
	if bad > 0 {
		t.Errorf("%d of %d writes refused in the TLS handshake (no client certificate) were reported as indeterminate or not as a certificate refusal",
			bad, dhtClientAttempts*len(c.nodes))
	}
	// The control: nothing of the refused writes landed, and the same
	// write with the client certificate is served.
	if o, err := c.read(c.nodes[0], "sec/https/no-client-cert", 3); err != nil || o.Found {
		t.Errorf("read with the right credentials: found %v, error %v; want not found", o != nil && o.Found, err)
	}
	if _, err := c.write(c.nodes[0], "sec/https/no-client-cert", "x", "", 3); err != nil {
		t.Errorf("write with the right credentials: %v", err)
	}
}

// shortCause is the end of an error's text, after the URL.
func shortCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "\": "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

// get GETs url and returns the status and the start of the body.
func get(hc *http.Client, url string) (int, string, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}
