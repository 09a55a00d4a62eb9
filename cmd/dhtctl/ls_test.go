package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestLs_KeysOnStdoutOnePerLine(t *testing.T) {
	_, env, c := newFake(t)
	for i := range 12 {
		mustPut(t, c, fmt.Sprintf("k/%02d", i), "v", "")
	}
	mustPut(t, c, "other", "x", "")

	r := dhtctl(t, env, "", "ls", "k/", "--page-size", "5")
	r.want(t, exitOK)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 12 || lines[0] != "k/00" || lines[11] != "k/11" {
		t.Fatalf("stdout = %q, want the 12 k/ keys one per line", r.stdout)
	}
	if r.stderr != "keys: 12\n" {
		t.Errorf("stderr = %q, want the count", r.stderr)
	}

	r = dhtctl(t, env, "", "ls", "--limit", "7", "--page-size", "5")
	r.want(t, exitOK)
	if got := strings.Count(r.stdout, "\n"); got != 7 || !strings.Contains(r.stderr, "cursor: ") {
		t.Fatalf("--limit 7: %d lines, stderr %q; want 7 and a cursor", got, r.stderr)
	}
	cursor := strings.TrimSpace(r.stderr[strings.Index(r.stderr, "cursor: ")+len("cursor: "):])
	r = dhtctl(t, env, "", "ls", "--cursor", cursor)
	r.want(t, exitOK)
	if got := strings.Count(r.stdout, "\n"); got != 6 {
		t.Fatalf("resumed: %d lines %q, want the other 6", got, r.stdout)
	}

	r = dhtctl(t, env, "", "ls", "other", "--values", "--json")
	r.want(t, exitOK)
	var doc struct {
		Key      string `json:"key"`
		Siblings []struct {
			Value string `json:"value"`
		} `json:"siblings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Key != "other" || len(doc.Siblings) != 1 || doc.Siblings[0].Value != "x" {
		t.Fatalf("--json: %q (%v), want other with its value", r.stdout, err)
	}
	r = dhtctl(t, env, "", "ls", "other", "--values")
	r.want(t, exitOK)
	if r.stdout != "other\t\"x\"\n" {
		t.Errorf("--values: %q", r.stdout)
	}
}
