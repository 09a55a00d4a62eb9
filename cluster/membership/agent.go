package membership

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/hashicorp/go-metrics"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Tag keys announced through serf. Serf limits all tags together to 512
// bytes, so keys are short.
const (
	tagRemote     = "rem"
	tagHTTP       = "http"
	tagZone       = "zone"
	tagCluster    = "cl"
	tagPartitions = "q"
	tagN          = "n"
	// tagRing is the mark of the ring the node routes by (topo.RingMark's
	// text, at most 37 bytes), so that peers' readiness can wait until it
	// is theirs.
	tagRing = "rg"
	// tagLeaving is set ("1") by a decommissioned node while it hands its
	// partitions over, until it exits: peers show it leaving meanwhile.
	tagLeaving = "lv"
	// tagWriteIDs is set ("1") by every node of a release that keeps the
	// write ids of handed-over writes (dvv's request ids). A node of an
	// earlier release drops them when it rewrites an object, and a copy
	// stripped of a collapsed write's aliases could then make the other
	// copy look superseded: coordinators hand writes over only while every
	// member announces it (Member.WriteIDs).
	tagWriteIDs = "wid"
	// tagSettlesHandoffs is set ("1") by every node of a release that
	// knows the ring state's settled register (ring.State.HandoffsSettled).
	// A node of an earlier release ignores the register but not the
	// records it drops, and would count the placements they covered as
	// not received: stand-ins that dropped their copies long ago would
	// serve reads again. Nodes settle only while every member announces it
	// (Member.SettlesHandoffs).
	tagSettlesHandoffs = "hs"
	// tagCompactsRing is set ("1") by every node of a release that knows
	// the ring state's base (ring.State.Base). A node of an earlier
	// release ignores the base but not the entries it drops, and would
	// replay a different table. Nodes compact only while every member
	// announces it (Member.CompactsRing).
	tagCompactsRing = "rb"
	// tagResizesRing is set (to resizesRingLevel) by a node whose actors
	// follow the ring's partition count, so that it applies a resize
	// (ring.State.Resize); an earlier release cannot even decode a resized
	// base. Nodes resize only while every member announces it
	// (Member.ResizesRing).
	tagResizesRing = "rz"
	// resizesRingLevel is the value of tagResizesRing: "2" since a
	// resize's base carries a rebalance (ring.Base.Rebalance), which a
	// node announcing "1" ignores, computing another table.
	resizesRingLevel = "2"
)

// Status is a member's liveness as serf sees it.
type Status string

// Member statuses.
const (
	StatusAlive   Status = "alive"
	StatusFailed  Status = "failed"
	StatusLeaving Status = "leaving"
	StatusLeft    Status = "left"
)

// Member is one node as gossip knows it.
type Member struct {
	ID         string
	Zone       string
	RemoteAddr string
	HTTPAddr   string
	Cluster    string
	Partitions int
	N          int
	// Ring is the mark of the ring the node announces it routes by
	// (topo.RingMark.String); "" when it announces none (it has not
	// started its ring, or runs a release without the tag).
	Ring string
	// Leaving is set while the node, decommissioned, hands its partitions
	// over (SetLeaving).
	Leaving bool
	// WriteIDs is set when the node keeps the write ids of handed-over
	// writes (this release and later); see tagWriteIDs.
	WriteIDs bool
	// SettlesHandoffs is set when the node knows the ring state's settled
	// register (this release and later); see tagSettlesHandoffs.
	SettlesHandoffs bool
	// CompactsRing is set when the node knows the ring state's base (this
	// release and later); see tagCompactsRing.
	CompactsRing bool
	// ResizesRing is set when the node applies a resize of the ring; see
	// tagResizesRing.
	ResizesRing bool
	Status      Status
}

// Config configures an Agent.
type Config struct {
	NodeID string
	// BindAddr is host:port to gossip on; AdvertiseAddr (optional) is what
	// peers are told.
	BindAddr      string
	AdvertiseAddr string
	// Key encrypts gossip: base64 of 16, 24 or 32 bytes, or "".
	Key string
	// DataDir holds serf's snapshot, so a restarted node rejoins the peers
	// it knew even if its seeds are gone.
	DataDir string
	// Self describes this node in its tags.
	Self Member
	// Fast tunes failure detection for loopback test clusters (sub-second
	// probes) instead of LAN defaults.
	Fast   bool
	Logger *slog.Logger
}

// Event is what the Agent reports: a membership change (Members is then
// the current list) or a user event.
type Event struct {
	Members []Member
	// Change names what changed, for a membership change.
	Change    *Change
	UserEvent *UserEvent
}

// Change is one membership change serf reported: Kind is "join", "leave",
// "fail", "update" or "reap", and IDs the nodes it concerns.
type Change struct {
	Kind string
	IDs  []string
}

// UserEvent is an operator-triggered cluster event carried by serf.
type UserEvent struct {
	Name    string
	Payload []byte
}

// Agent is a running serf instance.
type Agent struct {
	serf *serf.Serf
	// tags are this node's tags as last set; SetRing changes them from the
	// topology actor's goroutine while Start's caller may read them.
	tags struct {
		sync.Mutex
		m map[string]string
	}
	self   Member
	logger *slog.Logger
	events chan serf.Event
	wg     sync.WaitGroup
	stop   chan struct{}
	once   sync.Once
}

// Start creates the serf instance and begins reporting events to onEvent.
// It does not join anyone: call Join.
func Start(cfg Config, onEvent func(Event)) (*Agent, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	conf := serf.DefaultConfig()
	conf.Init()
	conf.NodeName = cfg.NodeID
	conf.Tags = tags(cfg.Self)
	ml := memberlist.DefaultLANConfig()
	if cfg.Fast {
		ml = memberlist.DefaultLocalConfig()
		ml.ProbeInterval = 200 * time.Millisecond
		ml.ProbeTimeout = 100 * time.Millisecond
		ml.GossipInterval = 50 * time.Millisecond
		ml.SuspicionMult = 2
		ml.PushPullInterval = time.Second
		conf.LeavePropagateDelay = 100 * time.Millisecond
	}
	host, port, err := splitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("membership: bind address: %w", err)
	}
	ml.BindAddr, ml.BindPort = host, port
	if cfg.AdvertiseAddr != "" {
		if ml.AdvertiseAddr, ml.AdvertisePort, err = splitHostPort(cfg.AdvertiseAddr); err != nil {
			return nil, fmt.Errorf("membership: advertise address: %w", err)
		}
	} else if host != "0.0.0.0" && host != "" && host != "::" {
		ml.AdvertiseAddr, ml.AdvertisePort = host, port
	}
	if cfg.Key != "" {
		if ml.SecretKey, err = base64.StdEncoding.DecodeString(cfg.Key); err != nil {
			return nil, fmt.Errorf("membership: gossip key: %w", err)
		}
	}
	// Both libraries report to go-metrics' process-wide sink; the node's
	// id tells apart the series of nodes that share a process.
	labels := []metrics.Label{{Name: "node", Value: cfg.NodeID}}
	conf.MetricLabels, ml.MetricLabels = labels, labels
	stdLogger := log.New(newSlogWriter(logger.With("component", "serf")), "", 0)
	ml.Logger = stdLogger
	conf.Logger = stdLogger
	conf.MemberlistConfig = ml
	// Failed nodes stay owners until force-removed; keep them listed (as
	// failed) long enough that the operator, not a timer, decides.
	conf.ReconnectTimeout = 7 * 24 * time.Hour
	if cfg.DataDir != "" {
		dir := filepath.Join(cfg.DataDir, "serf")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("membership: %w", err)
		}
		conf.SnapshotPath = filepath.Join(dir, "snapshot")
		// A node leaves gossip when it stops cleanly (Node.LeaveGossip) as
		// well as when it is decommissioned; on its next start it rejoins
		// the peers it knew, as after a crash. Peers do not reconnect to a
		// member that left, so a node whose seeds are only itself (the
		// first node of a cluster) would otherwise stay alone.
		conf.RejoinAfterLeave = true
	}
	events := make(chan serf.Event, 256)
	conf.EventCh = events
	s, err := serf.Create(conf)
	if err != nil {
		return nil, fmt.Errorf("membership: start serf on %s: %w", cfg.BindAddr, err)
	}
	a := &Agent{serf: s, self: cfg.Self, logger: logger, events: events, stop: make(chan struct{})}
	a.tags.m = conf.Tags
	a.wg.Add(1)
	go a.loop(onEvent)
	return a, nil
}

// loop turns serf's events into Events, one at a time, on one goroutine.
func (a *Agent) loop(onEvent func(Event)) {
	defer a.wg.Done()
	for {
		select {
		case <-a.stop:
			return
		case e := <-a.events:
			switch e := e.(type) {
			case serf.MemberEvent:
				kind := strings.TrimPrefix(e.EventType().String(), "member-")
				if kind == "failed" {
					kind = "fail"
				}
				change := &Change{Kind: kind}
				for _, m := range e.Members {
					change.IDs = append(change.IDs, m.Name)
				}
				onEvent(Event{Members: a.Members(), Change: change})
			case serf.UserEvent:
				onEvent(Event{UserEvent: &UserEvent{Name: e.Name, Payload: e.Payload}})
			}
		}
	}
}

// Join contacts seeds until one answers or ctx ends, retrying every
// interval, and returns how many answered. Serf counts a join to this node's
// own address as an answer, and seed lists often include it (the first pods
// of a StatefulSet), so a node still alone after a join keeps retrying for
// up to aloneGrace: during a parallel start its peers may not resolve yet.
// After that it accepts being the first node of a new cluster.
func (a *Agent) Join(ctx context.Context, seeds []string, interval time.Duration) (int, error) {
	const aloneGrace = 30 * time.Second
	started := time.Now()
	for {
		n, err := a.serf.Join(seeds, true)
		if n > 0 && (a.AliveCount() > 1 || time.Since(started) > aloneGrace) {
			return n, nil
		}
		if n > 0 {
			a.logger.Info("only this node answered so far; retrying the seeds", "seeds", seeds, "retry_in", interval)
		} else {
			a.logger.Warn("cannot reach any seed yet; retrying", "seeds", seeds, "err", err, "retry_in", interval)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("membership: join %v: %w", seeds, errors.Join(err, ctx.Err()))
		case <-time.After(interval):
		}
	}
}

// Members returns every node serf knows, including failed and left ones,
// sorted by id.
func (a *Agent) Members() []Member {
	var out []Member
	for _, m := range a.serf.Members() {
		out = append(out, fromSerf(m))
	}
	slices.SortFunc(out, func(x, y Member) int {
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
	return out
}

// Self returns this node's announced description.
func (a *Agent) Self() Member { return a.self }

// AliveCount returns how many members, this one included, are alive.
func (a *Agent) AliveCount() int {
	n := 0
	for _, m := range a.serf.Members() {
		if m.Status == serf.StatusAlive {
			n++
		}
	}
	return n
}

// SetLeaving announces that this node, decommissioned, hands its
// partitions over until it exits: peers show it leaving, not removed. The
// tag goes with the node: a restart starts without it. Safe for
// concurrent use.
func (a *Agent) SetLeaving() error {
	a.tags.Lock()
	defer a.tags.Unlock()
	if a.tags.m[tagLeaving] == "1" {
		return nil
	}
	next := maps.Clone(a.tags.m)
	next[tagLeaving] = "1"
	if err := a.serf.SetTags(next); err != nil {
		return fmt.Errorf("membership: announce leaving: %w", err)
	}
	a.tags.m = next
	return nil
}

// SetRing announces mark (topo.RingMark's text) as the ring this node
// routes by: serf gossips the new tags to every peer. Announcing the mark
// already announced does nothing. Safe for concurrent use.
func (a *Agent) SetRing(mark string) error {
	a.tags.Lock()
	defer a.tags.Unlock()
	if a.tags.m[tagRing] == mark {
		return nil
	}
	next := maps.Clone(a.tags.m)
	next[tagRing] = mark
	if err := a.serf.SetTags(next); err != nil {
		return fmt.Errorf("membership: announce ring %s: %w", mark, err)
	}
	a.tags.m = next
	return nil
}

// UserEvent broadcasts an operator cluster event to every node.
func (a *Agent) UserEvent(name string, payload []byte) error {
	return a.serf.UserEvent(name, payload, false)
}

// RemoveFailed tells the cluster that a failed node is gone for good.
func (a *Agent) RemoveFailed(id string) error {
	return a.serf.RemoveFailedNodePrune(id)
}

// Leave announces a graceful departure (decommission), then shuts down.
func (a *Agent) Leave() error {
	err := a.serf.Leave()
	return errors.Join(err, a.Shutdown())
}

// Shutdown stops gossiping without leaving: peers will mark this node
// failed and keep it as an owner, which is what a restart needs.
func (a *Agent) Shutdown() error {
	var err error
	a.once.Do(func() {
		err = a.serf.Shutdown()
		close(a.stop)
		a.wg.Wait()
	})
	return err
}

func tags(m Member) map[string]string {
	t := map[string]string{
		tagRemote:          m.RemoteAddr,
		tagHTTP:            m.HTTPAddr,
		tagCluster:         m.Cluster,
		tagPartitions:      strconv.Itoa(m.Partitions),
		tagN:               strconv.Itoa(m.N),
		tagWriteIDs:        "1",
		tagSettlesHandoffs: "1",
		tagCompactsRing:    "1",
	}
	if m.Zone != "" {
		t[tagZone] = m.Zone
	}
	if m.ResizesRing {
		t[tagResizesRing] = resizesRingLevel
	}
	if m.Ring != "" {
		t[tagRing] = m.Ring
	}
	return t
}

func fromSerf(m serf.Member) Member {
	q, _ := strconv.Atoi(m.Tags[tagPartitions])
	n, _ := strconv.Atoi(m.Tags[tagN])
	out := Member{
		ID: m.Name, Zone: m.Tags[tagZone], RemoteAddr: m.Tags[tagRemote], HTTPAddr: m.Tags[tagHTTP],
		Cluster: m.Tags[tagCluster], Partitions: q, N: n, Ring: m.Tags[tagRing], Leaving: m.Tags[tagLeaving] == "1",
		WriteIDs: m.Tags[tagWriteIDs] == "1", SettlesHandoffs: m.Tags[tagSettlesHandoffs] == "1",
		CompactsRing: m.Tags[tagCompactsRing] == "1", ResizesRing: m.Tags[tagResizesRing] == resizesRingLevel,
	}
	switch m.Status {
	case serf.StatusAlive:
		out.Status = StatusAlive
	case serf.StatusLeaving:
		out.Status = StatusLeaving
	case serf.StatusLeft:
		out.Status = StatusLeft
	default:
		out.Status = StatusFailed
	}
	return out
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port of %q: %w", addr, err)
	}
	return host, port, nil
}

// slogWriter adapts serf's and memberlist's standard loggers to slog. They
// prefix lines with a level in brackets; routine [DEBUG] and [INFO] lines
// go to debug so a healthy cluster's log stays quiet. Warnings and errors
// about one peer (memberlist names it "from=ADDR") are logged at most once
// per peer per junkLogInterval, with the count of those held back, so that
// junk sent to the gossip port cannot flood the log.
type slogWriter struct {
	logger *slog.Logger
	now    func() time.Time
	mu     struct {
		sync.Mutex
		last map[string]junkLog // by peer host
	}
}

type junkLog struct {
	at         time.Time
	suppressed int
}

// junkLogInterval bounds the gossip library's warnings per peer.
const junkLogInterval = 10 * time.Second

func newSlogWriter(logger *slog.Logger) *slogWriter {
	w := &slogWriter{logger: logger, now: time.Now}
	w.mu.last = map[string]junkLog{}
	return w
}

// fromPeer finds the peer a memberlist line is about: "from=10.0.0.1:7946".
var fromPeer = regexp.MustCompile(`from=\[?([0-9A-Za-z.:-]+?)\]?:\d+`)

func (w *slogWriter) Write(p []byte) (int, error) {
	msg := trimNewline(string(p))
	level := slog.LevelDebug
	switch {
	case containsAny(msg, "use of closed network connection"):
		// memberlist's probes racing its own shutdown: this node is
		// stopping, nothing failed.
		level = slog.LevelDebug
	case containsAny(msg, "[ERR]", "[ERROR]"):
		level = slog.LevelError
	case containsAny(msg, "[WARN]"):
		level = slog.LevelWarn
	}
	if level > slog.LevelDebug {
		if m := fromPeer.FindStringSubmatch(msg); m != nil {
			held, ok := w.admit(m[1])
			if !ok {
				return len(p), nil
			}
			if held > 0 {
				w.logger.Log(context.Background(), level, msg, "held_back_since_last_line", held)
				return len(p), nil
			}
		}
	}
	w.logger.Log(context.Background(), level, msg)
	return len(p), nil
}

// admit reports whether a line about peer may be logged now, and how many
// were held back since the last one.
func (w *slogWriter) admit(peer string) (held int, ok bool) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	l, seen := w.mu.last[peer]
	if seen && now.Sub(l.at) < junkLogInterval {
		l.suppressed++
		w.mu.last[peer] = l
		return 0, false
	}
	if len(w.mu.last) > 4096 {
		clear(w.mu.last) // bounded against a sweep of source addresses
	}
	w.mu.last[peer] = junkLog{at: now}
	return l.suppressed, true
}

var _ io.Writer = (*slogWriter)(nil)

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func trimNewline(s string) string { return strings.TrimRight(s, "\r\n") }
