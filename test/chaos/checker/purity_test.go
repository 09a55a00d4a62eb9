package checker

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPurity_CheckerAndHistoryDoNoIO holds the checker and the history
// model to the project's rule for pure code (internal/lint): no
// goroutines, locks, clocks, global randomness, files or network. The
// harness does all of that; the verdict must be a function of the history.
func TestPurity_CheckerAndHistoryDoNoIO(t *testing.T) {
	forbidden := []string{"os", "net", "sync", "math/rand", "crypto/rand", "io/ioutil", "os/exec", "syscall",
		"github.com/dhtkv/dht/client", "github.com/dhtkv/dht/test/chaos/harness", "github.com/dhtkv/dht/test/chaos/workload"}
	calls := []string{"time.Now", "time.Since", "time.Until", "time.Sleep", "time.After", "time.Tick", "time.NewTimer", "time.NewTicker"}
	for _, dir := range []string{".", "../history"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					if p == bad || strings.HasPrefix(p, bad+"/") {
						t.Errorf("%s imports %s: the checker and the history model must stay pure", path, p)
					}
				}
			}
			text := string(src)
			for _, call := range calls {
				if strings.Contains(text, call+"(") {
					t.Errorf("%s calls %s: pass time in as data", path, call)
				}
			}
			if strings.Contains(text, "go func") || strings.Contains(text, "chan ") {
				t.Errorf("%s starts goroutines or uses channels", path)
			}
		}
		if checked == 0 {
			t.Fatalf("no source files found in %s", dir)
		}
	}
}
