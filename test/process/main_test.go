package process_test

import (
	"testing"

	"github.com/dhtkv/dht/test/process"
)

func TestMain(m *testing.M) { process.Main(m) }
