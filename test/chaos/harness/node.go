package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Ports every node listens on, at its namespace's address.
const (
	HTTPPort   = "8080"
	GossipPort = "7946"
	RemotePort = "7070"
)

const (
	// reapTimeout bounds the wait for a killed process to be reaped.
	reapTimeout = 15 * time.Second
	// ClockEnv is the variable a chaos build of dhtd reads its clock skew
	// file from (cmd/dhtd/clock_chaos.go).
	ClockEnv = "DHT_CHAOS_CLOCK_FILE"
)

// ErrNotRunning is returned by operations that need a running process.
var ErrNotRunning = errors.New("harness: node is not running")

// Node is one dhtd in its namespace: an id, a data directory and a clock
// file that outlive its processes. Its methods are safe for concurrent use.
type Node struct {
	ID   string
	Host *Host

	bin       string
	dataDir   string
	logDir    string
	clockFile string
	args      []string

	mu struct {
		sync.Mutex
		proc    *proc
		logs    []string
		paused  bool
		retired bool // decommissioned: it exits by itself and stays out
		skew    time.Duration
	}
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once reaped
	err  error
}

// URL is the base URL of the node's HTTP API.
func (n *Node) URL() string { return "http://" + net.JoinHostPort(n.Host.IP, HTTPPort) }

// GossipAddr is the node's serf address, for other nodes' seeds.
func (n *Node) GossipAddr() string { return net.JoinHostPort(n.Host.IP, GossipPort) }

// DataDir is the node's data directory.
func (n *Node) DataDir() string { return n.dataDir }

// Start launches a process on the node's data directory. It does not wait
// for readiness (WaitReady does).
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.runningLocked() {
		return fmt.Errorf("harness: start %s: already running (pid %d)", n.ID, n.mu.proc.cmd.Process.Pid)
	}
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(n.logDir, fmt.Sprintf("%s-%d.log", n.ID, len(n.mu.logs)+1))
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close() // the child has its own descriptor
	args := append([]string{"netns", "exec", n.Host.Namespace, n.bin,
		"--node.id", n.ID,
		"--node.data_dir", n.dataDir,
		"--http.listen", net.JoinHostPort(n.Host.IP, HTTPPort),
		"--cluster.gossip_listen", n.GossipAddr(),
		"--cluster.remote_listen", net.JoinHostPort(n.Host.IP, RemotePort),
		"--log.format", "text",
	}, n.args...)
	cmd := exec.Command("ip", args...)
	cmd.Env = append(childEnv(), ClockEnv+"="+n.clockFile)
	cmd.Stdout, cmd.Stderr = f, f
	// ip netns exec execs dhtd in place, so this is dhtd's pid; the kernel
	// kills it if the harness dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("harness: start %s: %w", n.ID, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.mu.proc, n.mu.paused = p, false
	n.mu.logs = append(n.mu.logs, logPath)
	return nil
}

// childEnv is the harness's environment without DHT_* variables, so a
// developer's settings cannot change what a run tests.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DHT_") {
			env = append(env, kv)
		}
	}
	return env
}

// WaitReady polls /readyz until it answers 200, the process exits, or the
// timeout passes.
func (n *Node) WaitReady(ctx context.Context, timeout time.Duration) error {
	n.mu.Lock()
	p := n.mu.proc
	n.mu.Unlock()
	if p == nil {
		return ErrNotRunning
	}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for {
		resp, err := hc.Get(n.URL() + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: %s not ready within %v (last probe: %s)", n.ID, timeout, last)
		}
		select {
		case <-p.done:
			return fmt.Errorf("harness: %s exited before ready: %v", n.ID, p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Running reports whether the latest process has not exited.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runningLocked()
}

func (n *Node) runningLocked() bool {
	if n.mu.proc == nil {
		return false
	}
	select {
	case <-n.mu.proc.done:
		return false
	default:
		return true
	}
}

// Paused reports whether the process is stopped by SIGSTOP.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.paused && n.runningLocked()
}

// Retired reports whether the node was decommissioned.
func (n *Node) Retired() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.retired
}

// MarkRetired records that the node was decommissioned: it will exit by
// itself and must not be restarted.
func (n *Node) MarkRetired() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.retired = true
}

// Done returns a channel closed when the latest process exits (nil before
// the first start).
func (n *Node) Done() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.proc == nil {
		return nil
	}
	return n.mu.proc.done
}

// ExitErr returns how the latest process ended (nil: exit status 0), and
// whether it has ended.
func (n *Node) ExitErr() (error, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.proc == nil || n.runningLocked() {
		return nil, false
	}
	return n.mu.proc.err, true
}

// signal sends sig to the running process.
func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return ErrNotRunning
	}
	if err := n.mu.proc.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("harness: %v to %s: %w", sig, n.ID, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.mu.paused = true
	case syscall.SIGCONT:
		n.mu.paused = false
	}
	return nil
}

// Kill sends SIGKILL, as a crash would, and waits until the process is
// reaped. Killing a node that is not running does nothing.
func (n *Node) Kill() error {
	done := n.Done()
	if err := n.signal(syscall.SIGKILL); err != nil {
		if errors.Is(err, ErrNotRunning) {
			return nil
		}
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(reapTimeout):
		return fmt.Errorf("harness: %s not reaped %v after SIGKILL", n.ID, reapTimeout)
	}
}

// Pause stops the process with SIGSTOP: it holds its sockets but answers
// nothing, like a long GC pause or a stalled VM.
func (n *Node) Pause() error { return n.signal(syscall.SIGSTOP) }

// Resume continues a paused process.
func (n *Node) Resume() error { return n.signal(syscall.SIGCONT) }

// Wipe deletes the node's data directory. The node must not be running.
func (n *Node) Wipe() error {
	if n.Running() {
		return fmt.Errorf("harness: wipe %s: still running", n.ID)
	}
	return os.RemoveAll(n.dataDir)
}

// WipeAndStart is a lost disk: SIGKILL, the data directory deleted, down
// for down (or until ctx is done), then a new process with the same id,
// address, seeds, certificates and clock file, on an empty data directory.
// It does not wait for readiness (WaitReady does), nor for the rebuild
// (Cluster.WaitRebuilt).
func (n *Node) WipeAndStart(ctx context.Context, down time.Duration) error {
	if err := n.Kill(); err != nil {
		return err
	}
	if err := n.Wipe(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(down):
	}
	return n.Start()
}

// SetClock skews the clock the node stamps data with by d (a chaos build
// re-reads the file every 100ms). The file is replaced atomically, so the
// node never reads half of it.
func (n *Node) SetClock(d time.Duration) error {
	tmp := n.clockFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(d.String()+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, n.clockFile); err != nil {
		return err
	}
	n.mu.Lock()
	n.mu.skew = d
	n.mu.Unlock()
	return nil
}

// Skew returns the clock skew last set.
func (n *Node) Skew() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.skew
}

// Logs returns the paths of every log the node's processes wrote, oldest
// first.
func (n *Node) Logs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.mu.logs...)
}

// Crashes returns the lines of a node's log that report a panic, a fatal
// runtime error or a data race (a -race build), with a little context.
func Crashes(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") || strings.Contains(line, "WARNING: DATA RACE") {
			out = append(out, line)
		}
	}
	return out
}

// Counter returns the value of a counter without labels (name as /metrics
// writes it, such as dht_coordinator_handovers_total) in the node's
// metrics: counted since the process last started.
func (n *Node) Counter(ctx context.Context, name string) (float64, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, n.URL()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("harness: %s /metrics: %s", n.ID, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("harness: %s /metrics: %w", n.ID, err)
	}
	if f := families[name]; f != nil && len(f.GetMetric()) == 1 {
		m := f.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), nil
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), nil
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("harness: %s /metrics has no %s", n.ID, name)
}
