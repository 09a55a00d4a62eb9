package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pureRoots are the directories (relative to the module root) whose packages
// must stay pure. Every package below them is checked.
var pureRoots = []string{"internal", "cluster/ring"}

// forbiddenImports lists import path prefixes a pure package must not use,
// with the reason shown on failure.
var forbiddenImports = map[string]string{
	"sync":                                "locks belong in actors; pure code is single-threaded",
	"math/rand":                           "pass a *rand.Rand in; the global source is hidden state",
	"crypto/rand":                         "pass randomness in",
	"os":                                  "no I/O in pure code",
	"net":                                 "no I/O in pure code",
	"io/ioutil":                           "no I/O in pure code",
	"github.com/asynkron/protoactor-go":   "actors are shells around pure code, not inside it",
	"github.com/dgraph-io/badger":         "storage is an effect the actor carries out",
	"github.com/cockroachdb/pebble":       "storage is an effect the actor carries out",
	"github.com/hashicorp/serf":           "membership arrives as values",
	"github.com/hashicorp/memberlist":     "membership arrives as values",
	"github.com/dhtkv/dht/messages":       "convert protos in wire; pure code takes domain types",
	"github.com/dhtkv/dht/actors":         "pure code must not depend on actors",
	"github.com/dhtkv/dht/persistence":    "storage is an effect the actor carries out",
	"github.com/prometheus/client_golang": "metrics are recorded by the actors",
}

// forbiddenCalls are package-level functions that read hidden state.
var forbiddenCalls = map[string]string{
	"time.Now":   "pass now in",
	"time.Since": "pass now in",
	"time.Until": "pass now in",
	"time.After": "timers belong to actors",
	"time.Tick":  "timers belong to actors",
	"time.Sleep": "pure code never waits",
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

func TestPurePackages_StayPure(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	for _, pr := range pureRoots {
		err := filepath.WalkDir(filepath.Join(root, pr), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() && (name == "testdata" || name == "lint") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				return nil
			}
			checked++
			rel, _ := filepath.Rel(root, path)
			problems, err := checkFile(path, rel)
			for _, p := range problems {
				t.Error(p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked: the pure package roots moved?")
	}
}

// checkFile returns the purity violations in one source file.
func checkFile(path, rel string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return nil, err
	}
	var problems []string
	imports := map[string]string{} // local name -> path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		for prefix, why := range forbiddenImports {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				problems = append(problems, fmt.Sprintf("%s imports %q: %s", rel, p, why))
			}
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			problems = append(problems, fmt.Sprintf("%s: go statement: pure code starts no goroutines", fset.Position(n.Pos())))
		case *ast.ChanType:
			problems = append(problems, fmt.Sprintf("%s: channel type: pure code does not communicate", fset.Position(n.Pos())))
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok {
				call := imports[id.Name] + "." + n.Sel.Name
				if why, bad := forbiddenCalls[call]; bad {
					problems = append(problems, fmt.Sprintf("%s: %s: %s", fset.Position(n.Pos()), call, why))
				}
			}
		}
		return true
	})
	return problems, nil
}

// TestCheckFile_CatchesViolations proves the checker can fail: it runs it on
// a deliberately impure file.
func TestCheckFile_CatchesViolations(t *testing.T) {
	src := `package bad
import (
	"sync"
	"time"
	"github.com/dhtkv/dht/messages"
)
var mu sync.Mutex
var _ = messages.Dot{}
func f() { go func() {}(); _ = make(chan int); _ = time.Now() }
`
	path := filepath.Join(t.TempDir(), "bad.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	problems, err := checkFile(path, "bad.go")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{`imports "sync"`, `imports "github.com/dhtkv/dht/messages"`, "go statement", "channel type", "time.Now"} {
		if !strings.Contains(all, want) {
			t.Errorf("checker missed %q; it reported:\n%s", want, all)
		}
	}
}
