package ycsbdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/prop"
	"github.com/pingcap/go-ycsb/pkg/ycsb"

	"github.com/dhtkv/dht/client"
)

// Properties of the dht binding.
const (
	// DHTEndpoints is a comma-separated list of node base URLs.
	DHTEndpoints = "dht.endpoints"
	// DHTR and DHTW override the read and write quorums (0: the node's
	// defaults).
	DHTR = "dht.r"
	DHTW = "dht.w"
	// DHTTimeout bounds one HTTP request.
	DHTTimeout = "dht.timeout"
	// DHTCACert is a PEM file of the CA that signs the nodes' HTTPS
	// certificates (https:// endpoints of a cluster with http.tls.*); empty
	// trusts the system's roots.
	DHTCACert = "dht.cacert"
	// DHTHTTP2 lets https:// endpoints speak HTTP/2, as Go's default
	// transport would: every thread's requests to a node then share one
	// connection. Off by default, so that over TLS each thread keeps its
	// own HTTP/1.1 connection, as over plain HTTP, and a comparison of the
	// two measures TLS alone.
	DHTHTTP2 = "dht.http2"
	// DHTBlindUpdates makes an Update that carries the whole record one
	// blind PUT, with no read before it and no context, as etcd's binding
	// updates with one Put. Meant for keys in a bucket the servers resolve
	// by lww on write (resolution.buckets, resolution.on_write), where the
	// blind write's sibling is resolved away at once; against a bucket
	// that keeps siblings each blind update would leave one more. Off by
	// default: an update reads for the context.
	DHTBlindUpdates = "dht.blind_updates"
)

// contentType is what the binding writes: records are EncodeRecord bytes.
const contentType = "application/octet-stream"

func init() {
	ycsb.RegisterDBCreator("dht", dhtCreator{})
}

type dhtCreator struct{}

func (dhtCreator) Create(p *properties.Properties) (ycsb.DB, error) { return NewDHT(p) }

// DHT is the binding for this store's HTTP API.
type DHT struct {
	clients []*client.Client
	hc      *http.Client
	ro      client.ReadOptions
	w       int
	// blind is DHTBlindUpdates; fieldCount, go-ycsb's fieldcount, tells
	// an update of the whole record, which blind makes one PUT, from a
	// partial one, which still reads and merges (as etcd's binding does).
	blind      bool
	fieldCount int

	siblingReads   atomic.Int64
	siblingUpdates atomic.Int64
	cachedContexts atomic.Int64
}

var _ ycsb.DB = (*DHT)(nil)

// NewDHT builds the binding from go-ycsb properties (DHTEndpoints, DHTR,
// DHTW, DHTTimeout, DHTCACert, DHTHTTP2, DHTBlindUpdates, threadcount to
// size the connection pools, and fieldcount to tell a whole record's
// update from a partial one).
func NewDHT(p *properties.Properties) (*DHT, error) {
	raw := p.GetString(DHTEndpoints, "http://127.0.0.1:8080")
	threads := p.GetInt(prop.ThreadCount, 16)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every thread keeps its connection: without this, threads beyond the
	// default 2 idle connections per host would dial for every request.
	tr.MaxIdleConns = threads * 4
	tr.MaxIdleConnsPerHost = threads * 2
	// TLS is set on this one transport, shared by every endpoint's client,
	// rather than with client.WithTLS, which would clone it per endpoint
	// and leave Close unable to reach the clones' connections.
	if ca := p.GetString(DHTCACert, ""); ca != "" {
		cfg, err := client.TLSConfig(ca, "", "")
		if err != nil {
			return nil, fmt.Errorf("ycsbdb: %s: %w", DHTCACert, err)
		}
		tr.TLSClientConfig = cfg
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(p.GetBool(DHTHTTP2, false))
	tr.Protocols = &protos
	hc := &http.Client{Transport: tr, Timeout: p.GetDuration(DHTTimeout, 30*time.Second)}
	db := &DHT{hc: hc, ro: client.ReadOptions{R: p.GetInt(DHTR, 0)}, w: p.GetInt(DHTW, 0),
		blind: p.GetBool(DHTBlindUpdates, false), fieldCount: p.GetInt(prop.FieldCount, int(prop.FieldCountDefault))}
	for _, ep := range strings.Split(raw, ",") {
		ep = strings.TrimSpace(ep)
		if ep == "" {
			continue
		}
		c, err := client.New(ep, client.WithHTTPClient(hc), client.WithRetry(client.NoRetry())) // each answer is measured: no client-side retries
		if err != nil {
			return nil, fmt.Errorf("ycsbdb: %s: %w", DHTEndpoints, err)
		}
		db.clients = append(db.clients, c)
	}
	if len(db.clients) == 0 {
		return nil, fmt.Errorf("ycsbdb: %s is empty", DHTEndpoints)
	}
	return db, nil
}

// DHTStats counts what the dht binding saw.
type DHTStats struct {
	// SiblingReads counts reads (including an update's own read) that found
	// more than one sibling.
	SiblingReads int64
	// SiblingUpdates counts acknowledged updates after which the key had
	// more than one sibling: a concurrent writer used the same context, or
	// a blind update (DHTBlindUpdates) was stored beside the record instead
	// of resolved away.
	SiblingUpdates int64
	// CachedContexts counts updates that used the context of the thread's
	// preceding read instead of reading again.
	CachedContexts int64
}

// Stats returns the counters since the binding was built.
func (db *DHT) Stats() DHTStats {
	return DHTStats{
		SiblingReads:   db.siblingReads.Load(),
		SiblingUpdates: db.siblingUpdates.Load(),
		CachedContexts: db.cachedContexts.Load(),
	}
}

// dhtThread is one YCSB thread's state.
type dhtThread struct {
	c *client.Client
	// last is the thread's latest read, kept for an update of the same key
	// that immediately follows it; every other operation clears it.
	last struct {
		key string
		ctx string
		rec map[string][]byte
		ok  bool
	}
}

type dhtThreadKey struct{}

// Close releases idle connections.
func (db *DHT) Close() error {
	db.hc.CloseIdleConnections()
	return nil
}

// InitThread gives thread i the client of endpoint i mod len(endpoints).
func (db *DHT) InitThread(ctx context.Context, threadID, _ int) context.Context {
	return context.WithValue(ctx, dhtThreadKey{}, &dhtThread{c: db.clients[threadID%len(db.clients)]})
}

// CleanupThread does nothing.
func (db *DHT) CleanupThread(context.Context) {}

func (db *DHT) thread(ctx context.Context) *dhtThread {
	if t, ok := ctx.Value(dhtThreadKey{}).(*dhtThread); ok {
		return t
	}
	// Called without InitThread (a one-off use): a throwaway state.
	return &dhtThread{c: db.clients[0]}
}

// get reads key and merges its siblings; rec is nil when the key holds no
// record.
func (db *DHT) get(ctx context.Context, t *dhtThread, key string) (rec map[string][]byte, cctx string, err error) {
	obj, err := t.c.Get(ctx, key, &db.ro)
	if err != nil {
		return nil, "", err
	}
	if !obj.Found {
		return nil, obj.Context, nil
	}
	if len(obj.Siblings) > 1 {
		db.siblingReads.Add(1)
	}
	rec, err = MergeSiblings(obj.Siblings)
	if err != nil {
		return nil, "", fmt.Errorf("ycsbdb: get %q: %w", key, err)
	}
	return rec, obj.Context, nil
}

// Read reads a record, merging siblings if there are several.
func (db *DHT) Read(ctx context.Context, table, key string, fields []string) (map[string][]byte, error) {
	t := db.thread(ctx)
	t.last.ok = false
	k := rowKey(table, key)
	rec, cctx, err := db.get(ctx, t, k)
	if err != nil {
		return nil, err
	}
	t.last.key, t.last.ctx, t.last.rec, t.last.ok = k, cctx, rec, true
	if rec == nil {
		return nil, ErrNotFound
	}
	return project(rec, fields), nil
}

// Scan is not supported.
func (db *DHT) Scan(context.Context, string, string, int, []string) ([]map[string][]byte, error) {
	return nil, ErrScanUnsupported
}

// Update merges values into the record and writes it back with the context
// of the read it is based on: the thread's preceding read of the same key,
// or a read made now.
//
// With DHTBlindUpdates, an update that carries every field is instead one
// PUT of those fields with no context and no read, even right after a
// read of the key (workload F): what etcd's binding writes, one Put of the
// whole record, so that the two compare like for like. A partial update
// still reads and merges, as etcd's does in a transaction.
func (db *DHT) Update(ctx context.Context, table, key string, values map[string][]byte) error {
	t := db.thread(ctx)
	k := rowKey(table, key)
	if db.blind && len(values) >= db.fieldCount {
		t.last.ok = false
		return db.put(ctx, t, k, values, "")
	}
	var (
		rec  map[string][]byte
		cctx string
	)
	if t.last.ok && t.last.key == k {
		rec, cctx = t.last.rec, t.last.ctx
		db.cachedContexts.Add(1)
	} else {
		var err error
		if rec, cctx, err = db.get(ctx, t, k); err != nil {
			t.last.ok = false
			return err
		}
	}
	t.last.ok = false
	merged := make(map[string][]byte, len(rec)+len(values))
	maps.Copy(merged, rec)
	maps.Copy(merged, values)
	return db.put(ctx, t, k, merged, cctx)
}

// put writes rec with the context cctx (empty: none) and counts a write
// that left siblings.
func (db *DHT) put(ctx context.Context, t *dhtThread, k string, rec map[string][]byte, cctx string) error {
	res, err := t.c.Put(ctx, k, EncodeRecord(rec), &client.WriteOptions{W: db.w, ContentType: contentType, Context: cctx})
	if err != nil {
		return err
	}
	if res.Siblings > 1 {
		db.siblingUpdates.Add(1)
	}
	return nil
}

// Insert writes a new record without a context.
func (db *DHT) Insert(ctx context.Context, table, key string, values map[string][]byte) error {
	t := db.thread(ctx)
	t.last.ok = false
	_, err := t.c.Put(ctx, rowKey(table, key), EncodeRecord(values), &client.WriteOptions{W: db.w, ContentType: contentType})
	return err
}

// Delete reads the key's context and deletes what it covers.
func (db *DHT) Delete(ctx context.Context, table, key string) error {
	t := db.thread(ctx)
	t.last.ok = false
	k := rowKey(table, key)
	obj, err := t.c.Get(ctx, k, &db.ro)
	if err != nil {
		return err
	}
	if !obj.Found {
		return ErrNotFound
	}
	_, err = t.c.Delete(ctx, k, &client.WriteOptions{W: db.w, Context: obj.Context})
	return err
}

// IsNotFound reports whether err says the key held no record.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
