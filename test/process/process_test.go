package process_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dhtkv/dht/test/process"
)

// TestModuleRoot_FromAnyDirectory checks that the build finds the module
// when the test runs outside it, as a test binary copied elsewhere would.
func TestModuleRoot_FromAnyDirectory(t *testing.T) {
	want, err := process.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(want, "cmd", "dhtd")); err != nil {
		t.Fatalf("ModuleRoot() = %s, which has no cmd/dhtd: %v", want, err)
	}
	t.Chdir(t.TempDir())
	got, err := process.ModuleRoot()
	if err != nil {
		t.Fatalf("ModuleRoot() from %s: %v", t.TempDir(), err)
	}
	if got != want {
		t.Errorf("ModuleRoot() from another directory = %s, want %s", got, want)
	}
}
