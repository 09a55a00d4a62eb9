package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseYAML checks the YAML layer on arbitrary input: it must never
// panic, and whatever it accepts must be known keys holding values of
// exactly their field's type, which is what decode relies on.
func FuzzParseYAML(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, path := range append(seeds, documented) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("storage: [1, 2]\nhttp: ~\n"))
	f.Add([]byte("1: 2\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseYAML("fuzz.yaml", body)
		if err != nil {
			return
		}
		for key, v := range m {
			fd, ok := fieldByKey[key]
			if !ok {
				t.Fatalf("accepted unknown key %q", key)
			}
			if reflect.TypeOf(v) != fd.typ {
				t.Fatalf("%s: accepted %T, want %s", key, v, fd.typ)
			}
		}
	})
}
