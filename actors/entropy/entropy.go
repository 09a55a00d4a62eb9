package entropy

import (
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// Config configures the scheduler.
type Config struct {
	Self     string
	View     *topology.View
	VnodePID func(node string, p uint32) *actor.PID
	Interval time.Duration
	MaxKeys  int
	// Timeout bounds one exchange.
	Timeout time.Duration
	// Grace is the least age of a tombstone before it may be reaped; 0
	// turns reaping off.
	Grace time.Duration
	// HintsPID returns the PID of node's hint queue.
	HintsPID func(node string) *actor.PID
	Metrics  *Metrics
	// Now is the wall clock tombstone ages are measured by (sibling
	// timestamps come from the same clock on every node); nil means
	// time.Now.
	Now func() time.Time
	// OnRepair, when set, hears of each exchange that repaired replicas.
	OnRepair func(p uint32, peer string, copies int)
	Logger   *slog.Logger
}

// Metrics are the scheduler's instruments.
type Metrics struct {
	Exchanges    *prometheus.CounterVec
	KeysRepaired prometheus.Counter
	Bytes        prometheus.Counter
	// TombstonesReaped counts replica copies of tombstones deleted.
	TombstonesReaped prometheus.Counter
}

// NewMetrics registers the anti-entropy metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dht", Name: "ae_exchanges_total",
			Help: "Anti-entropy exchanges by result: in_sync, repaired, aborted.",
		}, []string{"result"}),
		KeysRepaired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "ae_keys_repaired_total",
			Help: "Replica copies anti-entropy brought up to date.",
		}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "dht", Name: "ae_bytes_total",
			Help: "Bytes of hashes, key listings and objects anti-entropy exchanged.",
		}),
	}
	m.TombstonesReaped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "dht", Name: "tombstones_reaped_total",
		Help: "Replica copies of tombstones deleted after the grace period.",
	})
	reg.MustRegister(m.Exchanges, m.KeysRepaired, m.Bytes, m.TombstonesReaped)
	return m
}

// Props returns the props of the scheduler actor.
func Props(cfg Config) *actor.Props {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return actor.PropsFromProducer(func() actor.Actor { return &scheduler{cfg: cfg} })
}

type tick struct{}

// side names one of the two replicas in an exchange.
type side int

const (
	local side = iota
	remote
)

// exchange is the state of the running exchange.
type exchange struct {
	partition uint32
	peer      string
	deadline  time.Time
	shape     merkle.Shape
	level     int
	parents   []int
	hashes    [2][]uint64
	keys      [2][]merkle.KeyVersion
	answered  [2]bool
	// objects collects both sides' copies of each differing key.
	objects map[string]*[2]*dvv.Set
	// pending maps each outstanding request to its side and key; replies
	// of an abandoned exchange find no entry and are dropped.
	pending  map[uint64]request
	repaired int
	bytes    int
	// reap is the state of the reaping phase that follows an exchange that
	// found the two replicas in sync; nil before.
	reap   *reapPhase
	reaped int
}

type request struct {
	side side
	key  string
	// kind and node are set for the requests of the reaping phase.
	kind string
	node string
}

type scheduler struct {
	cfg    Config
	ticker *ticker.Ticker
	ex     *exchange
	nextID uint64
}

func (s *scheduler) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		s.ticker = ticker.Start(ctx, s.cfg.Interval, tick{})
	case *actor.Stopping, *actor.Restarting:
		// A restart builds a new actor with its own ticker.
		s.ticker.Stop()
	case tick:
		if s.ex != nil && time.Now().After(s.ex.deadline) {
			s.finish("aborted")
		}
		if s.ex == nil {
			s.begin(ctx)
		}
	case *messages.Envelope:
		s.onReply(ctx, msg)
	}
}

// begin starts an exchange for a random owned partition with a random live
// co-owner.
func (s *scheduler) begin(ctx actor.Context) {
	snap := s.cfg.View.Load()
	if snap == nil {
		return
	}
	type pair struct {
		p    uint32
		peer string
	}
	var pairs []pair
	// The members taking part in a partition are its serving replicas
	// (stand-ins included while a handoff runs) and the new owners still
	// receiving it: exchanging with those fills them sooner.
	for p := range snap.Plan.Slots {
		serving, pending := snap.Plan.Serving(uint32(p), snap.Alive)
		ids := append(serving, pending...)
		if !slices.Contains(ids, s.cfg.Self) {
			continue
		}
		for _, id := range ids {
			if id != s.cfg.Self && snap.Alive(id) {
				pairs = append(pairs, pair{uint32(p), id})
			}
		}
	}
	if len(pairs) == 0 {
		return
	}
	pick := pairs[rand.IntN(len(pairs))]
	s.ex = &exchange{partition: pick.p, peer: pick.peer, deadline: time.Now().Add(s.cfg.Timeout),
		objects: map[string]*[2]*dvv.Set{}, pending: map[uint64]request{}}
	s.askLevel(ctx, 0, nil)
}

func (s *scheduler) pid(sd side) *actor.PID {
	if sd == local {
		return s.cfg.VnodePID(s.cfg.Self, s.ex.partition)
	}
	return s.cfg.VnodePID(s.ex.peer, s.ex.partition)
}

func (s *scheduler) send(ctx actor.Context, sd side, key string, env *messages.Envelope) {
	s.sendTo(ctx, s.pid(sd), request{side: sd, key: key}, env)
}

func (s *scheduler) askLevel(ctx actor.Context, level int, parents []int) {
	s.ex.level, s.ex.parents = level, parents
	s.ex.answered = [2]bool{}
	ps := make([]uint32, len(parents))
	for i, p := range parents {
		ps[i] = uint32(p)
	}
	for _, sd := range []side{local, remote} {
		s.send(ctx, sd, "", &messages.Envelope{Body: &messages.Envelope_MerkleRequest{MerkleRequest: &messages.MerkleRequest{
			Partition: s.ex.partition, Level: uint32(level), Parents: ps,
		}}})
	}
	s.ex.bytes += 2 * 4 * len(parents)
}

func (s *scheduler) onReply(ctx actor.Context, env *messages.Envelope) {
	if s.ex == nil {
		return
	}
	req, ok := s.ex.pending[env.GetRequestId()]
	if !ok {
		return // a straggler of an abandoned exchange
	}
	delete(s.ex.pending, env.GetRequestId())
	sd := req.side
	switch body := env.GetBody().(type) {
	case *messages.Envelope_TombstonesReply:
		s.onTombstones(ctx, body.TombstonesReply)
		return
	case *messages.Envelope_HintsForReply:
		s.onReapAnswer(ctx, req, nil, body.HintsForReply.GetCount())
		return
	case *messages.Envelope_ReapReply:
		if body.ReapReply.GetReaped() {
			s.ex.reaped++
		}
		s.maybeFinishReap()
		return
	}
	if req.kind == "reap-get" {
		obj, err := wire.ObjectFromProto(env.GetGetReply().GetObject())
		if env.GetErrorReply() != nil || err != nil {
			s.finish("in_sync") // unknown is not reapable; try another time
			return
		}
		s.onReapAnswer(ctx, req, &obj, 0)
		return
	}
	switch body := env.GetBody().(type) {
	case *messages.Envelope_ErrorReply:
		s.cfg.Logger.Debug("anti-entropy exchange failed", "partition", s.ex.partition, "peer", s.ex.peer, "err", body.ErrorReply.GetMessage())
		s.finish("aborted")
	case *messages.Envelope_MerkleReply:
		s.onHashes(ctx, sd, body.MerkleReply)
	case *messages.Envelope_BucketKeysReply:
		s.onKeys(ctx, sd, body.BucketKeysReply)
	case *messages.Envelope_GetReply:
		s.onObject(ctx, req, body.GetReply)
	case *messages.Envelope_MergeReply:
		if len(s.ex.pending) == 0 {
			s.finish("repaired")
		}
	}
}

func (s *scheduler) onHashes(ctx actor.Context, sd side, r *messages.MerkleReply) {
	ex := s.ex
	ex.hashes[sd], ex.answered[sd] = r.GetHashes(), true
	ex.bytes += 8 * len(r.GetHashes())
	shape := merkle.Shape{Fanout: int(r.GetFanout()), Depth: int(r.GetDepth())}
	if sd == remote {
		ex.shape = shape
	} else if ex.shape == (merkle.Shape{}) {
		ex.shape = shape
	}
	if !ex.answered[local] || !ex.answered[remote] {
		return
	}
	var differ []int
	if ex.level == 0 {
		if len(ex.hashes[local]) == 1 && len(ex.hashes[remote]) == 1 && ex.hashes[local][0] != ex.hashes[remote][0] {
			differ = []int{0}
		}
	} else {
		differ = merkle.DiffChildren(ex.parents, ex.hashes[local], ex.hashes[remote], ex.shape.Fanout)
	}
	switch {
	case len(differ) == 0:
		s.afterInSync(ctx)
	case ex.level == ex.shape.Depth:
		s.askKeys(ctx, differ)
	default:
		s.askLevel(ctx, ex.level+1, differ)
	}
}

func (s *scheduler) askKeys(ctx actor.Context, buckets []int) {
	s.ex.answered = [2]bool{}
	bs := make([]uint32, len(buckets))
	for i, b := range buckets {
		bs[i] = uint32(b)
	}
	for _, sd := range []side{local, remote} {
		s.send(ctx, sd, "", &messages.Envelope{Body: &messages.Envelope_BucketKeysRequest{BucketKeysRequest: &messages.BucketKeysRequest{
			Partition: s.ex.partition, Buckets: bs,
		}}})
	}
}

func (s *scheduler) onKeys(ctx actor.Context, sd side, r *messages.BucketKeysReply) {
	ex := s.ex
	for _, kv := range r.GetKeys() {
		ex.keys[sd] = append(ex.keys[sd], merkle.KeyVersion{Key: kv.GetKey(), ValueHash: kv.GetValueHash()})
		ex.bytes += len(kv.GetKey()) + 8
	}
	ex.answered[sd] = true
	if !ex.answered[local] || !ex.answered[remote] {
		return
	}
	missingHere, missingThere, differing := merkle.DiffBuckets(ex.keys[local], ex.keys[remote])
	var keys [][]byte
	for _, set := range [][][]byte{missingHere, missingThere, differing} {
		keys = append(keys, set...)
	}
	if len(keys) > s.cfg.MaxKeys {
		keys = keys[:s.cfg.MaxKeys]
	}
	if len(keys) == 0 {
		s.afterInSync(ctx)
		return
	}
	for _, key := range keys {
		ex.objects[string(key)] = &[2]*dvv.Set{}
		for _, sd := range []side{local, remote} {
			s.send(ctx, sd, string(key), &messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{
				Partition: ex.partition, Key: key,
			}}})
		}
	}
}

// onObject collects both copies of a key; once both are in, it merges them
// and sends the result to each side whose copy differs. Handoff and repair
// are exempt from client limits, so the merge is never refused.
func (s *scheduler) onObject(ctx actor.Context, req request, r *messages.GetReply) {
	ex := s.ex
	obj, err := wire.ObjectFromProto(r.GetObject())
	if err != nil {
		s.cfg.Logger.Warn("anti-entropy: unreadable object", "partition", ex.partition, "err", err)
		s.finish("aborted")
		return
	}
	ex.bytes += proto.Size(r)
	pair := ex.objects[req.key]
	pair[req.side] = &obj
	if pair[local] == nil || pair[remote] == nil {
		return
	}
	merged := dvv.Merge(*pair[local], *pair[remote])
	for _, sd := range []side{local, remote} {
		if merged.Equal(*pair[sd]) {
			continue
		}
		msg := &messages.MergeRequest{Partition: ex.partition, Key: []byte(req.key), Object: wire.ObjectToProto(merged)}
		ex.bytes += proto.Size(msg)
		ex.repaired++
		s.send(ctx, sd, req.key, &messages.Envelope{Body: &messages.Envelope_MergeRequest{MergeRequest: msg}})
	}
	if len(ex.pending) == 0 {
		s.finish("repaired")
	}
}

// finish ends the exchange and records it.
func (s *scheduler) finish(result string) {
	ex := s.ex
	s.ex = nil
	if ex == nil || s.cfg.Metrics == nil {
		return
	}
	s.cfg.Metrics.Exchanges.WithLabelValues(result).Inc()
	s.cfg.Metrics.KeysRepaired.Add(float64(ex.repaired))
	s.cfg.Metrics.TombstonesReaped.Add(float64(ex.reaped))
	s.cfg.Metrics.Bytes.Add(float64(ex.bytes))
	if ex.repaired > 0 && s.cfg.OnRepair != nil {
		s.cfg.OnRepair(ex.partition, ex.peer, ex.repaired)
	}
	if ex.repaired > 0 {
		s.cfg.Logger.Info("anti-entropy repaired replicas", "partition", ex.partition, "peer", ex.peer,
			"copies_repaired", ex.repaired, "bytes", ex.bytes)
	}
}
