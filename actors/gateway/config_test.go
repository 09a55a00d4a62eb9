package gateway

import (
	"reflect"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/quorum"
)

// TestFromConfig_Fields sets every key the gateway takes to a value of its
// own and checks it lands in its field, and that nothing the node fills at
// run time is set.
func TestFromConfig_Fields(t *testing.T) {
	c := config.Default()
	c.Limits = config.Limits{MaxKeyBytes: 11, MaxValueBytes: 12, MaxSiblings: 13}
	c.Replication.N, c.Replication.R, c.Replication.W, c.Replication.PR, c.Replication.PW = 5, 4, 3, 2, 1
	c.Replication.RequestTimeout = 7 * time.Second
	c.Ring.Partitions = 64
	c.HTTP.ReadTimeout, c.HTTP.WriteTimeout, c.HTTP.IdleTimeout = 21*time.Second, 22*time.Second, 23*time.Second
	c.HTTP.MaxBodyBytes, c.HTTP.MaxHeaderBytes, c.HTTP.MaxConnections = 31, 32, 33
	c.HTTP.ClientToken, c.HTTP.AdminToken, c.HTTP.Pprof = "client", "admin", true
	c.Security.ContextSecret, c.Security.PreviousContextSecret = "now", "before"
	c.Handoff.Hints = true
	c.Replication.CoordinateTimeout = 3 * time.Second

	want := Config{
		Limits:         Limits{MaxKeyBytes: 11, MaxValueBytes: 12, MaxSiblings: 13},
		Defaults:       quorum.Params{N: 5, R: 4, W: 3, PR: 2, PW: 1},
		Partitions:     64,
		RequestTimeout: 7 * time.Second,
		ReadTimeout:    21 * time.Second, WriteTimeout: 22 * time.Second, IdleTimeout: 23 * time.Second,
		MaxBodyBytes: 31, MaxHeaderBytes: 32, MaxConnections: 33,
		ClientToken: "client", AdminToken: "admin", Pprof: true,
		ContextSecret: []byte("now"), PreviousContextSecret: []byte("before"),
		Coordinator: coordinator.Config{Hints: true, CoordinateTimeout: 3 * time.Second},
	}
	if got := FromConfig(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("FromConfig:\n got %+v\nwant %+v", got, want)
	}
}
