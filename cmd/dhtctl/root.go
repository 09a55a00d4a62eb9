package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/buildinfo"
	"github.com/dhtkv/dht/client"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong; nothing was sent
)

const (
	defaultAddr    = "http://127.0.0.1:8080"
	defaultTimeout = 10 * time.Second
	envAddr        = "DHTCTL_ADDR"
	envToken       = "DHTCTL_TOKEN"
	envCACert      = "DHTCTL_CACERT"
	envCert        = "DHTCTL_CERT"
	envKey         = "DHTCTL_KEY"
)

// commands lists the constructors of the subcommands. Each command group
// lives in a file of its own; adding a group means writing its constructors
// there and listing them here.
var commands = []func(*app) *cobra.Command{
	(*app).getCmd,
	(*app).putCmd,
	(*app).deleteCmd,
	(*app).resolveCmd,
	(*app).lsCmd,
	(*app).membersCmd, (*app).ringCmd, (*app).statusCmd, (*app).eventsCmd, (*app).readyCmd,
	(*app).joinCmd, (*app).decommissionCmd, (*app).forceRemoveCmd, (*app).resizeCmd, (*app).backupCmd,
	(*app).certsCmd,
	(*app).versionCmd,
}

// app holds what all commands share: the global flags and the process
// environment. One app serves one execution of the command tree.
type app struct {
	getenv func(string) string
	// isTerminal reports whether w is a terminal (get ends a value with a
	// newline there); tests replace it.
	isTerminal func(w io.Writer) bool

	// addrs are the nodes' base URLs of --addr: one node, or several of a
	// cluster that the client fails over between.
	addrs   []string
	token   string
	timeout time.Duration
	// caCert, cert and key are the PEM files of --cacert, --cert and
	// --key: the CA that signs the nodes' HTTPS certificates, and a client
	// certificate for nodes that require one.
	caCert, cert, key string
	// tls caches the TLS options built from them, for the commands that
	// make several clients (status).
	tls struct {
		done bool
		opts []client.Option
		err  error
	}

	// ran is set when a command's RunE starts. Cobra reports flag, argument
	// and unknown-command errors before that, so an error while ran is false
	// is a usage error.
	ran bool
}

// run executes the command line args and returns the process exit code. It
// is main without the process: tests call it with their own streams and
// environment.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{getenv: getenv, isTerminal: isTerminal}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "dhtctl: %v\n", err)
	if _, ok := errors.AsType[*usageError](err); ok || !a.ran {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitError
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "dhtctl",
		Short: "Operate a dht cluster and its keys",
		Long: `dhtctl talks to any node of a dht cluster over its HTTP API.

The node is chosen with --addr (default $` + envAddr + `, else ` + defaultAddr + `);
a bearer token, if the cluster requires one, with --token (default $` + envToken + `).
Several nodes of one cluster, comma-separated or with --addr repeated, are
tried in turn: a command goes to the next when a node cannot be reached or
answers 503 (join always goes to the first).

Output: stdout holds what a command reads (a key's value, byte for byte; a
table; events) or, with --json, one JSON document with everything; stderr
holds the rest: causal contexts, sibling counts, confirmations, warnings and
errors. So 'dhtctl get KEY > file' stores exactly the value, and a script
takes a write's context from --json.

A node that serves HTTPS is given as https://HOST:PORT. When its certificate
comes from the cluster's own CA (such as the ca.crt of 'dhtctl certs'), pass
that CA with --cacert (default $` + envCACert + `); when the node requires client
certificates, pass one with --cert and --key (default $` + envCert + `, $` + envKey + `).`,
		// Errors are printed once, by run, with the right exit code.
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildinfo.Read().String(),
	}
	root.SetVersionTemplate("dhtctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err: err}
	})

	addrs := splitAddrs(a.getenv(envAddr))
	if len(addrs) == 0 {
		addrs = []string{defaultAddr}
	}
	pf := root.PersistentFlags()
	pf.StringSliceVar(&a.addrs, "addr", addrs, "base `URL` of the node to talk to; several of one cluster (comma-separated or repeated) are failed over between ($"+envAddr+")")
	// The token's default is read at run time, not shown as the flag's
	// default, so that --help never prints a secret.
	pf.StringVar(&a.token, "token", "", "bearer token for the node's API (default $"+envToken+")")
	pf.DurationVar(&a.timeout, "timeout", defaultTimeout, "deadline for the whole command (events --follow: for connecting only); 0 means none")
	pf.StringVar(&a.caCert, "cacert", a.getenv(envCACert), "PEM `FILE` of the CA that signs the nodes' HTTPS certificates; unset trusts the system's roots ($"+envCACert+")")
	pf.StringVar(&a.cert, "cert", a.getenv(envCert), "PEM `FILE` of a client certificate, for nodes that require one ($"+envCert+")")
	pf.StringVar(&a.key, "key", a.getenv(envKey), "PEM `FILE` of the client certificate's key ($"+envKey+")")

	root.AddGroup(&cobra.Group{ID: groupKV, Title: "Key-value commands:"})
	root.AddGroup(&cobra.Group{ID: groupCluster, Title: "Cluster commands:"})
	root.AddGroup(&cobra.Group{ID: groupSetup, Title: "Setup commands:"})
	for _, newCmd := range commands {
		root.AddCommand(newCmd(a))
	}
	a.markRuns(root)
	return root
}

// markRuns wraps the RunE of cmd and its subcommands to record that
// validation passed and the command itself started.
func (a *app) markRuns(cmd *cobra.Command) {
	if runE := cmd.RunE; runE != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			a.ran = true
			return runE(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		a.markRuns(sub)
	}
}

// client returns a client for the node chosen by the global flags.
func (a *app) client(cmd *cobra.Command) (*client.Client, error) {
	token := a.token
	if !cmd.Flags().Changed("token") {
		token = a.getenv(envToken)
	}
	tlsOpts, err := a.tlsOptions()
	if err != nil {
		return nil, err
	}
	return a.newClient(append([]client.Option{client.WithToken(token)}, tlsOpts...)...)
}

// connectTimeout bounds connecting to one node when --addr names several:
// a machine that is down drops the packets rather than refusing them, and
// without a bound of its own it would spend the whole --timeout before the
// next node is tried.
const connectTimeout = 3 * time.Second

// newClient returns a client for the nodes of --addr.
func (a *app) newClient(opts ...client.Option) (*client.Client, error) {
	addrs := splitAddrs(strings.Join(a.addrs, ","))
	if len(addrs) == 0 {
		return nil, usageErrorf("--addr must name at least one node")
	}
	if len(addrs) > 1 {
		// First, so that an HTTP client the command brings wins.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext
		opts = append([]client.Option{client.WithHTTPClient(&http.Client{Transport: tr})}, opts...)
	}
	c, err := client.NewCluster(addrs, opts...)
	if err != nil {
		return nil, usageErrorf("--addr: %v", err)
	}
	return c, nil
}

// addrText is --addr as the operator gave it, for messages.
func (a *app) addrText() string { return strings.Join(a.addrs, ",") }

// splitAddrs splits a comma-separated list of base URLs, dropping blanks.
func splitAddrs(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// isTerminal reports whether w is a terminal (a character device), where
// a person rather than a program reads the output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// tlsOptions returns the client options for --cacert, --cert and --key:
// none when all are empty. A file that cannot be used is a usage error, as
// nothing was sent.
func (a *app) tlsOptions() ([]client.Option, error) {
	if a.tls.done {
		return a.tls.opts, a.tls.err
	}
	a.tls.done = true
	if a.caCert == "" && a.cert == "" && a.key == "" {
		return nil, nil
	}
	cfg, err := client.TLSConfig(a.caCert, a.cert, a.key)
	if err != nil {
		a.tls.err = usageErrorf("--cacert, --cert, --key: %v", err)
		return nil, a.tls.err
	}
	a.tls.opts = []client.Option{client.WithTLS(cfg)}
	return a.tls.opts, nil
}

// withKV runs fn with a client for the key-value API of the node chosen by
// --addr and a context bounded by --timeout: the set-up every key-value
// command shares. Commands call it after reading their input, so that a
// slow stdin does not eat into the deadline.
func (a *app) withKV(cmd *cobra.Command, fn func(context.Context, *client.Client) error) error {
	c, err := a.client(cmd)
	if err != nil {
		return err
	}
	return a.withContext(cmd, c, fn)
}

// withAdmin is withKV for the admin API: the client carries the admin
// token, and failures an operator can fix get advice (adminFailed).
func (a *app) withAdmin(cmd *cobra.Command, fn func(context.Context, *client.Client) error) error {
	c, err := a.adminClient(cmd)
	if err != nil {
		return err
	}
	return a.adminFailed(a.withContext(cmd, c, fn))
}

// withContext runs fn with c and the command's context.
func (a *app) withContext(cmd *cobra.Command, c *client.Client, fn func(context.Context, *client.Client) error) error {
	ctx, cancel, err := a.context(cmd)
	if err != nil {
		return err
	}
	defer cancel()
	return a.tlsFailed(fn(ctx, c))
}

// context returns the context for a command's requests, bounded by
// --timeout.
func (a *app) context(cmd *cobra.Command) (context.Context, context.CancelFunc, error) {
	if a.timeout < 0 {
		return nil, nil, usageErrorf("--timeout must not be negative, got %v", a.timeout)
	}
	if a.timeout == 0 {
		ctx, cancel := context.WithCancel(cmd.Context())
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
	return ctx, cancel, nil
}

// usageError marks an error in the command line, which exits with
// exitUsage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}
