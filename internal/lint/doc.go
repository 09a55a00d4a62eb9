// Package lint holds no code, only tests that enforce the project's layering
// rule: the pure packages (internal/* and cluster/ring) decide, the actors
// act. A pure package must not start goroutines, use channels or locks, read
// the clock or the global random source, or import actors, storage, serf or
// the generated messages. Time and randomness arrive as arguments.
//
// The test reads each package's source with go/parser, in the spirit of
// pebble's internal/lint and tailscale's tstest/deptest.
package lint
