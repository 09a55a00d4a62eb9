package security

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
)

// rotationWindow is how long clients write while the certificates
// rotate; rotationWriters is how many write at once.
const (
	rotationWindow  = 15 * time.Second
	rotationWriters = 4
	// pickupTimeout bounds the wait for a node to serve its new
	// certificate; the nodes poll their files every 2 s.
	pickupTimeout = 60 * time.Second
)

// TestSecurity_CertificateRotationWithoutRestart re-issues every node's
// certificate (same CA, new serial and validity) and overwrites the
// files in place while clients write continuously with w=3 through all
// nodes for 15 s. Every node must present the new certificate on its
// remote port (a fresh mutual-TLS handshake with a member certificate)
// and on its HTTPS API within a deadline, with the same process (no
// restart), and no write may fail.
func TestSecurity_CertificateRotationWithoutRestart(t *testing.T) {
	c := startCluster(t, clusterOptions{mutualTLS: true, https: true, clientCA: true, contextSecret: true})
	pids := map[string]int{}
	for _, n := range c.nodes {
		pids[n.ID()] = n.Pid()
	}
	oldSerials := map[string]string{}
	for id, cred := range c.nodeCreds {
		oldSerials[id] = cred.serial.Text(16)
	}
	// The serials each node serves before the rotation.
	before := newTable("before the rotation:", "node", "issued serial", "remote port serves", "HTTPS serves")
	for _, n := range c.nodes {
		r, h := c.servedSerials(t, n.ID())
		before.add(n.ID(), oldSerials[n.ID()], r, h)
		if r != oldSerials[n.ID()] || h != oldSerials[n.ID()] {
			t.Fatalf("%s serves %s on its remote port and %s on HTTPS before the rotation, issued %s", n.ID(), r, h, oldSerials[n.ID()])
		}
	}
	before.log(t)

	// Clients write continuously.
	var attempted, failed atomic.Int64
	var errMu sync.Mutex
	var errs []string
	stopWriting := make(chan struct{})
	var wg sync.WaitGroup
	writeStart := time.Now()
	for w := range rotationWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(rotationWindow)
			clients := make([]*client.Client, len(c.nodes))
			for i, n := range c.nodes {
				clients[i] = c.client(n)
			}
			// Bounded by the window and by count.
			for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
				select {
				case <-stopWriting:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				_, err := clients[(w+i)%len(clients)].Put(ctx, fmt.Sprintf("sec/rotation/%d/%d", w, i), []byte("v"), &client.WriteOptions{W: 3})
				cancel()
				attempted.Add(1)
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					errs = append(errs, err.Error())
					errMu.Unlock()
				}
			}
		}()
	}
	defer func() {
		close(stopWriting)
		wg.Wait()
	}()

	// Let some writes through first, then rotate.
	if err := retry(30*time.Second, func() error {
		if attempted.Load() < 20 {
			return errors.New("fewer than 20 writes so far")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rotatedAt := time.Now()
	now := time.Now()
	newSerials := map[string]string{}
	for _, id := range nodeIDs {
		old := c.nodeCreds[id]
		cred, err := c.pki.reissue(id, now.Add(-time.Minute), now.Add(72*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// Overwritten in place, certificate first: a node that reads
		// between the two writes sees a pair that does not match and must
		// keep the old one until the next poll.
		if err := os.WriteFile(old.certFile, cred.certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(old.keyFile, cred.keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		cred.certFile, cred.keyFile = old.certFile, old.keyFile
		c.nodeCreds[id] = cred
		newSerials[id] = cred.serial.Text(16)
	}

	// Each node serves the new certificate on both ports, without a
	// restart.
	pickup := newTable("after overwriting the files:", "node", "new serial", "remote port serves", "HTTPS serves", "picked up after", "same process")
	for _, n := range c.nodes {
		var r, h string
		err := retry(pickupTimeout, func() error {
			r, h = c.servedSerials(t, n.ID())
			if r != newSerials[n.ID()] || h != newSerials[n.ID()] {
				return fmt.Errorf("%s serves %s on its remote port and %s on HTTPS, want %s", n.ID(), r, h, newSerials[n.ID()])
			}
			return nil
		})
		same := n.Running() && n.Pid() == pids[n.ID()]
		pickup.add(n.ID(), newSerials[n.ID()], r, h, time.Since(rotatedAt).Round(100*time.Millisecond), same)
		if err != nil {
			t.Error(err)
		}
		if !same {
			t.Errorf("%s was restarted or exited (pid %d, was %d, running %v)", n.ID(), n.Pid(), pids[n.ID()], n.Running())
		}
	}
	pickup.log(t)

	wg.Wait()
	written := newTable(fmt.Sprintf("w=3 writes through all nodes for %v, %d writers, rotation %v in:", time.Since(writeStart).Round(100*time.Millisecond),
		rotationWriters, rotatedAt.Sub(writeStart).Round(100*time.Millisecond)), "attempted", "failed")
	written.add(attempted.Load(), failed.Load())
	written.log(t)
	if failed.Load() > 0 {
		errMu.Lock()
		for i, e := range errs {
			if i == 5 {
				t.Logf("… and %d more", len(errs)-i)
				break
			}
			t.Logf("failed write: %s", e)
		}
		errMu.Unlock()
		t.Errorf("%d of %d writes failed during the rotation", failed.Load(), attempted.Load())
	}
	// Traffic between the nodes still works on the new certificates:
	// every node serves a w=3 write and an r=3 read.
	c.checkAllServing("rotated")
}

// reissue signs a new node certificate for id, without writing files.
func (p *pki) reissue(id string, notBefore, notAfter time.Time) (credential, error) {
	certPEM, keyPEM, err := p.ca.Issue(certLeaf(id, notBefore, notAfter))
	if err != nil {
		return credential{}, err
	}
	leaf, err := parseCertPEM(certPEM)
	if err != nil {
		return credential{}, err
	}
	return credential{certPEM: certPEM, keyPEM: keyPEM, commonName: id, serial: leaf.SerialNumber,
		notBefore: leaf.NotBefore, notAft: leaf.NotAfter}, nil
}

// servedSerials returns the serials (hex) of the certificates node id
// presents on its remote port, to a client holding another member's
// certificate, and on its HTTPS API, in fresh handshakes; an error is
// returned in place of the serial.
func (c *cluster) servedSerials(t *testing.T, id string) (remote, api string) {
	t.Helper()
	member := nodeIDs[0]
	if member == id {
		member = nodeIDs[1]
	}
	cert := c.nodeCreds[member].tlsCertificate(t)
	state, err := tlsProbe(c.remote[id], peerTLS(&cert))
	remote = serialOf(state, err)
	cfg := c.apiTLS.Clone()
	cfg.ServerName = "127.0.0.1"
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", c.node(id).Addr(), cfg)
	if err != nil {
		return remote, "error: " + clip(err.Error(), 60)
	}
	defer conn.Close()
	return remote, serialOf(conn.ConnectionState(), nil)
}

func serialOf(state tls.ConnectionState, err error) string {
	if err != nil {
		return "error: " + clip(err.Error(), 60)
	}
	if len(state.PeerCertificates) == 0 {
		return "no certificate"
	}
	return state.PeerCertificates[0].SerialNumber.Text(16)
}
