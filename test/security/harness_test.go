package security

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/test/process"
)

func TestMain(m *testing.M) { process.Main(m) }

// Bounds of the suite's waits. They are generous: a loaded CI machine
// runs three -race builds of dhtd at once.
const (
	startTimeout   = 90 * time.Second
	settleTimeout  = 90 * time.Second
	requestTimeout = 15 * time.Second
	pollInterval   = 100 * time.Millisecond
)

// contextSecret is the security.context_secret of the clusters that sign
// their contexts.
const contextSecret = "security-suite-context-secret-0123456789"

// partitions is the ring size of the suite's clusters: small, so that
// startup and settling stay quick.
const partitions = 64

// nodeIDs are the ids of a cluster's three nodes.
var nodeIDs = []string{"n1", "n2", "n3"}

// pki is a cluster's certificate authority and the files it issued.
type pki struct {
	dir    string
	ca     *certs.Authority
	caFile string
}

// newPKI makes a CA in a fresh temporary directory.
func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	ca, err := certs.NewAuthority(name, time.Now(), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir(), ca: ca}
	p.caFile = filepath.Join(p.dir, "ca.crt")
	writeFile(t, p.caFile, ca.CertPEM())
	return p
}

// credential is a certificate and key, as PEM and as files.
type credential struct {
	certPEM, keyPEM   []byte
	certFile, keyFile string
	serial            *big.Int
	notBefore, notAft time.Time
	commonName        string
}

// issue signs a node certificate (client and server use) for id, valid
// from notBefore to notAfter, and writes it as <name>.crt and <name>.key.
func (p *pki) issue(t testing.TB, name, id string, notBefore, notAfter time.Time) credential {
	t.Helper()
	certPEM, keyPEM, err := p.ca.Issue(certLeaf(id, notBefore, notAfter))
	if err != nil {
		t.Fatal(err)
	}
	c := credential{certPEM: certPEM, keyPEM: keyPEM, commonName: id,
		certFile: filepath.Join(p.dir, name+".crt"), keyFile: filepath.Join(p.dir, name+".key")}
	leaf := parseCert(t, certPEM)
	c.serial, c.notBefore, c.notAft = leaf.SerialNumber, leaf.NotBefore, leaf.NotAfter
	writeFile(t, c.certFile, certPEM)
	writeFile(t, c.keyFile, keyPEM)
	return c
}

// issueValid is issue with a validity from an hour ago to a day ahead.
func (p *pki) issueValid(t testing.TB, name, id string) credential {
	now := time.Now()
	return p.issue(t, name, id, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// tlsCertificate returns c as a tls.Certificate.
func (c credential) tlsCertificate(t testing.TB) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(c.certPEM, c.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// pool returns a cert pool holding the CA.
func (p *pki) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	return pool
}

// certLeaf describes a node certificate for id: client and server use,
// valid for the loopback address.
func certLeaf(id string, notBefore, notAfter time.Time) certs.Leaf {
	return certs.Leaf{
		CommonName: id, Hosts: []string{"127.0.0.1", "localhost"},
		NotBefore: notBefore, NotAfter: notAfter, Client: true, Server: true,
	}
}

func parseCertPEM(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return nil, errors.New("no PEM block in a certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parseCert(t testing.TB, certPEM []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// clusterOptions choose a test cluster's security settings.
type clusterOptions struct {
	// mutualTLS runs the remote port with mutual TLS (cluster.tls.*).
	mutualTLS bool
	// https serves the HTTP API over TLS with the node's certificate.
	https bool
	// clientCA requires client certificates on the HTTP API
	// (http.tls.client_ca_file); it implies https.
	clientCA bool
	// contextSecret sets security.context_secret.
	contextSecret bool
}

// cluster is three dhtd processes that form one cluster.
type cluster struct {
	t     *testing.T
	opts  clusterOptions
	nodes []*process.Node
	// pki is the cluster's CA; nil without TLS of any kind.
	pki *pki
	// nodeCreds are the node certificates, by node id.
	nodeCreds map[string]credential
	// clientCred is the HTTP API client certificate (clientCA).
	clientCred credential
	// apiTLS is how the suite's clients reach an https API.
	apiTLS *tls.Config
	// remote holds each node's actor (gRPC) address, by node id.
	remote map[string]string
}

// startCluster starts three nodes with opts, waits until they are ready,
// agree on a ring of three owners and have settled their handoffs.
func startCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	if opts.clientCA {
		opts.https = true
	}
	c := &cluster{t: t, opts: opts, nodeCreds: map[string]credential{}, remote: map[string]string{}}
	if opts.mutualTLS || opts.https {
		c.pki = newPKI(t, "security-suite-ca")
		for _, id := range nodeIDs {
			c.nodeCreds[id] = c.pki.issueValid(t, id, id)
		}
		c.apiTLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.pki.pool()}
		if opts.clientCA {
			c.clientCred = c.pki.issueValid(t, "client", "security-suite-client")
			c.apiTLS.Certificates = []tls.Certificate{c.clientCred.tlsCertificate(t)}
		}
	}
	// Build dhtd (once per test binary) before the clock starts.
	process.Binary(t)
	start := time.Now()
	c.nodes = make([]*process.Node, len(nodeIDs))
	for i, id := range nodeIDs {
		seeds := ""
		if i > 0 {
			seeds = c.nodes[0].GossipAddr()
		}
		c.nodes[i] = process.Launch(t, process.Options{ID: id, Args: c.args(id, seeds)})
	}
	for _, n := range c.nodes {
		c.waitReady(n)
	}
	ready := time.Since(start)
	c.waitSettled()
	c.learnRemoteAddrs()
	t.Logf("cluster ready in %v, settled in %v: mutual TLS %v, HTTPS %v, client certificates %v, context secret %v",
		ready.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond), opts.mutualTLS, opts.https, opts.clientCA, opts.contextSecret)
	return c
}

// args are the flags of node id.
func (c *cluster) args(id, seeds string) []string {
	args := []string{
		"--replication.n", "3", "--replication.r", "2", "--replication.w", "2",
		"--ring.partitions", strconv.Itoa(partitions),
		"--cluster.seeds", seeds,
		"--storage.engine", "memory",
	}
	if c.opts.mutualTLS {
		cred := c.nodeCreds[id]
		args = append(args, "--cluster.tls.ca_file", c.pki.caFile,
			"--cluster.tls.cert_file", cred.certFile, "--cluster.tls.key_file", cred.keyFile)
	}
	if c.opts.https {
		cred := c.nodeCreds[id]
		args = append(args, "--http.tls.cert_file", cred.certFile, "--http.tls.key_file", cred.keyFile)
		if c.opts.clientCA {
			args = append(args, "--http.tls.client_ca_file", c.pki.caFile)
		}
	}
	if c.opts.contextSecret {
		args = append(args, "--security.context_secret", contextSecret)
	}
	return args
}

// scheme is the HTTP API's URL scheme.
func (c *cluster) scheme() string {
	if c.opts.https {
		return "https"
	}
	return "http"
}

// url returns node n's API base URL.
func (c *cluster) url(n *process.Node) string { return c.scheme() + "://" + n.Addr() }

// httpClient returns an HTTP client that reaches the cluster's API (its
// CA, and its client certificate when one is required).
func (c *cluster) httpClient() *http.Client {
	hc := process.HTTPClient()
	if c.apiTLS != nil {
		hc.Transport.(*http.Transport).TLSClientConfig = c.apiTLS.Clone()
	}
	return hc
}

// client returns a dht client of node n.
func (c *cluster) client(n *process.Node) *client.Client {
	c.t.Helper()
	cl, err := client.New(c.url(n), client.WithHTTPClient(c.httpClient()), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
	if err != nil {
		c.t.Fatalf("client of %s: %v", n.ID(), err)
	}
	return cl
}

// node returns the node with id.
func (c *cluster) node(id string) *process.Node {
	for _, n := range c.nodes {
		if n.ID() == id {
			return n
		}
	}
	c.t.Fatalf("no node %q", id)
	return nil
}

// waitReady polls node n's /readyz over the API's scheme until it answers
// 200, the process exits, or startTimeout passes. (process.Node.WaitReady
// probes over plain HTTP, which an HTTPS API refuses.)
func (c *cluster) waitReady(n *process.Node) {
	c.t.Helper()
	hc := c.httpClient()
	hc.Timeout = 2 * time.Second
	err := retry(startTimeout, func() error {
		if !n.Running() {
			return stop(fmt.Errorf("%s exited before it was ready", n.ID()))
		}
		return expectStatus(hc, c.url(n)+"/readyz", http.StatusOK)
	})
	if err != nil {
		c.t.Fatalf("%s: %v", n.ID(), err)
	}
}

// waitSettled waits until every node sees three alive owners and no
// handoff is left, so that what a test then measures is its own doing.
func (c *cluster) waitSettled() {
	c.t.Helper()
	err := retry(settleTimeout, func() error {
		if err := c.allOwnersAlive(); err != nil {
			return err
		}
		for _, n := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			st, err := c.client(n).Status(ctx)
			cancel()
			if err != nil {
				return err
			}
			if h := st.Handoff; h.Pending != 0 || h.Draining != 0 || len(h.Active) != 0 || !h.Settled {
				return fmt.Errorf("%s: handoffs not settled (%d pending, %d draining, %d active)", n.ID(), h.Pending, h.Draining, len(h.Active))
			}
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("cluster did not settle: %v", err)
	}
}

// allOwnersAlive checks that every node sees every node alive and an
// owner, and nothing else.
func (c *cluster) allOwnersAlive() error {
	for _, n := range c.nodes {
		ms, err := c.members(n)
		if err != nil {
			return err
		}
		owners := 0
		for _, m := range ms {
			if m.Owner && m.Status == client.MemberAlive {
				owners++
			}
		}
		if owners != len(c.nodes) || len(ms) != len(c.nodes) {
			return fmt.Errorf("%s sees %d members, %d of them alive owners: %+v", n.ID(), len(ms), owners, ms)
		}
	}
	return nil
}

func (c *cluster) members(n *process.Node) ([]client.Member, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.client(n).Members(ctx)
}

// ringVersion returns node n's ring version.
func (c *cluster) ringVersion(n *process.Node) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	r, err := c.client(n).Ring(ctx)
	if err != nil {
		return 0, err
	}
	return r.Version, nil
}

// learnRemoteAddrs reads each node's actor address from the admin API.
func (c *cluster) learnRemoteAddrs() {
	c.t.Helper()
	ms, err := c.members(c.nodes[0])
	if err != nil {
		c.t.Fatal(err)
	}
	for _, m := range ms {
		c.remote[m.ID] = m.RemoteAddr
	}
	for _, id := range nodeIDs {
		if c.remote[id] == "" {
			c.t.Fatalf("no remote address for %s in %+v", id, ms)
		}
	}
}

// refusedTotal reads dht_remote_refused_total from node n's /metrics.
func (c *cluster) refusedTotal(n *process.Node) (float64, error) {
	return c.metric(n, "dht_remote_refused_total")
}

// metric reads one unlabelled counter or gauge from node n's /metrics.
func (c *cluster) metric(n *process.Node, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(n)+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s /metrics: %s", n.ID(), resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	// A counter never incremented may be absent.
	return 0, nil
}

// refusedTotals reads every node's refusal counter.
func (c *cluster) refusedTotals() map[string]float64 {
	c.t.Helper()
	out := map[string]float64{}
	for _, n := range c.nodes {
		v, err := c.refusedTotal(n)
		if err != nil {
			c.t.Fatalf("%s: %v", n.ID(), err)
		}
		out[n.ID()] = v
	}
	return out
}

// checkServing proves node n is alive and serving: its process runs,
// /healthz answers 200, and a w=3 write and an r=3 read through it
// succeed (retried until a deadline: a node's peers may still be
// reconnecting after an attack closed streams).
func (c *cluster) checkServing(n *process.Node, tag string) error {
	if !n.Running() {
		return fmt.Errorf("%s is not running", n.ID())
	}
	hc := c.httpClient()
	hc.Timeout = 5 * time.Second
	if err := retry(30*time.Second, func() error { return expectStatus(hc, c.url(n)+"/healthz", http.StatusOK) }); err != nil {
		return fmt.Errorf("%s /healthz: %w", n.ID(), err)
	}
	key := fmt.Sprintf("sec/alive/%s/%s", tag, n.ID())
	value := []byte(fmt.Sprintf("alive %s %d", tag, time.Now().UnixNano()))
	cl := c.client(n)
	return retry(60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		if _, err := cl.Put(ctx, key, value, &client.WriteOptions{W: 3}); err != nil {
			return fmt.Errorf("%s w=3 write: %w", n.ID(), err)
		}
		obj, err := cl.Get(ctx, key, &client.ReadOptions{R: 3})
		if err != nil {
			return fmt.Errorf("%s r=3 read: %w", n.ID(), err)
		}
		if !obj.Found || len(obj.Siblings) != 1 || string(obj.Siblings[0].Value) != string(value) {
			return fmt.Errorf("%s r=3 read: got %+v, want the value just written", n.ID(), obj.Siblings)
		}
		return nil
	})
}

// checkAllServing runs checkServing on every node, failing t on the first
// node that does not serve.
func (c *cluster) checkAllServing(tag string) {
	c.t.Helper()
	for _, n := range c.nodes {
		if err := c.checkServing(n, tag); err != nil {
			c.t.Fatal(err)
		}
	}
}

// expectStatus GETs url and compares the status.
func expectStatus(hc *http.Client, url string, want int) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %d %s, want %d", url, resp.StatusCode, strings.TrimSpace(string(body)), want)
	}
	return nil
}

// stopError marks an error retry must not retry.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }

func stop(err error) error { return stopError{err} }

// retry calls check until it returns nil, returns a stop error, or
// timeout passes; the attempts are bounded by time and by count.
func retry(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	maxAttempts := int(timeout/pollInterval) + 1
	var err error
	for range maxAttempts {
		if err = check(); err == nil {
			return nil
		}
		if _, ok := errors.AsType[stopError](err); ok {
			return err
		}
		if !time.Now().Before(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	return fmt.Errorf("still failing after %v: %w", timeout, err)
}
