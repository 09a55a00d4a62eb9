package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/dhtkv/dht/buildinfo"
)

// TestVersion runs dhtd --version: it prints what the binary was built
// from and exits without reading a configuration or starting a node.
func TestVersion(t *testing.T) {
	cmd := newCommand(io.Discard)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--version", "--config", "/nonexistent/config.yaml"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("dhtd --version: %v", err)
	}
	if want := "dhtd " + buildinfo.Read().String() + "\n"; out.String() != want {
		t.Fatalf("dhtd --version printed %q, want %q", out.String(), want)
	}
}
