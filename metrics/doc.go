// Package metrics defines the node's Prometheus metrics. Each node owns a
// registry of its own rather than the global one, so several nodes can run in
// one process (the test harness) without colliding. All methods are safe for
// concurrent use.
package metrics
