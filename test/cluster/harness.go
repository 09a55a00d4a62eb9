package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/test/nodetest"
)

// DefaultTimeout bounds Start's wait for the new cluster to converge.
const DefaultTimeout = 30 * time.Second

// pollInterval is how often a wait re-runs its check.
const pollInterval = 50 * time.Millisecond

// requestTimeout bounds each HTTP request the harness or a Client makes, so
// that a wedged node fails a wait instead of hanging the test.
const requestTimeout = 10 * time.Second

// Option changes how Start configures the nodes.
type Option func(*options)

type options struct {
	partitions int
	n, r, w    int
	memory     bool
	logLevel   slog.Level
	configure  []func(i int, cfg *config.Config)
	noWait     bool
	now        func() time.Time
}

// WithPartitions sets ring.partitions (Q, a power of two; default 64).
func WithPartitions(q int) Option { return func(o *options) { o.partitions = q } }

// WithReplication sets replication.n, .r and .w (default 3, 2, 2).
func WithReplication(n, r, w int) Option {
	return func(o *options) { o.n, o.r, o.w = n, r, w }
}

// WithMemoryStorage uses the memory engine instead of badger. A restarted
// node then comes back with empty storage, as after a disk loss.
func WithMemoryStorage() Option { return func(o *options) { o.memory = true } }

// WithLogLevel sets the level of the nodes' logs (default info).
func WithLogLevel(l slog.Level) Option { return func(o *options) { o.logLevel = l } }

// WithConfig lets a test adjust node i's config (i from 1) after the
// harness has filled it in. It runs again on every Restart.
func WithConfig(f func(i int, cfg *config.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, f) }
}

// WithClock gives every node, on every start, now as its wall clock
// (node.Options.Now): sibling timestamps, the expiry of values written with
// a TTL and when reads find them expired. A test advances it
// (testutil.Clock) to expire values without sleeping. now must be safe for
// concurrent use. Deadlines, timeouts and the harness's waits keep the real
// clock.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithoutWait makes Start return as soon as every node has started, without
// waiting for the cluster to converge.
func WithoutWait() Option { return func(o *options) { o.noWait = true } }

// Cluster is a set of in-process nodes.
type Cluster struct {
	t    testing.TB
	opts options
	hc   *http.Client

	mu struct {
		sync.Mutex
		members []*member // index i-1 holds node i
	}
}

// member is one node slot: its fixed identity and, while it runs, the node.
type member struct {
	id         string
	dataDir    string
	gossipAddr string
	logs       *logBuffer

	node *node.Node // nil while killed
	// retired is set once the node was decommissioned and has left: it
	// owns nothing, and WaitConverged no longer expects it in the ring.
	retired bool
	http    string // host:port of the running node's gateway
	client  *client.Client
}

// Start starts n nodes, n1 to nN, and waits until they have converged (see
// WaitConverged) unless WithoutWait is given. It fails t if any node cannot
// start. Every node still running is stopped when the test ends.
func Start(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("cluster: start: need at least one node, got %d", n)
	}
	o := options{partitions: 64, n: 3, r: 2, w: 2, logLevel: slog.LevelInfo}
	for _, f := range opts {
		f(&o)
	}
	c := &Cluster{
		t:    t,
		opts: o,
		hc: &http.Client{
			Timeout:   requestTimeout,
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
		},
	}
	for i := 1; i <= n; i++ {
		c.mu.members = append(c.mu.members, &member{
			id:      "n" + strconv.Itoa(i),
			dataDir: filepath.Join(t.TempDir(), "data"),
			logs:    &logBuffer{},
		})
	}
	// Registered after the TempDir calls, so it runs before their removal:
	// no node is left writing into a directory being deleted.
	t.Cleanup(c.cleanup)

	begin := time.Now()
	for i := 1; i <= n; i++ {
		if err := c.start(i, true); err != nil {
			t.Fatalf("cluster: start %s: %v", c.member(i).id, err)
		}
	}
	if !o.noWait {
		c.WaitConverged(t, DefaultTimeout)
		t.Logf("cluster: %d nodes started and converged in %v", n, time.Since(begin).Round(time.Millisecond))
	}
	return c
}

// N returns how many nodes the cluster has, running or not.
func (c *Cluster) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.members)
}

// ID returns node i's id ("n1" for i = 1).
func (c *Cluster) ID(i int) string { return c.member(i).id }

// IDs returns every node's id, in order.
func (c *Cluster) IDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, len(c.mu.members))
	for i, m := range c.mu.members {
		ids[i] = m.id
	}
	return ids
}

// Node returns node i, or nil while it is killed.
func (c *Cluster) Node(i int) *node.Node {
	m := c.member(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.node
}

// Running reports whether node i is running.
func (c *Cluster) Running(i int) bool { return c.Node(i) != nil }

// Live returns the numbers of the running nodes, in order.
func (c *Cluster) Live() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live []int
	for i, m := range c.mu.members {
		if m.node != nil {
			live = append(live, i+1)
		}
	}
	return live
}

// HTTPAddr returns the host:port of node i's HTTP API. It changes when the
// node restarts and its old port has been taken meanwhile.
func (c *Cluster) HTTPAddr(i int) string {
	m := c.member(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.http
}

// GossipAddr returns node i's gossip address, which never changes.
func (c *Cluster) GossipAddr(i int) string {
	m := c.member(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.gossipAddr
}

// Client returns a client of node i's HTTP API. After a restart, call it
// again: the node's address may have changed. Requests time out after
// 10 s.
func (c *Cluster) Client(i int) *client.Client {
	m := c.member(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.client
}

// DataDir returns node i's data directory, for a test that reads a stopped
// node's engine directly.
func (c *Cluster) DataDir(i int) string { return c.member(i).dataDir }

// Logs returns what node i has logged so far, across restarts.
func (c *Cluster) Logs(i int) string { return c.member(i).logs.String() }

// Kill stops node i abruptly: open requests are cut off rather than
// drained, gossip stops without a leave, so its peers see it fail, and its
// storage is closed. Its data directory and gossip port are kept for
// Restart.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	m := c.member(i)
	c.mu.Lock()
	n := m.node
	m.node = nil
	c.mu.Unlock()
	if n == nil {
		c.t.Fatalf("cluster: kill %s: not running", m.id)
	}
	m.logs.mark("---- killed by the test harness ----")
	if err := stopNow(n); err != nil {
		c.t.Errorf("cluster: kill %s: %v", m.id, err)
	}
}

// Add starts one more node, numbered N()+1, seeded with node 1 (which must
// be running), and returns its number. A node that starts for the first
// time joins the ring as a new owner, and partitions move to it. It does not
// wait for the cluster: follow it with WaitConverged.
func (c *Cluster) Add() int {
	c.t.Helper()
	c.mu.Lock()
	i := len(c.mu.members) + 1
	c.mu.members = append(c.mu.members, &member{
		id:      "n" + strconv.Itoa(i),
		dataDir: filepath.Join(c.t.TempDir(), "data"),
		logs:    &logBuffer{},
	})
	c.mu.Unlock()
	if err := c.start(i, true); err != nil {
		c.t.Fatalf("cluster: add %s: %v", c.ID(i), err)
	}
	return i
}

// Decommission asks node via to decommission node i, which then hands its
// partitions over while it keeps serving. Follow it with WaitRetired.
func (c *Cluster) Decommission(via, i int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if _, err := c.Client(via).Decommission(ctx, c.ID(i)); err != nil {
		c.t.Fatalf("cluster: decommission %s via %s: %v", c.ID(i), c.ID(via), err)
	}
}

// WaitRetired waits until node i, decommissioned, has handed every
// partition over and retired, then stops it. WaitConverged no longer
// expects it afterwards. It fails t when timeout passes first.
func (c *Cluster) WaitRetired(i int, timeout time.Duration) {
	c.t.Helper()
	n := c.Node(i)
	if n == nil {
		c.t.Fatalf("cluster: decommission %s: not running", c.ID(i))
	}
	select {
	case <-n.Retired():
	case <-time.After(timeout):
		c.t.Fatalf("cluster: %s did not retire within %v of its decommission", c.ID(i), timeout)
	}
	m := c.member(i)
	c.mu.Lock()
	m.node, m.retired = nil, true
	c.mu.Unlock()
	m.logs.mark("---- retired, stopped by the test harness ----")
	if err := stopNow(n); err != nil {
		c.t.Errorf("cluster: stop retired %s: %v", m.id, err)
	}
}

// retired reports whether node i was decommissioned and has left.
func (c *Cluster) retired(i int) bool {
	m := c.member(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.retired
}

// Restart starts node i again with the same id, data directory and gossip
// port, seeding from every other running node. It does not wait for the
// cluster: follow it with WaitConverged.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.member(i)
	if c.Running(i) {
		c.t.Fatalf("cluster: restart %s: still running; Kill it first", m.id)
	}
	m.logs.mark("---- restarted by the test harness ----")
	if err := c.start(i, false); err != nil {
		c.t.Fatalf("cluster: restart %s: %v", m.id, err)
	}
}

// WaitConverged waits until the running nodes agree: each one's /readyz
// answers 200; each shows the same ring (version and replicas) in
// /admin/ring, in which every node of the cluster, running or not, is an
// owner and holds replicas; and each sees every other running node alive in
// /admin/members, at the addresses that node reports for itself. It fails t
// with the last disagreement found when timeout passes.
func (c *Cluster) WaitConverged(t testing.TB, timeout time.Duration) {
	t.Helper()
	begin := time.Now()
	var last string
	err := c.retry(timeout, func(ctx context.Context) error {
		err := c.converged(ctx)
		// Each new reason is logged once, so a slow convergence shows
		// what it waited on.
		if err != nil && err.Error() != last {
			last = err.Error()
			t.Logf("cluster: after %v not converged: %v", time.Since(begin).Round(time.Millisecond), err)
		}
		return err
	})
	if err != nil {
		t.Fatalf("cluster: not converged after %v: %v", timeout, err)
	}
	t.Logf("cluster: converged in %v", time.Since(begin).Round(time.Millisecond))
}

// WaitStatus waits until every running node other than node i shows node i
// with the given status in /admin/members (client.MemberDown,
// client.MemberAlive, ...). It fails t when timeout passes first.
func (c *Cluster) WaitStatus(t testing.TB, i int, status string, timeout time.Duration) {
	t.Helper()
	id := c.ID(i)
	begin := time.Now()
	err := c.retry(timeout, func(ctx context.Context) error {
		for _, j := range c.Live() {
			if j == i {
				continue
			}
			members, err := c.Client(j).Members(ctx)
			if err != nil {
				return fmt.Errorf("%s: members: %w", c.ID(j), err)
			}
			m, ok := findMember(members, id)
			switch {
			case !ok:
				return fmt.Errorf("%s does not list %s", c.ID(j), id)
			case m.Status != status:
				return fmt.Errorf("%s sees %s %q, want %q", c.ID(j), id, m.Status, status)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("cluster: waiting for %s to be %q: %v", id, status, err)
	}
	t.Logf("cluster: every other node saw %s %q within %v", id, status, time.Since(begin).Round(time.Millisecond))
}

// Retry runs check until it returns nil or timeout passes, and then fails t
// with its last error. Each call gets a context bounded by the time left.
func (c *Cluster) Retry(t testing.TB, timeout time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	if err := c.retry(timeout, check); err != nil {
		t.Fatalf("cluster: %s: not done after %v: %v", what, timeout, err)
	}
}

func (c *Cluster) retry(timeout time.Duration, check func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// reason is the last failure seen before the deadline: the final check
	// is often cut short by the deadline itself, which says nothing.
	var reason error
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || reason == nil {
			reason = err
		}
		select {
		case <-ctx.Done():
			return reason
		case <-time.After(pollInterval):
		}
	}
}

// converged is one round of WaitConverged's check.
func (c *Cluster) converged(ctx context.Context) error {
	live := c.Live()
	if len(live) == 0 {
		return errors.New("no node is running")
	}
	var allIDs []string
	for i, id := range c.IDs() {
		if !c.retired(i + 1) {
			allIDs = append(allIDs, id)
		}
	}
	type view struct {
		ring    *client.Ring
		members []client.Member
	}
	views := map[int]view{}
	for _, i := range live {
		id := c.ID(i)
		if err := c.ready(ctx, i); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		ring, err := c.Client(i).Ring(ctx)
		if err != nil {
			return fmt.Errorf("%s: ring: %w", id, err)
		}
		members, err := c.Client(i).Members(ctx)
		if err != nil {
			return fmt.Errorf("%s: members: %w", id, err)
		}
		views[i] = view{ring, members}
	}

	first := views[live[0]]
	for _, i := range live[1:] {
		r := views[i].ring
		if r.Version != first.ring.Version || r.Partitions != first.ring.Partitions || r.N != first.ring.N {
			return fmt.Errorf("%s has ring version %d (q=%d n=%d), %s has %d (q=%d n=%d)",
				c.ID(i), r.Version, r.Partitions, r.N, c.ID(live[0]), first.ring.Version, first.ring.Partitions, first.ring.N)
		}
		if !reflect.DeepEqual(r.Replicas, first.ring.Replicas) {
			return fmt.Errorf("%s and %s have ring version %d but different replicas", c.ID(i), c.ID(live[0]), r.Version)
		}
	}
	if first.ring.Partitions != c.opts.partitions {
		return fmt.Errorf("ring has %d partitions, config says %d", first.ring.Partitions, c.opts.partitions)
	}
	holding := map[string]bool{}
	for _, prefs := range first.ring.Replicas {
		for _, id := range prefs {
			holding[id] = true
		}
	}
	for _, id := range allIDs {
		if !holding[id] {
			return fmt.Errorf("ring version %d gives %s no replica", first.ring.Version, id)
		}
	}

	// Each running node's own entry says where it really is; peers must
	// route to those addresses, not to ones from before a restart.
	self := map[string]client.Member{}
	for _, i := range live {
		m, ok := findMember(views[i].members, c.ID(i))
		if !ok || !m.Self {
			return fmt.Errorf("%s does not list itself (as self) in its members", c.ID(i))
		}
		self[m.ID] = m
	}
	for _, i := range live {
		for _, id := range allIDs {
			m, ok := findMember(views[i].members, id)
			if !ok {
				return fmt.Errorf("%s does not list %s", c.ID(i), id)
			}
			if !m.Owner {
				return fmt.Errorf("%s shows %s as no owner", c.ID(i), id)
			}
			own, running := self[id]
			if !running {
				continue
			}
			switch {
			case m.Status != client.MemberAlive:
				return fmt.Errorf("%s sees %s %q, want %q", c.ID(i), id, m.Status, client.MemberAlive)
			case m.RemoteAddr != own.RemoteAddr || m.HTTPAddr != own.HTTPAddr:
				return fmt.Errorf("%s knows %s at remote %s http %s, but it is at remote %s http %s",
					c.ID(i), id, m.RemoteAddr, m.HTTPAddr, own.RemoteAddr, own.HTTPAddr)
			}
		}
	}
	return nil
}

// ready checks node i's /readyz.
func (c *Cluster) ready(ctx context.Context, i int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.HTTPAddr(i)+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

func (c *Cluster) member(i int) *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 1 || i > len(c.mu.members) {
		panic(fmt.Sprintf("cluster: no node %d in a cluster of %d (nodes are numbered from 1)", i, len(c.mu.members)))
	}
	return c.mu.members[i-1]
}

// config builds node i's config. Seeds are node 1 on the first start, and
// every other running node on a restart, so that any node can come back,
// node 1 included.
func (c *Cluster) config(i int, first bool) config.Config {
	m := c.member(i)
	cfg := config.Default()
	cfg.Node.ID = m.id
	cfg.Node.DataDir = m.dataDir
	cfg.Ring.Partitions = c.opts.partitions
	cfg.Replication.N, cfg.Replication.R, cfg.Replication.W = c.opts.n, c.opts.r, c.opts.w
	if c.opts.memory {
		cfg.Storage.Engine = "memory"
	}
	cfg.Cluster.GossipListen = m.gossipAddr
	cfg.Cluster.RemoteListen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Log.Format = "text"
	cfg.Log.Level = strings.ToLower(c.opts.logLevel.String())
	var seeds []string
	if first {
		if i > 1 {
			seeds = append(seeds, c.GossipAddr(1))
		}
	} else {
		for _, j := range c.Live() {
			if j != i {
				seeds = append(seeds, c.GossipAddr(j))
			}
		}
	}
	cfg.Cluster.Seeds = strings.Join(seeds, ",")
	for _, f := range c.opts.configure {
		f(i, &cfg)
	}
	return cfg
}

// start starts node i. On its first start a node gets a gossip port found
// free, and another if that one was taken before the node bound it; on a
// restart it keeps its port, retrying while the old one is not yet free.
func (c *Cluster) start(i int, first bool) error {
	m := c.member(i)
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		if first {
			port, err := nodetest.PickPort()
			if err != nil {
				return err
			}
			c.mu.Lock()
			m.gossipAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			c.mu.Unlock()
		}
		cfg := c.config(i, first)
		err := c.startNode(m, cfg)
		if err == nil {
			return nil
		}
		if !addrInUse(err) || time.Now().After(deadline) {
			return err
		}
		c.t.Logf("cluster: start %s, attempt %d: %v; retrying", m.id, attempt, err)
		time.Sleep(pollInterval) // a port is busy: nothing to wait on but time
	}
}

func (c *Cluster) startNode(m *member, cfg config.Config) error {
	// Reuse the previous HTTP port when it is free, so addresses a test
	// noted stay valid across a restart.
	var ln net.Listener
	var err error
	if m.http != "" {
		ln, err = net.Listen("tcp", m.http)
	}
	if ln == nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(m.logs, &slog.HandlerOptions{Level: c.opts.logLevel}))
	n, err := node.Start(node.Options{Config: cfg, Logger: logger, HTTPListener: ln, FastGossip: true, Now: c.opts.now})
	if err != nil {
		_ = ln.Close()
		return err
	}
	addr := ln.Addr().String()
	cl, err := client.New("http://"+addr, client.WithHTTPClient(c.hc), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
	if err != nil {
		_ = stopNow(n)
		return err
	}
	c.mu.Lock()
	m.node, m.http, m.client = n, addr, cl
	c.mu.Unlock()
	return nil
}

// cleanup stops every running node and, when the test failed, prints every
// node's log.
func (c *Cluster) cleanup() {
	for _, i := range c.Live() {
		m := c.member(i)
		c.mu.Lock()
		n := m.node
		m.node = nil
		c.mu.Unlock()
		if err := stopNow(n); err != nil {
			c.t.Errorf("cluster: stop %s: %v", m.id, err)
		}
	}
	c.hc.CloseIdleConnections()
	if !c.t.Failed() {
		return
	}
	for i := 1; i <= c.N(); i++ {
		m := c.member(i)
		c.t.Logf("cluster: log of %s (gossip %s):\n%s", m.id, m.gossipAddr, m.logs.tail(maxLogDump))
	}
}

// stopNow stops n without draining: Stop with a context that is already
// done closes the listener and cuts open requests. The drain's own
// "context canceled" is expected and not reported.
func stopNow(n *node.Node) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := n.Stop(ctx)
	var rest []error
	for _, e := range flatten(err) {
		if !errors.Is(e, context.Canceled) {
			rest = append(rest, e)
		}
	}
	return errors.Join(rest...)
}

// flatten splits joined errors into their parts.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// addrInUse reports whether err is a failure to bind a port. memberlist
// formats its listen errors with %v, so the message is checked too.
func addrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

func findMember(members []client.Member, id string) (client.Member, bool) {
	i := slices.IndexFunc(members, func(m client.Member) bool { return m.ID == id })
	if i < 0 {
		return client.Member{}, false
	}
	return members[i], true
}

// maxLogDump bounds how much of one node's log a failure prints.
const maxLogDump = 256 << 10

// logBuffer is a node's log: an in-memory buffer that slog handlers on many
// goroutines write to.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) mark(line string) {
	_, _ = b.Write([]byte(time.Now().Format("15:04:05.000") + " " + line + "\n"))
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// tail returns the last limit bytes of the log, from a line start.
func (b *logBuffer) tail(limit int) string {
	s := b.String()
	if len(s) <= limit {
		return s
	}
	s = s[len(s)-limit:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "[…]\n" + s
}
