// Package ycsbdb holds the go-ycsb bindings (ycsb.DB implementations) the
// load tool drives: "dht" speaks this store's HTTP API through the Go client
// in github.com/dhtkv/dht/client, and "etcd" speaks etcd's v3 API through
// clientv3. Importing the package registers both with go-ycsb's registry
// (ycsb.RegisterDBCreator); the harness also builds them directly with
// NewDHT and NewEtcd, to read their counters.
//
// Both bindings store a YCSB record (a map of field names to values) as one
// value in the same compact encoding (EncodeRecord), under the key
// "table:key", so that both stores move the same bytes.
//
// # The dht binding
//
//   - Read is one GET. A 300 answer (siblings, left by concurrent writes)
//     is merged field by field (MergeSiblings) and counted; the read does
//     not write the merge back.
//   - Update is a read-modify-write with the causal context: a GET, the
//     record's fields merged with the new ones, and a PUT carrying the
//     GET's context, so that the write replaces every sibling it saw
//     instead of adding one. When the thread's immediately preceding
//     operation was a Read of the same key (as in workload F's
//     read-modify-write), that read's context is used and the GET is
//     skipped.
//   - With dht.blind_updates, an Update that carries the whole record (as
//     the harness's always do) is one blind PUT, no read and no context,
//     like etcd's Put: for a bucket the servers resolve by lww on write,
//     where that write supersedes the record instead of standing beside it
//     as a sibling. The comparison's dht-n3-lww system runs so.
//   - Insert is a blind PUT (no context): the key is new.
//   - Delete reads the context first, as dhtctl does.
//   - Scan is not supported: the store has no range reads.
//
// One client per endpoint; YCSB thread i uses endpoint i mod len. The same
// binding drives a 3-node cluster, a single standalone node, and the no-op
// server that measures the harness's own ceiling (package noop).
//
// Over https:// endpoints (dht.cacert names the CA of the nodes'
// certificates) each thread keeps its own HTTP/1.1 connection, as over
// plain HTTP, so that the two differ only by TLS; dht.http2 lets the
// transport negotiate HTTP/2 instead, one connection per node.
//
// # The etcd binding
//
// Read is a Get (linearizable unless etcd.serializable_reads is set),
// Insert a Put, Delete a Delete. An Update that carries every field of the
// record (writeallfields=true, which the harness sets) is a blind Put,
// which in etcd replaces the record atomically; one that carries some
// fields reads the record and writes the merge back in a transaction
// conditioned on the record's mod revision, retrying on conflict.
//
// # Concurrency
//
// A DB is shared by all YCSB threads; per-thread state lives in the context
// InitThread returns, and counters are atomic.
package ycsbdb
