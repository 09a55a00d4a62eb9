package cluster_test

import (
	"testing"

	"github.com/dhtkv/dht/test/cluster"
)

// TestMain runs the package under the harness's race suppressions.
func TestMain(m *testing.M) { cluster.Main(m) }
