package node

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestPlannedDisconnects: protoactor's lost-connection errors about a peer
// that meant to go are logged at INFO, marked planned; about any other
// peer, and every other record, they stay as they were.
func TestPlannedDisconnects(t *testing.T) {
	var buf bytes.Buffer
	h := plannedDisconnects{
		Handler: slog.NewTextHandler(&buf, nil),
		planned: func(addr string) bool { return addr == "10.0.0.1:8090" },
	}
	logger := slog.New(levelFloor{Handler: h, min: slog.LevelWarn}).With("component", "protoactor")
	logger.Error("EndpointWriter lost connection", "address", "10.0.0.1:8090", "error", "EOF")
	logger.Error("EndpointWriter lost connection", "address", "10.0.0.2:8090", "error", "EOF")
	logger.Error("something else", "address", "10.0.0.1:8090")
	logger.Info("routine", "address", "10.0.0.1:8090")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		`level=INFO msg="EndpointWriter lost connection" component=protoactor address=10.0.0.1:8090 error=EOF planned=true`,
		`level=ERROR msg="EndpointWriter lost connection" component=protoactor address=10.0.0.2:8090 error=EOF`,
		`level=ERROR msg="something else" component=protoactor address=10.0.0.1:8090`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s\nwant it to contain %s", i, lines[i], want)
		}
	}
}
