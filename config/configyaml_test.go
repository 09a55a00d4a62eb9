package config

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

// documented is the repository's config.yaml, which documents every key
// with its default. These tests keep it from drifting from the code.
const documented = "../config.yaml"

func TestConfigYAML_MatchesDefault(t *testing.T) {
	// readFile is what Load uses, so an unknown key or a value of the
	// wrong type fails here exactly as it would at start-up.
	got, err := readFile(documented)
	if err != nil {
		t.Fatalf("%s does not load: %v", documented, err)
	}
	d := Default()
	for _, key := range Keys() {
		t.Run(key, func(t *testing.T) {
			v, ok := got[key]
			if !ok {
				t.Fatalf("%s does not document %s (or leaves it null)", documented, key)
			}
			if want := d.get(fieldByKey[key]); v != want {
				t.Errorf("%s = %v, but Default() has %v", key, v, want)
			}
		})
	}
}

func TestConfigYAML_EveryKeyCommented(t *testing.T) {
	b, err := os.ReadFile(documented)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s is not a YAML mapping", documented)
	}
	commented := map[string]bool{}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		section, body := top[i].Value, top[i+1]
		if body.Kind != yaml.MappingNode {
			continue // TestConfigYAML_MatchesDefault reports it
		}
		for j := 0; j+1 < len(body.Content); j += 2 {
			leaf, sub := body.Content[j], body.Content[j+1]
			if sub.Kind == yaml.MappingNode {
				// A sub-section (cluster.tls): its own comment may cover
				// the group, but every key inside needs one too.
				for k := 0; k+1 < len(sub.Content); k += 2 {
					commented[section+"."+leaf.Value+"."+sub.Content[k].Value] = sub.Content[k].HeadComment != ""
				}
				continue
			}
			commented[section+"."+leaf.Value] = leaf.HeadComment != ""
		}
	}
	for _, key := range Keys() {
		t.Run(key, func(t *testing.T) {
			if !commented[key] {
				t.Errorf("%s has no comment above %s", documented, key)
			}
		})
	}
}
