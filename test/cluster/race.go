package cluster

import (
	_ "embed" // raceSuppressions
	"os"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// raceSuppressions lists the races, inside protoactor and gRPC, that
// several remotes in one process cause and this project cannot order; the
// file says why each is benign.
//
//go:embed race.supp
var raceSuppressions string

// Main runs the tests of a package that starts clusters, and exits with
// their status. Call it from the package's TestMain:
//
//	func TestMain(m *testing.M) { cluster.Main(m) }
//
// Under -race it leaves out the one race a cluster in one process cannot
// avoid: each node's protoactor remote writes gRPC's global logger when it
// starts, while the gRPC goroutines of the nodes already running read it
// (race.supp, docs/design-notes.md). Every other race still fails the
// tests.
func Main(m *testing.M) {
	os.Exit(testutil.RunWithRaceSuppressions(m, raceSuppressions))
}
