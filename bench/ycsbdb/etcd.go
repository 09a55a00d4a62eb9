package ycsbdb

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/prop"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Properties of the etcd binding (the names of go-ycsb's own etcd binding).
const (
	// EtcdEndpoints is a comma-separated list of client URLs.
	EtcdEndpoints = "etcd.endpoints"
	// EtcdSerializableReads makes reads serializable (served by any member
	// from its own state) instead of linearizable.
	EtcdSerializableReads = "etcd.serializable_reads"
	// EtcdDialTimeout bounds the first connection.
	EtcdDialTimeout = "etcd.dial_timeout"
)

// maxTxnRetries bounds the retries of a partial update that lost a race.
const maxTxnRetries = 10

func init() {
	ycsb.RegisterDBCreator("etcd", etcdCreator{})
}

type etcdCreator struct{}

func (etcdCreator) Create(p *properties.Properties) (ycsb.DB, error) { return NewEtcd(p) }

// Etcd is the binding for etcd's v3 API.
type Etcd struct {
	c          *clientv3.Client
	getOpts    []clientv3.OpOption
	fieldCount int
}

var _ ycsb.DB = (*Etcd)(nil)

// NewEtcd builds the binding from go-ycsb properties (EtcdEndpoints,
// EtcdSerializableReads, EtcdDialTimeout, and fieldcount to tell a whole
// record's update from a partial one).
func NewEtcd(p *properties.Properties) (*Etcd, error) {
	var eps []string
	for _, ep := range strings.Split(p.GetString(EtcdEndpoints, "http://127.0.0.1:2379"), ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("ycsbdb: %s is empty", EtcdEndpoints)
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   eps,
		DialTimeout: p.GetDuration(EtcdDialTimeout, 5*time.Second),
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("ycsbdb: etcd client: %w", err)
	}
	db := &Etcd{c: c, fieldCount: p.GetInt(prop.FieldCount, int(prop.FieldCountDefault))}
	if p.GetBool(EtcdSerializableReads, false) {
		db.getOpts = append(db.getOpts, clientv3.WithSerializable())
	}
	return db, nil
}

// Close closes the client.
func (db *Etcd) Close() error { return db.c.Close() }

// InitThread does nothing: the client balances over the endpoints itself.
func (db *Etcd) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

// CleanupThread does nothing.
func (db *Etcd) CleanupThread(context.Context) {}

// Read gets a record.
func (db *Etcd) Read(ctx context.Context, table, key string, fields []string) (map[string][]byte, error) {
	resp, err := db.c.Get(ctx, rowKey(table, key), db.getOpts...)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	rec, err := DecodeRecord(resp.Kvs[0].Value)
	if err != nil {
		return nil, err
	}
	return project(rec, fields), nil
}

// Scan is not supported.
func (db *Etcd) Scan(context.Context, string, string, int, []string) ([]map[string][]byte, error) {
	return nil, ErrScanUnsupported
}

// Update puts a whole record, or merges a partial one in a transaction.
func (db *Etcd) Update(ctx context.Context, table, key string, values map[string][]byte) error {
	k := rowKey(table, key)
	if len(values) >= db.fieldCount {
		_, err := db.c.Put(ctx, k, string(EncodeRecord(values)))
		return err
	}
	for range maxTxnRetries {
		resp, err := db.c.Get(ctx, k)
		if err != nil {
			return err
		}
		merged := map[string][]byte{}
		var rev int64
		if len(resp.Kvs) > 0 {
			rec, err := DecodeRecord(resp.Kvs[0].Value)
			if err != nil {
				return err
			}
			maps.Copy(merged, rec)
			rev = resp.Kvs[0].ModRevision
		}
		maps.Copy(merged, values)
		txn, err := db.c.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).
			Then(clientv3.OpPut(k, string(EncodeRecord(merged)))).
			Commit()
		if err != nil {
			return err
		}
		if txn.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("ycsbdb: etcd update %q: lost %d races in a row", k, maxTxnRetries)
}

// Insert puts a record.
func (db *Etcd) Insert(ctx context.Context, table, key string, values map[string][]byte) error {
	_, err := db.c.Put(ctx, rowKey(table, key), string(EncodeRecord(values)))
	return err
}

// Delete deletes a record.
func (db *Etcd) Delete(ctx context.Context, table, key string) error {
	_, err := db.c.Delete(ctx, rowKey(table, key))
	return err
}
