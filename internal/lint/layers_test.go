package lint

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/dhtkv/dht"

// layerRule says which module packages the packages under a directory may
// not import. The floors of the house, from the bottom up: the pure
// packages (internal/*, cluster/ring); the codecs and plumbing beside them
// (messages, buildinfo, wire, api, resolve, events, metrics, persistence, config,
// cluster/*, actorsys/*); the actors; the node that wires them; the
// programs and tests. An import may only run down.
type layerRule struct {
	dir       string   // a directory relative to the module root; every package below it
	forbidden []string // import paths (relative to the module), each a prefix
	why       string
}

var layerRules = []layerRule{
	{dir: "config", forbidden: []string{"actors", "actorsys", "cluster", "persistence", "wire", "events", "metrics", "client", "test"},
		why: "config is read by everything; it depends on nothing of the store"},
	{dir: "messages", forbidden: []string{""}, why: "generated code depends on no package of the module"},
	{dir: "buildinfo", forbidden: []string{""}, why: "what a binary was built from is read by programs and metrics alike; it depends on nothing of the store"},
	{dir: "api", forbidden: []string{"actors", "actorsys", "cluster", "persistence", "wire", "messages", "config", "client", "test"},
		why: "the HTTP API's JSON shapes are shared by the gateway and the client; they link no server code"},
	{dir: "wire", forbidden: []string{"actors", "actorsys", "cluster", "persistence", "client", "test"},
		why: "the codec sits below the actors that use it"},
	{dir: "resolve", forbidden: []string{"actors", "actorsys", "cluster", "persistence", "client", "test"},
		why: "the resolver hook is a public API below the actors"},
	{dir: "events", forbidden: []string{"actors", "actorsys", "cluster", "persistence", "client", "test"},
		why: "the event hub is shared by the node and the client"},
	{dir: "metrics", forbidden: []string{"actors", "cluster", "persistence", "client", "test"},
		why: "metrics are recorded by actors, never the other way"},
	{dir: "persistence", forbidden: []string{"actors", "actorsys", "cluster", "messages", "wire", "client", "test"},
		why: "storage engines store bytes; they know nothing of actors or messages"},
	{dir: "cluster", forbidden: []string{"actors", "actorsys", "client", "test"},
		why: "membership, certificates and the ring sit below the actors"},
	{dir: "actorsys", forbidden: []string{"actors", "cluster", "client", "test"},
		why: "the actors' plumbing knows no actor"},
	{dir: "client", forbidden: []string{"actors", "actorsys", "cluster/membership", "cluster/remoteguard", "persistence", "messages", "wire", "config", "internal", "test"},
		why: "the client speaks HTTP; it links no server code"},
	{dir: "ui", forbidden: []string{""},
		why: "the dashboard's assets read the cluster over HTTP like any client; their handler links no code of the store"},
	{dir: "actors", forbidden: []string{"cmd", "client", "test", "examples"},
		why: "actors are below the programs and tests that run them"},
}

// TestLayers_ImportsRunDown checks every rule of layerRules.
func TestLayers_ImportsRunDown(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	for _, rule := range layerRules {
		dir := filepath.Join(root, rule.dir)
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("layer %q: %v (the rule's directory moved?)", rule.dir, err)
		}
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".go") || strings.HasSuffix(d.Name(), "_test.go") {
				return nil
			}
			checked++
			rel, _ := filepath.Rel(root, path)
			imports, err := moduleImports(path)
			for _, imp := range imports {
				if layerViolation(rule, imp) {
					t.Errorf("%s imports %s: %s", rel, imp, rule.why)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}

// TestLayers_ActorsEnteredOnlyThroughNode: outside actors/, only the node
// package is imported; the actors themselves are its business.
func TestLayers_ActorsEnteredOnlyThroughNode(t *testing.T) {
	root := moduleRoot(t)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch {
			case d.Name() == "testdata" || strings.HasPrefix(d.Name(), "."), rel == "actors", rel == "bench", rel == "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".go") || strings.HasSuffix(d.Name(), "_test.go") {
			return nil
		}
		imports, err := moduleImports(path)
		for _, imp := range imports {
			if strings.HasPrefix(imp, "actors/") && imp != "actors/node" {
				t.Errorf("%s imports %s: outside actors/, only actors/node is imported", rel, imp)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// layerViolation reports whether imp (relative to the module) breaks rule.
func layerViolation(rule layerRule, imp string) bool {
	for _, f := range rule.forbidden {
		if f == "" || imp == f || strings.HasPrefix(imp, f+"/") {
			return true
		}
	}
	return false
}

// moduleImports returns the module-internal imports of a Go file, relative
// to the module path.
func moduleImports(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out, nil
}

// TestLayerViolation_Catches proves the rule can fail.
func TestLayerViolation_Catches(t *testing.T) {
	for _, tc := range []struct {
		rule layerRule
		imp  string
		want bool
	}{
		{layerRule{forbidden: []string{"actors"}}, "actors/vnode", true},
		{layerRule{forbidden: []string{"actors"}}, "actorsys/ticker", false},
		{layerRule{forbidden: []string{"cluster/membership"}}, "cluster/ring", false},
		{layerRule{forbidden: []string{""}}, "internal/dvv", true},
	} {
		if got := layerViolation(tc.rule, tc.imp); got != tc.want {
			t.Errorf("%v on %q: violation %v, want %v", tc.rule.forbidden, tc.imp, got, tc.want)
		}
	}
}
