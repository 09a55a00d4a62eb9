package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dhtkv/dht/bench/report"
	"github.com/dhtkv/dht/bench/ycsbdb"
	"github.com/dhtkv/dht/client"
)

// Waits of a system's start and stop.
const (
	readyTimeout = 90 * time.Second
	stopTimeout  = 15 * time.Second
	pollInterval = 100 * time.Millisecond
)

// System is one system under test. Start and Stop are called in turn, from
// one goroutine; Start begins with an empty data directory.
type System interface {
	// Info describes the system for the report.
	Info() report.System
	// Start starts the servers with their data under dir and returns once
	// they serve requests.
	Start(ctx context.Context, dir string) error
	// Binding is the go-ycsb binding to drive it with, and the properties
	// that point the binding at the servers.
	Binding() (db string, props map[string]string)
	// Procs are the running server processes.
	Procs() []*Proc
	// Stop stops every server.
	Stop() error
}

// Binaries are the programs the systems run.
type Binaries struct {
	DHTD string
	Etcd string
	// Self is the dhtbench binary, which serves the no-op server.
	Self string
}

// SystemIDs lists the systems a comparison runs by default, in the order
// reports show them. dht-n3-lww and dht-n3-tls follow dht-n3, their
// baseline, so that every run says what an update costs when it is one
// blind write, as etcd's is, and what TLS costs.
var SystemIDs = []string{"dht-n3", "dht-n3-lww", "dht-n3-tls", "dht-n3-sync", "dht-n1", "etcd", "noop"}

// ExtraSystemIDs are systems run only when asked for (-systems): the
// 3-node cluster on the pebble engine, for the engine comparison of
// docs/engines.md and the memory figures of docs/benchmarks.md, and the
// TLS cluster with its clients on HTTP/2.
var ExtraSystemIDs = []string{"dht-n3-pebble", "dht-n3-pebble-sync", "dht-n3-tls-h2"}

// NewSystem returns the system with the given id. pprof makes dhtd serve
// /debug/pprof/ (http.pprof, in dhtd builds that have it).
func NewSystem(id string, bin Binaries, fieldCount, fieldLength int, pprof bool) (System, error) {
	switch id {
	case "dht-n3":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 3, n: 3, r: 2, w: 2, sync: false, pprof: pprof}, nil
	case "dht-n3-lww":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 3, n: 3, r: 2, w: 2, sync: false, lww: true, baseline: "dht-n3", pprof: pprof}, nil
	case "dht-n3-tls":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 3, n: 3, r: 2, w: 2, sync: false, tls: true, baseline: "dht-n3", pprof: pprof}, nil
	case "dht-n3-tls-h2":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 3, n: 3, r: 2, w: 2, sync: false, tls: true, http2: true, baseline: "dht-n3", pprof: pprof}, nil
	case "dht-n3-sync":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 3, n: 3, r: 2, w: 2, sync: true, pprof: pprof}, nil
	case "dht-n3-pebble":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 3, n: 3, r: 2, w: 2, sync: false, engine: "pebble", pprof: pprof}, nil
	case "dht-n3-pebble-sync":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 3, n: 3, r: 2, w: 2, sync: true, engine: "pebble", pprof: pprof}, nil
	case "dht-n1":
		return &dhtSystem{id: id, bin: bin.DHTD, nodes: 1, n: 1, r: 1, w: 1, sync: false, pprof: pprof}, nil
	case "etcd":
		return &etcdSystem{bin: bin.Etcd, members: 3}, nil
	case "noop":
		return &noopSystem{bin: bin.Self, fieldCount: fieldCount, fieldLength: fieldLength}, nil
	}
	return nil, fmt.Errorf("harness: unknown system %q (known: %s)", id, strings.Join(append(slices.Clone(SystemIDs), ExtraSystemIDs...), ", "))
}

// lwwBucket is the resolution.buckets of a dhtSystem with lww: every key
// of the YCSB table, which the bindings store as "usertable:<key>", is
// resolved by last write wins.
const lwwBucket = table + ":=lww"

// dhtSystem is a cluster of dhtd processes, or one standalone node.
type dhtSystem struct {
	id             string
	bin            string
	nodes, n, r, w int
	sync, pprof    bool
	// engine is storage.engine; empty means the default, badger.
	engine string
	// tls runs the cluster with mutual TLS between nodes, HTTPS on the
	// API and a context secret, from material made at Start; http2 lets
	// the binding speak HTTP/2 to it (ycsbdb.DHTHTTP2).
	tls, http2 bool
	// lww makes the YCSB table's keys a bucket resolved by lww on write
	// (lwwBucket) and the binding's updates blind
	// (ycsbdb.DHTBlindUpdates).
	lww bool
	// baseline is the system this one differs from in one respect, for
	// the report's comparison.
	baseline string

	procs []*Proc
	urls  []string
	// mat is the TLS material of the running system, nil without tls.
	mat *tlsMaterial
	// hc is the harness's own client for readiness checks and profiles.
	hc *http.Client
}

func (s *dhtSystem) Info() report.System {
	sync := "off"
	if s.sync {
		sync = "on"
	}
	if s.nodes == 1 {
		return report.System{ID: s.id, Label: "dht N=1", Kind: report.KindOurs,
			Setup: "one standalone dhtd (no gossip, no remote), N=R=W=1, badger with `storage.sync_writes` off: the store without replication"}
	}
	engine, label := "badger", "dht N=3, sync "+sync
	if s.engine != "" {
		engine, label = s.engine, "dht N=3 "+s.engine+", sync "+sync
	}
	setup := fmt.Sprintf("%d dhtd processes on loopback, N=%d R=%d W=%d, %s with `storage.sync_writes` %s, default config otherwise (256 partitions, anti-entropy on); YCSB thread i talks to node i mod %d", s.nodes, s.n, s.r, s.w, engine, sync, s.nodes)
	if s.lww {
		label = "dht N=3, lww bucket, blind updates"
		setup += "; the YCSB table is a bucket resolved by `lww` on write (`resolution.buckets: \"" + lwwBucket + "\"`, `resolution.on_write: true`: " +
			"the vnode coordinating a write resolves the siblings it leaves, keeping the latest by the node's clock) and an update is one blind PUT of the whole record, " +
			"no read and no context (`dht.blind_updates`), reads as in dht N=3. This is the row to compare with etcd's update, one blind Put; " +
			"dht N=3 is what a client pays that keeps concurrent writes as siblings: a read for the context, then the write"
	}
	if s.tls {
		label += ", TLS"
		api := "HTTP/1.1, each YCSB thread on its own kept-alive connection as over plain HTTP"
		if s.http2 {
			label += ", HTTP/2"
			api = "HTTP/2, the threads of a node sharing one connection"
		}
		setup += "; with mutual TLS between nodes (`cluster.tls.*`, TLS 1.3 on the remote port), HTTPS on the API (`http.tls.*`, " + api +
			") and a context secret (`security.context_secret`), from a CA and ECDSA P-256 node certificates the harness makes at start"
	}
	return report.System{ID: s.id, Label: label, Kind: report.KindOurs, Baseline: s.baseline, Setup: setup}
}

func (s *dhtSystem) Binding() (string, map[string]string) {
	props := map[string]string{ycsbdb.DHTEndpoints: strings.Join(s.urls, ",")}
	if s.mat != nil {
		props[ycsbdb.DHTCACert] = s.mat.caFile
		props[ycsbdb.DHTHTTP2] = strconv.FormatBool(s.http2)
	}
	if s.lww {
		props[ycsbdb.DHTBlindUpdates] = "true"
	}
	return "dht", props
}

func (s *dhtSystem) Procs() []*Proc { return s.procs }

func (s *dhtSystem) Start(ctx context.Context, dir string) error {
	s.procs, s.urls, s.mat = nil, nil, nil
	ids := make([]string, s.nodes)
	for i := range ids {
		ids[i] = "node" + strconv.Itoa(i+1)
	}
	scheme, env := "http", []string(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.tls {
		mat, err := makeTLS(filepath.Join(dir, "tls"), ids, time.Now())
		if err != nil {
			return err
		}
		s.mat, scheme, env = mat, "https", mat.nodeEnv()
		tr.TLSClientConfig = mat.client.Clone()
	}
	s.hc = &http.Client{Transport: tr}
	seed := ""
	for _, id := range ids {
		httpPort, err := freePort()
		if err != nil {
			return err
		}
		args := []string{
			"--node.id", id,
			"--node.data_dir", filepath.Join(dir, id),
			"--http.listen", loopback(httpPort),
			"--replication.n", strconv.Itoa(s.n), "--replication.r", strconv.Itoa(s.r), "--replication.w", strconv.Itoa(s.w),
			"--storage.sync_writes=" + strconv.FormatBool(s.sync),
			"--log.level", "warn", "--log.format", "text",
		}
		if s.pprof {
			args = append(args, "--http.pprof=true")
		}
		if s.engine != "" {
			args = append(args, "--storage.engine", s.engine)
		}
		if s.lww {
			args = append(args, "--resolution.on_write=true", "--resolution.buckets", lwwBucket)
		}
		if s.mat != nil {
			args = append(args, s.mat.nodeArgs(id)...)
		}
		if s.nodes == 1 {
			args = append(args, "--cluster.gossip_listen", "", "--cluster.remote_listen", "")
		} else {
			gossip, err := freePort()
			if err != nil {
				return err
			}
			remote, err := freePort()
			if err != nil {
				return err
			}
			args = append(args,
				"--cluster.gossip_listen", loopback(gossip),
				"--cluster.remote_listen", loopback(remote),
				"--cluster.seeds", seed)
			if seed == "" {
				seed = loopback(gossip)
			}
		}
		p, err := StartProcEnv(id, filepath.Join(dir, id+".log"), s.bin, env, args...)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
		s.urls = append(s.urls, scheme+"://"+loopback(httpPort))
	}
	for i, p := range s.procs {
		if err := waitHTTP(ctx, p, s.urls[i]+"/readyz", s.tlsClient(), nil); err != nil {
			return err
		}
	}
	if s.nodes > 1 {
		return s.waitSettled(ctx)
	}
	return nil
}

// waitSettled waits until every node routes by the same ring of all nodes
// and no boot-time handoff is left: until then a node may still pull (empty)
// partitions from the first one, which would be measured with the load.
func (s *dhtSystem) waitSettled(ctx context.Context) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		if last = s.settled(ctx); last == nil {
			return nil
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("harness: %s did not settle within %s: %w", s.id, readyTimeout, last)
}

func (s *dhtSystem) settled(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var first *client.Ring
	for i, u := range s.urls {
		c, err := client.New(u, client.WithHTTPClient(s.hc), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
		if err != nil {
			return err
		}
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		ring, err := c.Ring(ctx)
		if err != nil {
			return err
		}
		h := st.Handoff
		switch {
		case h.Pending != 0 || h.Draining != 0 || len(h.Active) != 0:
			return fmt.Errorf("node%d: %d to receive, %d draining, %d running", i+1, h.Pending, h.Draining, len(h.Active))
		case !h.Settled || h.RingVersion != ring.Version:
			return fmt.Errorf("node%d: not settled at ring version %d", i+1, ring.Version)
		}
		owners := map[string]bool{}
		for _, ids := range ring.Replicas {
			for _, id := range ids {
				owners[id] = true
			}
		}
		if len(owners) != s.nodes {
			return fmt.Errorf("node%d: ring has %d owners, want %d", i+1, len(owners), s.nodes)
		}
		if first == nil {
			first = ring
		} else if !slices.EqualFunc(first.Replicas, ring.Replicas, slices.Equal[[]string]) {
			return fmt.Errorf("node%d routes by another ring than node1", i+1)
		}
	}
	return nil
}

func (s *dhtSystem) Stop() error {
	if s.hc != nil {
		s.hc.CloseIdleConnections()
	}
	return stopAll(s.procs)
}

// tlsClient is the TLS configuration that verifies the nodes' HTTPS
// certificates, nil over plain HTTP.
func (s *dhtSystem) tlsClient() *tls.Config {
	if s.mat == nil {
		return nil
	}
	return s.mat.client
}

// PprofURL returns the CPU profile URL of the first node.
func (s *dhtSystem) PprofURL(seconds int) string {
	return fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.urls[0], seconds)
}

// etcdSystem is an etcd cluster on loopback.
type etcdSystem struct {
	bin       string
	members   int
	procs     []*Proc
	endpoints []string
}

func (s *etcdSystem) Info() report.System {
	return report.System{ID: "etcd", Label: "etcd, 3 members", Kind: report.KindReference,
		Setup: "etcd from Debian's etcd-server package, 3 members on loopback, default settings (the WAL is fsynced before every commit); linearizable reads; the Go client (clientv3) balances over all three"}
}

func (s *etcdSystem) Binding() (string, map[string]string) {
	return "etcd", map[string]string{ycsbdb.EtcdEndpoints: strings.Join(s.endpoints, ",")}
}

func (s *etcdSystem) Procs() []*Proc { return s.procs }

func (s *etcdSystem) Start(ctx context.Context, dir string) error {
	s.procs, s.endpoints = nil, nil
	type member struct {
		name         string
		client, peer int
	}
	var members []member
	var initial []string
	for i := range s.members {
		c, err := freePort()
		if err != nil {
			return err
		}
		p, err := freePort()
		if err != nil {
			return err
		}
		m := member{"etcd" + strconv.Itoa(i+1), c, p}
		members = append(members, m)
		initial = append(initial, fmt.Sprintf("%s=http://%s", m.name, loopback(p)))
	}
	for _, m := range members {
		cu, pu := "http://"+loopback(m.client), "http://"+loopback(m.peer)
		p, err := StartProc(m.name, filepath.Join(dir, m.name+".log"), s.bin,
			"--name", m.name,
			"--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", "dhtbench",
			"--logger", "zap", "--log-level", "warn",
		)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
		s.endpoints = append(s.endpoints, cu)
	}
	for i, p := range s.procs {
		healthy := func(body []byte) bool { return strings.Contains(string(body), `"health":"true"`) }
		if err := waitHTTP(ctx, p, s.endpoints[i]+"/health", nil, healthy); err != nil {
			return err
		}
	}
	return nil
}

func (s *etcdSystem) Stop() error { return stopAll(s.procs) }

// noopSystem is the no-op server that measures the harness's ceiling.
type noopSystem struct {
	bin                     string
	fieldCount, fieldLength int
	procs                   []*Proc
	url                     string
}

func (s *noopSystem) Info() report.System {
	return report.System{ID: "noop", Label: "no-op HTTP (ceiling)", Kind: report.KindCeiling,
		Setup: "`dhtbench noop-server`, a separate process that answers every GET with the same 1 KiB record and every PUT with 204, storing nothing; driven by the dht binding, so it measures the load generator, the Go client, HTTP and loopback"}
}

func (s *noopSystem) Binding() (string, map[string]string) {
	return "dht", map[string]string{ycsbdb.DHTEndpoints: s.url}
}

func (s *noopSystem) Procs() []*Proc { return s.procs }

func (s *noopSystem) Start(ctx context.Context, dir string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	p, err := StartProc("noop", filepath.Join(dir, "noop.log"), s.bin, "noop-server",
		"-listen", loopback(port), "-fields", strconv.Itoa(s.fieldCount), "-field-length", strconv.Itoa(s.fieldLength))
	if err != nil {
		return err
	}
	s.procs, s.url = []*Proc{p}, "http://"+loopback(port)
	return waitHTTP(ctx, p, s.url+"/readyz", nil, nil)
}

func (s *noopSystem) Stop() error { return stopAll(s.procs) }

// waitHTTP polls url until it answers 200 (and ok accepts the body, when
// set), the process exits, or readyTimeout passes. tlsCfg verifies an
// https:// url; nil trusts the system's roots.
func waitHTTP(ctx context.Context, p *Proc, url string, tlsCfg *tls.Config, ok func([]byte) bool) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsCfg}}
	deadline := time.Now().Add(readyTimeout)
	last := "no answer yet"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && (ok == nil || ok(body)) {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if p.Exited() {
			return fmt.Errorf("harness: %s exited before it was ready; the end of its log:\n%s", p.Name, p.Tail(4096))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: %s not ready within %s (last: %s); the end of its log:\n%s", p.Name, readyTimeout, last, p.Tail(4096))
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

func stopAll(procs []*Proc) error {
	var errs []error
	// In reverse: the seed node last, so that the others leave a live
	// cluster.
	for i := len(procs) - 1; i >= 0; i-- {
		errs = append(errs, procs[i].Stop(stopTimeout))
	}
	return errors.Join(errs...)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
