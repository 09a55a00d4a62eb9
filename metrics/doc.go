// Package metrics defines the node's Prometheus metrics. Each node owns a
// registry of its own rather than the global one, so several nodes can run in
// one process (the test harness) without colliding. All methods are safe for
// concurrent use.
//
// Label values that name a kind of thing are typed (kinds.go): Op for client
// requests, VnodeOp for vnode operations, HintResult for hint-queue events.
// Their String methods return the label values the metrics have always had,
// so dashboards keep working; record through ObserveRequest, CountVnodeOp
// and CountHint rather than spelling a label out.
//
// dht_build_info{version,commit,goversion} is always 1: its labels say what
// the node was built from (package buildinfo), so that a dashboard sees the
// versions a cluster runs during a rolling upgrade.
package metrics
