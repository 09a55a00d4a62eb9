package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/nodetest"
)

// Defaults of Options and of the waits.
const (
	// DefaultReadyTimeout bounds the wait for /readyz after a start. Opening
	// badger and spawning the vnodes takes well under a second; the rest is
	// room for a loaded CI machine and a -race build.
	DefaultReadyTimeout = 60 * time.Second
	// reapTimeout bounds the wait for a SIGKILLed process to be reaped.
	reapTimeout = 10 * time.Second
	// pollInterval is the pause between two readiness probes.
	pollInterval = 20 * time.Millisecond
	// probeTimeout bounds one readiness probe.
	probeTimeout = time.Second
	// portAttempts is how many free ports a start tries: a port found free
	// may be taken by another process before dhtd binds it.
	portAttempts = 3
	// tailBytes is how much of each log a failed test prints.
	tailBytes = 16 << 10
)

// Options configure a node. The zero value is a single-node cluster with id
// "n1" in a fresh data directory.
type Options struct {
	// ID is the node id (--node.id); empty means "n1".
	ID string
	// DataDir is the data directory (--node.data_dir); empty means a new
	// directory under t.TempDir(). It is kept across restarts.
	DataDir string
	// Args are extra command-line arguments, placed after the defaults, so
	// that a flag given here overrides a default one
	// ("--replication.n", "3", "--storage.sync_writes=true").
	Args []string
	// Env holds extra KEY=VALUE environment variables. The test's own DHT_*
	// variables are never passed on, so that a developer's environment
	// cannot change what a test runs.
	Env []string
	// ReadyTimeout bounds the wait for readiness; 0 means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Binary is the dhtd to run; empty means Binary's (race-built when
	// the test is). PlainBinary gives one built without -race.
	Binary string
	// GossipPort is the node's serf port; 0 means a free one. Give it to
	// start nodes that name each other as seeds.
	GossipPort int
}

// Node is one dhtd node: a data directory and an id that outlive the
// processes started on them.
type Node struct {
	t      testing.TB
	opts   Options
	bin    string
	logDir string
	logs   []string // every log file written, oldest first
	proc   *proc    // the latest process; nil before the first start
	// gossipPort is the node's serf port (--cluster.gossip_listen).
	gossipPort int
}

// GossipAddr returns the node's gossip address, for other nodes' seeds.
func (n *Node) GossipAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.gossipPort))
}

// proc is one run of dhtd.
type proc struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	// done is closed once Wait has returned and state is set; the goroutine
	// calling Wait is the only one this package starts per process.
	done  chan struct{}
	state *os.ProcessState
}

// Start starts a node and waits until it is ready, failing t if it does not
// become ready in time. The node is killed, if still running, when the test
// ends.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	n := newNode(t, opts)
	if err := n.startReady(); err != nil {
		t.Fatalf("process: start %s: %v", n.opts.ID, err)
	}
	return n
}

// Launch starts a node without waiting for readiness, for tests of a start
// that is meant to fail. Follow it with Wait or WaitReady.
func Launch(t testing.TB, opts Options) *Node {
	t.Helper()
	n := newNode(t, opts)
	if err := n.launch(nodetest.FreePort(t)); err != nil {
		t.Fatalf("process: launch %s: %v", n.opts.ID, err)
	}
	return n
}

func newNode(t testing.TB, opts Options) *Node {
	if opts.ID == "" {
		opts.ID = "n1"
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(t.TempDir(), "data")
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	// The gossip port is fixed for the node's life, so that peers (and a
	// restart's serf snapshot) find it again.
	bin := opts.Binary
	if bin == "" {
		bin = Binary(t)
	}
	gossipPort := opts.GossipPort
	if gossipPort == 0 {
		gossipPort = nodetest.FreePort(t)
	}
	n := &Node{t: t, opts: opts, bin: bin, logDir: t.TempDir(), gossipPort: gossipPort}
	// Registered after the TempDir calls, so it runs before their removal:
	// no process is left writing into a directory being deleted.
	t.Cleanup(n.cleanup)
	return n
}

// ID returns the node id.
func (n *Node) ID() string { return n.opts.ID }

// DataDir returns the node's data directory.
func (n *Node) DataDir() string { return n.opts.DataDir }

// Addr returns the host:port of the latest process's HTTP listener.
func (n *Node) Addr() string {
	if n.proc == nil {
		return ""
	}
	return n.proc.addr
}

// URL returns the base URL of the latest process's HTTP API. It changes on
// every restart, since each process gets a fresh port.
func (n *Node) URL() string { return "http://" + n.Addr() }

// LogPath returns the file holding the latest process's stderr and stdout.
func (n *Node) LogPath() string {
	if n.proc == nil {
		return ""
	}
	return n.proc.logPath
}

// Log returns everything the latest process has written so far.
func (n *Node) Log() string {
	if n.proc == nil {
		return ""
	}
	b, err := os.ReadFile(n.proc.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", n.proc.logPath, err)
	}
	return string(b)
}

// Client returns a client of the latest process, with a connection pool
// large enough for a few dozen concurrent requests. It is safe for
// concurrent use; create a new one after a restart.
func (n *Node) Client() *client.Client {
	n.t.Helper()
	c, err := client.New(n.URL(), client.WithHTTPClient(HTTPClient()), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
	if err != nil {
		n.t.Fatalf("process: client of %s: %v", n.opts.ID, err)
	}
	return c
}

// HTTPClient returns an http.Client with its own transport, so that tests do
// not share idle connections with each other through
// http.DefaultTransport. Its overall timeout is a backstop only; bound each
// request with a context.
func HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 64
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Running reports whether the latest process has not exited yet.
func (n *Node) Running() bool {
	if n.proc == nil {
		return false
	}
	select {
	case <-n.proc.done:
		return false
	default:
		return true
	}
}

// Pid returns the latest process's id, or 0 before the first start.
func (n *Node) Pid() int {
	if n.proc == nil {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// Kill sends SIGKILL, as a crash or an OOM kill would, and waits until the
// process is reaped. Killing a node that is not running does nothing.
func (n *Node) Kill() {
	n.t.Helper()
	if !n.Running() {
		return
	}
	if err := n.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		n.t.Fatalf("process: kill %s: %v", n.opts.ID, err)
	}
	if _, err := n.Wait(reapTimeout); err != nil {
		n.t.Fatalf("process: kill %s: %v", n.opts.ID, err)
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to exit,
// returning its exit code. If it has not exited by then it is killed, and
// the error says so. A node that has already exited returns its exit code.
func (n *Node) Stop(timeout time.Duration) (exitCode int, err error) {
	n.t.Helper()
	if n.proc == nil {
		return 0, errNotRunning
	}
	if n.Running() {
		if err := n.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return -1, fmt.Errorf("process: stop %s: %w", n.opts.ID, err)
		}
	}
	code, err := n.Wait(timeout)
	if err != nil {
		n.Kill()
		return -1, fmt.Errorf("process: stop %s: no exit within %s of SIGTERM; killed", n.opts.ID, timeout)
	}
	return code, nil
}

// Wait waits up to timeout for the latest process to exit by itself and
// returns its exit code, which is -1 when a signal ended it. It does not
// signal the process; on timeout it is left running.
func (n *Node) Wait(timeout time.Duration) (exitCode int, err error) {
	if n.proc == nil {
		return 0, errNotRunning
	}
	select {
	case <-n.proc.done: // checked first: with timeout 0 both cases are ready
		return n.proc.state.ExitCode(), nil
	default:
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-n.proc.done:
		return n.proc.state.ExitCode(), nil
	case <-timer.C:
		return 0, fmt.Errorf("process: %s (pid %d) still running after %s", n.opts.ID, n.Pid(), timeout)
	}
}

// Restart starts a new process on the same id and data directory, on a new
// port, and waits until it is ready. The node must have exited (Kill, Stop
// or Wait first).
func (n *Node) Restart() {
	n.t.Helper()
	if n.Running() {
		n.t.Fatalf("process: restart %s: still running (pid %d); Kill or Stop it first", n.opts.ID, n.Pid())
	}
	if err := n.startReady(); err != nil {
		n.t.Fatalf("process: restart %s: %v", n.opts.ID, err)
	}
}

// RestartWith is Restart with extra command-line arguments for this start
// only ("--restore", file).
func (n *Node) RestartWith(args ...string) {
	n.t.Helper()
	saved := n.opts.Args
	n.opts.Args = append(append([]string(nil), saved...), args...)
	defer func() { n.opts.Args = saved }()
	n.Restart()
}

// Relaunch starts the node again on its data directory without waiting for
// readiness, for a node that is not meant to become ready by itself (one
// that was decommissioned stays out of the ring). Follow it with WaitReady
// or Wait.
func (n *Node) Relaunch() {
	n.t.Helper()
	if n.Running() {
		n.t.Fatalf("process: relaunch %s: still running (pid %d)", n.opts.ID, n.Pid())
	}
	if err := n.launch(nodetest.FreePort(n.t)); err != nil {
		n.t.Fatalf("process: relaunch %s: %v", n.opts.ID, err)
	}
}

// WaitReady polls /readyz until it answers 200, the process exits, or
// timeout passes.
func (n *Node) WaitReady(timeout time.Duration) error {
	if n.proc == nil {
		return errNotRunning
	}
	p := n.proc
	// Its own transport, without keep-alives: probes leave no idle
	// connection behind, and share nothing with the test's clients.
	hc := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for {
		resp, err := hc.Get("http://" + p.addr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("not ready within %s (last probe: %s)", timeout, last)
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before ready: %s", p.state)
		case <-time.After(pollInterval):
		}
	}
}

// startReady launches a process and waits for readiness, trying another
// port when the one found free was taken before dhtd bound it.
func (n *Node) startReady() error {
	var err error
	for range portAttempts {
		if err = n.launch(nodetest.FreePort(n.t)); err != nil {
			return err
		}
		if err = n.WaitReady(n.opts.ReadyTimeout); err == nil {
			return nil
		}
		if n.Running() || !strings.Contains(n.Log(), "address already in use") {
			return err
		}
	}
	return err
}

// launch starts one dhtd process listening on 127.0.0.1:port.
func (n *Node) launch(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(n.logDir, fmt.Sprintf("dhtd-%s-%d.log", n.opts.ID, len(n.logs)+1))
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close() // the child has its own descriptor
	n.logs = append(n.logs, logPath)

	args := []string{
		"--node.id", n.opts.ID,
		"--node.data_dir", n.opts.DataDir,
		"--http.listen", addr,
		"--replication.n", "1", "--replication.r", "1", "--replication.w", "1",
		"--cluster.gossip_listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.gossipPort)),
		"--cluster.remote_listen", "127.0.0.1:0",
		"--log.format", "text",
	}
	args = append(args, n.opts.Args...)
	cmd := exec.Command(n.bin, args...)
	cmd.Env = childEnv(n.opts.Env)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, addr: addr, logPath: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is in ProcessState
		p.state = cmd.ProcessState
		close(p.done)
	}()
	n.proc = p
	return nil
}

// childEnv is the test's environment without DHT_* variables, plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DHT_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// cleanup kills a process still running, fails the test on a data race or a
// panic in any log, and prints the logs' tails when the test has failed.
func (n *Node) cleanup() {
	if n.Running() {
		_ = n.proc.cmd.Process.Signal(syscall.SIGKILL)
		if _, err := n.Wait(reapTimeout); err != nil {
			n.t.Errorf("process: cleanup: %v", err)
		}
	}
	for _, path := range n.logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			n.t.Errorf("process: %s reports a data race", filepath.Base(path))
		}
		for _, crash := range []string{"panic: ", "fatal error: "} {
			if bytes.HasPrefix(b, []byte(crash)) || bytes.Contains(b, []byte("\n"+crash)) {
				n.t.Errorf("process: %s reports a crash (%q)", filepath.Base(path), strings.TrimSpace(crash))
			}
		}
	}
	if !n.t.Failed() {
		return
	}
	for _, path := range n.logs {
		n.t.Logf("process: tail of %s:\n%s", path, tail(path, tailBytes))
	}
}

// tail returns the last limit bytes of the file at path, from a line start.
func tail(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	off := max(st.Size()-limit, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		b = append([]byte("[…]\n"), b...)
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return string(b)
}
