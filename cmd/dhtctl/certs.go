package main

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/cluster/certs"
)

// groupSetup is the help group of the commands that work locally, before
// or beside a cluster, rather than talking to a node.
const groupSetup = "setup"

// The files of a certificate directory: the CA's, and NAME.crt, NAME.key
// for each certificate issued.
const (
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"
	certExt    = ".crt"
	keyExt     = ".key"
)

const (
	defaultCertValidity = 365 * 24 * time.Hour
	defaultCAValidity   = 10 * 365 * 24 * time.Hour
	// certBackdate starts a certificate's validity a little in the past, so
	// that a node whose clock is slightly behind accepts it at once.
	certBackdate = 5 * time.Minute
)

// defaultCertHosts makes the certificates good for a cluster on one
// machine, which is what a development CA is mostly for.
var defaultCertHosts = []string{"localhost", "127.0.0.1", "::1"}

// certName is what a node id or client name must look like to name its
// files: no path separators, no leading dot.
var certName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// dnsName is a host name that can serve as a DNS subject alternative name.
var dnsName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// certsOptions are the flags of dhtctl certs.
type certsOptions struct {
	dir                  string
	nodes, hosts         []string
	client               string
	validity, caValidity time.Duration
	force, asJSON        bool
}

func (a *app) certsCmd() *cobra.Command {
	o := certsOptions{}
	cmd := &cobra.Command{
		Use:     "certs --dir DIR [--nodes ID,...] [--client NAME]",
		GroupID: groupSetup,
		Short:   "Make a development CA and certificates for nodes and clients",
		Long: `Make the TLS material of a cluster without openssl: a certificate authority
and, signed by it, one certificate per node and optionally one for a client.
It works locally and talks to no node.

In DIR it writes:

  ca.crt, ca.key       the CA (made on the first run, reused afterwards)
  ID.crt, ID.key       for each node of --nodes: subject CN = the node id,
                       valid for client and server authentication, and for
                       the --hosts (and the node id, when it is a host name),
                       so one certificate serves the remote port (mutual TLS
                       between nodes) and the HTTP API
  NAME.crt, NAME.key   with --client: subject CN = NAME, for client
                       authentication only, to reach a node that requires
                       client certificates (http.tls.client_ca_file)

Keys are written with mode 0600. The CA is reused when DIR holds one, so
nodes can be added later and certificates re-issued before they expire; an
existing certificate is replaced only with --force (nodes re-read their
files within seconds, so this rotates them without a restart). To start over
with a new CA, delete DIR.

Start node ID with:

  --cluster.tls.ca_file DIR/ca.crt --cluster.tls.cert_file DIR/ID.crt --cluster.tls.key_file DIR/ID.key
  --http.tls.cert_file DIR/ID.crt --http.tls.key_file DIR/ID.key      (HTTPS)
  --http.tls.client_ca_file DIR/ca.crt                                 (require client certificates)

and talk to it with --addr https://HOST:PORT --cacert DIR/ca.crt (and --cert,
--key for a client certificate). A development CA is for development and
tests: production clusters usually take their certificates from cert-manager
or their own PKI.

What was written is listed on stderr; --json prints it on stdout as well.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeCerts(cmd.OutOrStdout(), cmd.ErrOrStderr(), o, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "`DIR` to write the files to (created if missing)")
	f.StringSliceVar(&o.nodes, "nodes", nil, "node `IDS` to issue certificates for (comma-separated, or the flag repeated)")
	f.StringSliceVar(&o.hosts, "hosts", defaultCertHosts, "host names and IP `ADDRESSES` the node certificates are valid for, as clients address the nodes")
	f.StringVar(&o.client, "client", "", "also issue a client certificate with `NAME` as its CN")
	f.DurationVar(&o.validity, "validity", defaultCertValidity, "how long the node and client certificates are valid")
	f.DurationVar(&o.caValidity, "ca-validity", defaultCAValidity, "how long a new CA is valid (an existing one is kept as it is)")
	f.BoolVar(&o.force, "force", false, "replace certificates that exist already (the CA is always kept)")
	f.BoolVar(&o.asJSON, "json", false, "print the files written as JSON on stdout")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// certsResult is what dhtctl certs wrote; --json prints it.
type certsResult struct {
	Dir    string   `json:"dir"`
	CA     caResult `json:"ca"`
	Nodes  []issued `json:"nodes"`
	Client *issued  `json:"client,omitempty"`
}

type caResult struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	// Created is false when the CA in the directory was reused.
	Created  bool      `json:"created"`
	NotAfter time.Time `json:"not_after"`
}

// issued is one certificate written.
type issued struct {
	Name     string    `json:"name"`
	Cert     string    `json:"cert"`
	Key      string    `json:"key"`
	Hosts    []string  `json:"hosts,omitempty"`
	NotAfter time.Time `json:"not_after"`
	// Replaced is set when --force overwrote an earlier certificate.
	Replaced bool `json:"replaced,omitempty"`
}

// pending is a certificate to issue and write.
type pending struct {
	leaf     certs.Leaf
	replaced bool
}

// writeCerts carries out dhtctl certs at now. It checks everything it can
// before writing anything, so that a refusal leaves the directory as it
// was.
func writeCerts(stdout, stderr io.Writer, o certsOptions, now time.Time) error {
	if err := o.validate(); err != nil {
		return err
	}
	caCert, caKey := filepath.Join(o.dir, caCertFile), filepath.Join(o.dir, caKeyFile)
	ca, err := loadCA(caCert, caKey)
	if err != nil {
		return err
	}
	created := ca == nil
	if !created && len(o.nodes) == 0 && o.client == "" {
		return usageErrorf("%s already holds a CA and there is nothing to issue: name nodes with --nodes or a client with --client", o.dir)
	}

	var todo []pending
	var exist []string
	add := func(leaf certs.Leaf) {
		p := pending{leaf: leaf}
		for _, path := range []string{filepath.Join(o.dir, leaf.CommonName+certExt), filepath.Join(o.dir, leaf.CommonName+keyExt)} {
			if _, err := os.Lstat(path); err == nil {
				p.replaced = true
				exist = append(exist, path)
			}
		}
		todo = append(todo, p)
	}
	for _, id := range o.nodes {
		hosts := slices.Clone(o.hosts)
		if dnsName.MatchString(id) && !slices.Contains(hosts, id) {
			hosts = append(hosts, id)
		}
		add(certs.Leaf{CommonName: id, Hosts: hosts, Client: true, Server: true})
	}
	if o.client != "" {
		add(certs.Leaf{CommonName: o.client, Client: true})
	}
	if len(exist) > 0 && !o.force {
		return fmt.Errorf("%s exist already; pass --force to replace them (nodes re-read their files, so this rotates their certificates), or choose other names",
			strings.Join(exist, ", "))
	}

	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("creating the directory: %w", err)
	}
	res := certsResult{Dir: o.dir, CA: caResult{Cert: caCert, Key: caKey, Created: created}, Nodes: []issued{}}
	if created {
		if ca, err = certs.NewAuthority("dht development CA "+now.UTC().Format("2006-01-02T15:04:05Z"), now, o.caValidity); err != nil {
			return fmt.Errorf("making the CA: %w", err)
		}
		keyPEM, err := ca.KeyPEM()
		if err != nil {
			return fmt.Errorf("encoding the CA key: %w", err)
		}
		// The key first: a CA certificate without its key would stop the
		// next run, while a key alone is simply replaced.
		if err := writeFileAtomic(caKey, keyPEM, 0o600); err != nil {
			return err
		}
		if err := writeFileAtomic(caCert, ca.CertPEM(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s, %s: a new CA, valid until %s\n", caCert, caKey, formatDay(ca.Cert.NotAfter))
	} else {
		fmt.Fprintf(stderr, "using the CA in %s, valid until %s\n", caCert, formatDay(ca.Cert.NotAfter))
	}
	res.CA.NotAfter = ca.Cert.NotAfter.UTC()

	// A certificate cannot outlast the CA that signed it. Certificates
	// keep whole seconds.
	notAfter := now.Add(o.validity).Truncate(time.Second)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
		fmt.Fprintf(stderr, "warning: the CA expires before --validity ends; the certificates end with it, on %s\n", formatDay(notAfter))
	}
	for _, p := range todo {
		leaf := p.leaf
		leaf.NotBefore, leaf.NotAfter = now.Add(-certBackdate), notAfter
		certPEM, keyPEM, err := ca.Issue(leaf)
		if err != nil {
			return fmt.Errorf("issuing the certificate of %s: %w", leaf.CommonName, err)
		}
		out := issued{Name: leaf.CommonName, Cert: filepath.Join(o.dir, leaf.CommonName+certExt), Key: filepath.Join(o.dir, leaf.CommonName+keyExt),
			Hosts: leaf.Hosts, NotAfter: notAfter.UTC(), Replaced: p.replaced}
		// The key first, then the certificate: a node that reads the pair
		// in between sees a mismatch and keeps its previous pair.
		if err := writeFileAtomic(out.Key, keyPEM, 0o600); err != nil {
			return err
		}
		if err := writeFileAtomic(out.Cert, certPEM, 0o644); err != nil {
			return err
		}
		verb := "wrote"
		if p.replaced {
			verb = "replaced"
		}
		if leaf.Server {
			fmt.Fprintf(stderr, "%s %s, %s: node %s, for %s, valid until %s\n", verb, out.Cert, out.Key, leaf.CommonName, strings.Join(leaf.Hosts, ", "), formatDay(notAfter))
			res.Nodes = append(res.Nodes, out)
		} else {
			fmt.Fprintf(stderr, "%s %s, %s: client %s, valid until %s\n", verb, out.Cert, out.Key, leaf.CommonName, formatDay(notAfter))
			res.Client = &out
		}
	}
	if len(res.Nodes) > 0 {
		id := res.Nodes[0].Name
		fmt.Fprintf(stderr, "start node %s with --cluster.tls.ca_file %s --cluster.tls.cert_file %s --cluster.tls.key_file %s"+
			" (and --http.tls.cert_file, --http.tls.key_file the same for HTTPS), and point dhtctl at it with %s=%s\n",
			id, caCert, res.Nodes[0].Cert, res.Nodes[0].Key, envCACert, caCert)
	}
	if o.asJSON {
		return encodeIndented(stdout, res)
	}
	return nil
}

// validate checks the flags of dhtctl certs.
func (o certsOptions) validate() error {
	if o.dir == "" {
		return usageErrorf("--dir must not be empty")
	}
	seen := map[string]bool{}
	names := slices.Clone(o.nodes)
	if o.client != "" {
		names = append(names, o.client)
	}
	for _, n := range names {
		switch {
		case !certName.MatchString(n):
			return usageErrorf("%q cannot name a certificate: use letters, digits, '.', '_' and '-', starting with a letter or digit", n)
		case n == strings.TrimSuffix(caCertFile, certExt):
			return usageErrorf("%q is the CA's file name; name the node or client otherwise", n)
		case seen[n]:
			return usageErrorf("%q is named twice (--nodes and --client name one certificate each)", n)
		}
		seen[n] = true
	}
	if len(o.nodes) > 0 && len(o.hosts) == 0 {
		return usageErrorf("--hosts must name at least one host: clients check the node's certificate against the address they dial")
	}
	for _, h := range o.hosts {
		if net.ParseIP(h) == nil && !dnsName.MatchString(strings.TrimPrefix(h, "*.")) {
			return usageErrorf("--hosts: %q is not a host name or IP address (without port or scheme)", h)
		}
	}
	if o.validity <= 0 {
		return usageErrorf("--validity must be positive, got %v", o.validity)
	}
	if o.caValidity <= 0 {
		return usageErrorf("--ca-validity must be positive, got %v", o.caValidity)
	}
	return nil
}

// loadCA reads the CA of a certificate directory; nil when it has none.
func loadCA(certPath, keyPath string) (*certs.Authority, error) {
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return nil, nil
	case errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("%s exists but %s does not: restore the CA certificate, or delete the directory to start over with a new CA", keyPath, certPath)
	case errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("%s exists but %s does not: a CA without its key cannot issue certificates; restore the key, or delete the directory to start over with a new CA", certPath, keyPath)
	case certErr != nil:
		return nil, fmt.Errorf("reading the CA: %w", certErr)
	case keyErr != nil:
		return nil, fmt.Errorf("reading the CA: %w", keyErr)
	}
	ca, err := certs.LoadAuthority(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the CA in %s and %s: %w", certPath, keyPath, err)
	}
	if pub, ok := ca.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(ca.Key.Public()) {
		return nil, fmt.Errorf("%s is not the key of %s", keyPath, certPath)
	}
	return ca, nil
}

// writeFileAtomic writes data to path with perm through a temporary file
// renamed over it, so that a node polling path never reads half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// formatDay prints a certificate's end in UTC to the minute.
func formatDay(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
