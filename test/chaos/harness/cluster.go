package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/test/chaos/history"
)

// Options configure a cluster.
type Options struct {
	// Binary is the dhtd to run, built with -tags chaos.
	Binary string
	// Dir holds the nodes' data, logs and clock files.
	Dir string
	// Nodes is how many nodes start.
	Nodes int
	// Args are extra dhtd flags for every node, after the harness's own.
	Args []string
	// TLS runs the nodes with mutual TLS between them (a CA of the run's
	// own, one certificate per node for its address) and a context secret,
	// as a production cluster runs.
	TLS bool
	// Logf prints progress; nil prints nothing.
	Logf func(format string, args ...any)
}

// BaseArgs are the dhtd flags of every chaos node: N=3, R=2, W=2, a small
// ring, quick drops after a handoff and quick anti-entropy, so that a
// healed cluster converges in seconds.
var BaseArgs = []string{
	"--replication.n", "3", "--replication.r", "2", "--replication.w", "2",
	"--replication.request_timeout", "3s",
	"--ring.partitions", "32",
	"--handoff.drop_delay", "2s",
	"--entropy.interval", "200ms", "--entropy.sweep_interval", "20s",
}

// Cluster is a set of dhtd nodes, each in its namespace on one bridge. Its
// methods are safe for concurrent use.
type Cluster struct {
	opts Options
	net  *Network
	hc   *http.Client
	// ca signs the nodes' certificates when opts.TLS is set.
	ca *certs.Authority

	mu struct {
		sync.Mutex
		nodes   []*Node
		clients map[string]*client.Client
	}
}

// Start builds the network and starts opts.Nodes nodes, each with all of
// them as seeds, and waits until they are ready, agree on one ring
// with every node an owner, and have settled the boot-time handoffs. On
// error everything already made is torn down.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	nw, err := NewNetwork(ctx)
	if err != nil {
		return nil, err
	}
	c = &Cluster{opts: opts, net: nw, hc: newHTTPClient()}
	c.mu.clients = map[string]*client.Client{}
	defer func() {
		if err != nil {
			_ = c.Close()
			c = nil
		}
	}()
	if opts.TLS {
		if c.ca, err = certs.NewAuthority("dhtchaos", time.Now(), 24*time.Hour); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= opts.Nodes; i++ {
		if _, err := c.addNode(ctx, i); err != nil {
			return nil, err
		}
	}
	for _, n := range c.Nodes() {
		if err := n.WaitReady(ctx, 60*time.Second); err != nil {
			return nil, err
		}
	}
	if _, err := c.Settle(ctx, 90*time.Second); err != nil {
		return nil, fmt.Errorf("harness: a fresh cluster did not settle: %w", err)
	}
	return c, nil
}

// newHTTPClient returns the clients' own transport: enough idle
// connections for the workload, and no overall timeout (each request has
// its context's).
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	tr.Proxy = nil // never through a proxy: the nodes are on the bridge
	return &http.Client{Transport: tr}
}

// addNode creates host i and starts node n<i> on it.
func (c *Cluster) addNode(ctx context.Context, i int) (*Node, error) {
	h, err := c.net.AddHost(ctx, i)
	if err != nil {
		return nil, err
	}
	id := "n" + strconv.Itoa(i)
	dir := filepath.Join(c.opts.Dir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Every node, a joiner too, has the first nodes' gossip addresses as
	// seeds, as a StatefulSet's pods have the headless service's names. A
	// node without seeds that loses its disk would start a cluster of its
	// own and wait for serf's reconnect to find the others.
	var seeds []string
	for j := 1; j <= c.opts.Nodes; j++ {
		seeds = append(seeds, net.JoinHostPort(Subnet+strconv.Itoa(10+j), GossipPort))
	}
	args := append(slices.Clone(BaseArgs), "--cluster.seeds", strings.Join(seeds, ","))
	if c.ca != nil {
		// Outside the data directory, which the wipe scenario deletes.
		tlsArgs, err := c.issue(filepath.Join(dir, "tls"), id, h.IP)
		if err != nil {
			return nil, err
		}
		args = append(args, tlsArgs...)
	}
	args = append(args, c.opts.Args...)
	n := &Node{ID: id, Host: h, bin: c.opts.Binary, dataDir: filepath.Join(dir, "data"), logDir: dir,
		clockFile: filepath.Join(dir, "clock"), args: args}
	if err := n.SetClock(0); err != nil {
		return nil, err
	}
	if err := n.Start(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.mu.nodes = append(c.mu.nodes, n)
	c.mu.Unlock()
	return n, nil
}

// Join starts one more node, in a new namespace, and waits until it is
// ready: it has the ring and joined it.
func (c *Cluster) Join(ctx context.Context, timeout time.Duration) (*Node, error) {
	c.mu.Lock()
	i := len(c.mu.nodes) + 1
	c.mu.Unlock()
	n, err := c.addNode(ctx, i)
	if err != nil {
		return nil, err
	}
	return n, n.WaitReady(ctx, timeout)
}

// JoinMany starts k more nodes at once, each in a new namespace, and waits
// until every one is ready. The nodes start within moments of each other,
// so their joins reach the ring concurrently, as when a StatefulSet is
// scaled up by several replicas. The nodes started are returned even when
// a wait fails.
func (c *Cluster) JoinMany(ctx context.Context, k int, timeout time.Duration) ([]*Node, error) {
	c.mu.Lock()
	first := len(c.mu.nodes) + 1
	c.mu.Unlock()
	var started []*Node
	for i := first; i < first+k; i++ {
		n, err := c.addNode(ctx, i)
		if err != nil {
			return started, err
		}
		started = append(started, n)
	}
	for _, n := range started {
		if err := n.WaitReady(ctx, timeout); err != nil {
			return started, err
		}
	}
	return started, nil
}

// Nodes returns every node ever started, retired ones included.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.mu.nodes)
}

// Members returns the nodes that should be part of the cluster: every node
// not decommissioned.
func (c *Cluster) Members() []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if !n.Retired() {
			out = append(out, n)
		}
	}
	return out
}

// Node returns the node with id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Client returns a client of node n over the cluster's shared transport.
func (c *Cluster) Client(n *Node) *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.mu.clients[n.ID]; ok {
		return cl
	}
	cl, err := client.New(n.URL(), client.WithHTTPClient(c.hc), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
	if err != nil {
		panic(fmt.Sprintf("harness: client of %s: %v", n.URL(), err)) // the URL is ours
	}
	c.mu.clients[n.ID] = cl
	return cl
}

// Target is a node as the workload sees it.
type Target struct {
	ID     string
	Client *client.Client
}

// Targets returns the nodes whose process runs (paused ones included: a
// client cannot tell a paused node from a slow one) and that are not
// retired.
func (c *Cluster) Targets() []Target {
	var out []Target
	for _, n := range c.Members() {
		if n.Running() {
			out = append(out, Target{ID: n.ID, Client: c.Client(n)})
		}
	}
	return out
}

// Partition replaces the cluster's DROP rules (see Network.Partition).
func (c *Cluster) Partition(ctx context.Context, drops Drops) error {
	return c.net.Partition(ctx, drops)
}

// Heal removes every DROP rule.
func (c *Cluster) Heal(ctx context.Context) error { return c.net.Heal(ctx) }

// Restore undoes every fault still in force: partitions healed, paused
// nodes resumed, stopped nodes that were not decommissioned restarted, and
// every member waited for until it is ready, as a client that waits for
// readiness would (a node the nemesis restarted just before may still be
// merging the cluster's ring, and refuses requests until it has). Clock
// skews stay: clocks that disagree are not a fault the store may need
// healed.
func (c *Cluster) Restore(ctx context.Context) error {
	errs := []error{c.Heal(ctx)}
	var restored []*Node
	for _, n := range c.Members() {
		switch {
		case n.Paused():
			errs = append(errs, n.Resume())
		case !n.Running():
			if err := n.Start(); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		restored = append(restored, n)
	}
	for _, n := range restored {
		errs = append(errs, n.WaitReady(ctx, 60*time.Second))
	}
	return errors.Join(errs...)
}

// Close kills every process and tears the network down. It is safe to call
// more than once.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.Nodes() {
		errs = append(errs, n.Kill())
	}
	errs = append(errs, c.net.Teardown(context.Background()))
	c.hc.CloseIdleConnections()
	return errors.Join(errs...)
}

// Settle waits, up to timeout, until the cluster has converged: every
// member running and seen alive by every member, decommissioned nodes
// gone, one ring, no hints pending, no handoff work left, and every
// partition's replicas with equal Merkle roots. It returns how long that
// took, or what was still missing at the deadline.
func (c *Cluster) Settle(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var last error
	logged := start
	for {
		last = c.settled(ctx)
		if last == nil {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(start), fmt.Errorf("not converged after %v: %w", time.Since(start).Round(time.Millisecond), last)
		}
		if time.Since(logged) > 10*time.Second {
			logged = time.Now()
			c.opts.Logf("settling for %v: %v", time.Since(start).Round(time.Second), last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// settled checks convergence once.
func (c *Cluster) settled(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, n := range c.Nodes() {
		if n.Retired() && n.Running() {
			return fmt.Errorf("decommissioned %s has not exited yet", n.ID)
		}
	}
	members := c.Members()
	ids := map[string]bool{}
	for _, n := range members {
		if !n.Running() || n.Paused() {
			return fmt.Errorf("%s is not running", n.ID)
		}
		ids[n.ID] = true
	}
	var ring *client.Ring
	roots := map[string]map[uint32]uint64{}
	for _, n := range members {
		cl := c.Client(n)
		ms, err := cl.Members(ctx)
		if err != nil {
			return fmt.Errorf("%s members: %w", n.ID, err)
		}
		for _, m := range ms {
			if ids[m.ID] && m.Status != client.MemberAlive {
				return fmt.Errorf("%s sees %s %s", n.ID, m.ID, m.Status)
			}
		}
		r, err := cl.Ring(ctx)
		if err != nil {
			return fmt.Errorf("%s ring: %w", n.ID, err)
		}
		if ring == nil {
			ring = r
		} else if !slices.EqualFunc(r.Replicas, ring.Replicas, slices.Equal[[]string]) {
			return fmt.Errorf("%s's ring (version %d) differs from %s's (version %d)", n.ID, r.Version, members[0].ID, ring.Version)
		}
		st, err := cl.Status(ctx)
		if err != nil {
			return fmt.Errorf("%s status: %w", n.ID, err)
		}
		for target, count := range st.HintsPending {
			if count > 0 {
				return fmt.Errorf("%s keeps %d hints for %s", n.ID, count, target)
			}
		}
		h := st.Handoff
		if h.Pending != 0 || h.Draining != 0 || len(h.Active) != 0 || !h.Settled || h.RingVersion != r.Version {
			return fmt.Errorf("%s handoff: %d to receive, %d draining, %d running, settled=%v, figures of ring %d (ring is %d)",
				n.ID, h.Pending, h.Draining, len(h.Active), h.Settled, h.RingVersion, r.Version)
		}
		roots[n.ID] = st.MerkleRoots
	}
	if ring == nil {
		return errors.New("no member")
	}
	for p, replicas := range ring.Replicas {
		for _, id := range replicas {
			if !ids[id] {
				return fmt.Errorf("partition %d has replica %s, not a member", p, id)
			}
		}
		var want uint64
		for i, id := range replicas {
			root, ok := roots[id][uint32(p)]
			if !ok {
				return fmt.Errorf("partition %d: %s reports no root", p, id)
			}
			if i == 0 {
				want = root
			} else if root != want {
				return fmt.Errorf("partition %d: replicas' Merkle roots differ (%s vs %s)", p, replicas[0], id)
			}
		}
	}
	return nil
}

// finalBudget bounds the final reads as a whole: a node that cannot
// answer must not hold the run for keys × retries × timeouts.
const finalBudget = 2 * time.Minute

// FinalState reads every key at R=3 from every member, the members in
// parallel, retrying a failed read a few times within finalBudget, and
// records each member's Merkle roots and the ring. converged says how the
// settle before it went.
func (c *Cluster) FinalState(ctx context.Context, keys []string, converged error, took time.Duration) history.Final {
	f := history.Final{Reads: map[string]map[string]history.FinalRead{}, Roots: map[string]map[uint32]uint64{},
		Converged: converged == nil, ConvergeTime: took}
	if converged != nil {
		f.ConvergeErr = converged.Error()
	}
	members := c.Members()
	fctx, cancel := context.WithTimeout(ctx, finalBudget)
	defer cancel()
	reads := make([]map[string]history.FinalRead, len(members))
	var wg sync.WaitGroup
	for i, n := range members {
		wg.Go(func() {
			m := map[string]history.FinalRead{}
			for _, key := range keys {
				m[key] = c.finalRead(fctx, n, key)
			}
			reads[i] = m
		})
	}
	wg.Wait()
	for _, key := range keys {
		f.Reads[key] = map[string]history.FinalRead{}
		for i, n := range members {
			f.Reads[key][n.ID] = reads[i][key]
		}
	}
	// The roots and the ring: a node that cannot answer is named in
	// RootsErr, and a final state without a ring fails the checker, so a
	// comparison that could not run is never taken for one that passed.
	var rootsErrs []string
	for _, n := range members {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := c.Client(n).Status(rctx)
		if err != nil {
			rootsErrs = append(rootsErrs, fmt.Sprintf("%s status: %v", n.ID, err))
		} else {
			f.Roots[n.ID] = maps.Clone(st.MerkleRoots)
		}
		if f.Replicas == nil {
			if r, rerr := c.Client(n).Ring(rctx); rerr == nil {
				f.Replicas = r.Replicas
			} else {
				rootsErrs = append(rootsErrs, fmt.Sprintf("%s ring: %v", n.ID, rerr))
			}
		}
		cancel()
	}
	f.RootsErr = strings.Join(rootsErrs, "; ")
	return f
}

func (c *Cluster) finalRead(ctx context.Context, n *Node, key string) history.FinalRead {
	last := errors.New("the final reads' time was up before this one")
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 6*time.Second)
		obj, err := c.Client(n).Get(rctx, key, &client.ReadOptions{R: 3})
		cancel()
		if err == nil {
			return FinalRead(key, obj)
		}
		last = err
	}
	return history.FinalRead{Err: last.Error()}
}

// FinalRead decodes a read's siblings for the history.
func FinalRead(key string, obj *client.Object) history.FinalRead {
	r := history.FinalRead{Found: obj.Found}
	for _, s := range obj.Siblings {
		r.Siblings = append(r.Siblings, DecodeSibling(key, s))
	}
	return r
}

// DecodeSibling names a sibling by the write that made it.
func DecodeSibling(key string, s client.Sibling) history.FinalSibling {
	fs := history.FinalSibling{ID: string(s.Value), Timestamp: s.Timestamp}
	switch history.KindOf(key) {
	case history.KindSet:
		v, err := history.DecodeSet(s.Value)
		if err != nil {
			fs.ID, fs.BadValue = fmt.Sprintf("%.60q", s.Value), true
			return fs
		}
		fs.ID, fs.Elems = v.ID, v.Elems
	case history.KindRegister:
	default:
		fs.ID, fs.BadValue = fmt.Sprintf("%.60q", s.Value), true
	}
	return fs
}

// tlsContextSecret is the context secret of a TLS run's nodes.
const tlsContextSecret = "dhtchaos-context-secret-0123456789"

// issue writes the CA and a certificate for node id at ip into dir, and
// returns the dhtd flags that use them.
func (c *Cluster) issue(dir, id, ip string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	cert, key, err := c.ca.Issue(certs.Leaf{CommonName: id, Hosts: []string{ip}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), Client: true, Server: true})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"ca.crt": c.ca.CertPEM(), "node.crt": cert, "node.key": key}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return []string{
		"--cluster.tls.ca_file", filepath.Join(dir, "ca.crt"),
		"--cluster.tls.cert_file", filepath.Join(dir, "node.crt"),
		"--cluster.tls.key_file", filepath.Join(dir, "node.key"),
		"--security.context_secret", tlsContextSecret,
	}, nil
}
