package membership

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestSlogWriter_BoundsJunkPerPeer: memberlist warns once per junk packet;
// a peer sending junk without pause gets one line per interval, with the
// count held back, while another peer's warning still gets through.
func TestSlogWriter_BoundsJunkPerPeer(t *testing.T) {
	var buf bytes.Buffer
	w := newSlogWriter(slog.New(slog.NewTextHandler(&buf, nil)))
	now := time.Unix(1000, 0)
	w.now = func() time.Time { return now }
	junk := "2026/12/04 [ERR] memberlist: Failed to decode ping request: codec error from=10.0.0.9:7946\n"
	for range 500 {
		_, _ = w.Write([]byte(junk))
	}
	_, _ = w.Write([]byte("[WARN] memberlist: Got invalid checksum for UDP packet from=[::1]:7946\n"))
	if got := strings.Count(buf.String(), "10.0.0.9"); got != 1 {
		t.Fatalf("500 junk packets from one peer logged %d lines, want 1:\n%s", got, buf.String())
	}
	if !strings.Contains(buf.String(), "::1") {
		t.Fatal("another peer's warning was held back")
	}
	now = now.Add(junkLogInterval)
	_, _ = w.Write([]byte(junk))
	if !strings.Contains(buf.String(), "held_back_since_last_line=499") {
		t.Fatalf("the next line after the interval does not count the 499 held back:\n%s", buf.String())
	}
	// Lines about no peer are never held back.
	before := strings.Count(buf.String(), "\n")
	for range 3 {
		_, _ = w.Write([]byte("[WARN] serf: Shutdown without a Leave\n"))
	}
	if got := strings.Count(buf.String(), "\n") - before; got != 3 {
		t.Fatalf("lines about no peer: %d logged, want 3", got)
	}
}

// TestSlogWriter_ShutdownRaceIsDebug: memberlist's probes that race its own
// shutdown ("use of closed network connection") are not errors.
func TestSlogWriter_ShutdownRaceIsDebug(t *testing.T) {
	var buf bytes.Buffer
	w := newSlogWriter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	_, _ = w.Write([]byte("[ERR] memberlist: Failed to send indirect UDP ping: write udp 127.0.0.1:1->127.0.0.1:2: use of closed network connection\n"))
	_, _ = w.Write([]byte("[ERR] memberlist: Failed to send gossip to 127.0.0.1:2: connection refused\n"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[1], "level=ERROR") {
		t.Fatalf("want the shutdown race at DEBUG and the refused connection at ERROR:\n%s", buf.String())
	}
}
