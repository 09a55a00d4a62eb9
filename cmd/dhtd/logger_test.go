package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/dhtkv/dht/config"
)

// TestNewLogger_DurationsAsText: a JSON log line carries "10s", not
// 10000000000, in every format.
func TestNewLogger_DurationsAsText(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		newLogger(&buf, config.Log{Level: "info", Format: format}).
			With("timeout", 1500*time.Millisecond).Info("stopping", "drain_timeout", 10*time.Second, "n", 3)
		line := buf.String()
		if format == "json" {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %v in %q", format, err, line)
			}
			if rec["drain_timeout"] != "10s" || rec["timeout"] != "1.5s" || rec["n"] != float64(3) {
				t.Errorf("%s: %q, want drain_timeout \"10s\", timeout \"1.5s\", n 3", format, line)
			}
			continue
		}
		if !bytes.Contains(buf.Bytes(), []byte("drain_timeout=10s")) || !bytes.Contains(buf.Bytes(), []byte("timeout=1.5s")) {
			t.Errorf("%s: %q, want drain_timeout=10s and timeout=1.5s", format, line)
		}
	}
}
