package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdown_ClosesConnectionsThatSentNoRequest: a client connection that
// never sends a request must not hold Shutdown. net/http alone waits 5 s
// for such a connection, so Shutdown with a shorter deadline failed with
// "context deadline exceeded" and dhtd exited 1 on SIGTERM. A connection
// that is mid-request is drained, not cut.
func TestShutdown_ClosesConnectionsThatSentNoRequest(t *testing.T) {
	g, base := startGateway(t, Config{Events: testBus()})
	addr := strings.TrimPrefix(base, "http://")

	unused, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer unused.Close()
	// A request whose body is still coming when Shutdown begins: the
	// server has read its header, so the connection is active.
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, base+"/v1/kv/slow", pr)
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		answered <- err
	}()
	if _, err := pw.Write([]byte("par")); err != nil {
		t.Fatal(err)
	}
	// Wait until the server counts the unused connection as unused and the
	// request's as active (it has read its header). Both are needed: the
	// request's connection may be accepted after the unused one is counted,
	// and a connection still new when Shutdown starts is not a request.
	waitUntil(t, func() bool {
		g.conns.mu.Lock()
		defer g.conns.mu.Unlock()
		ours := false
		for conn := range g.conns.mu.unused {
			ours = ours || conn.RemoteAddr().String() == unused.LocalAddr().String()
		}
		return len(g.conns.mu.unused) == 1 && ours && len(g.conns.mu.active) == 1
	})

	// Less than net/http's 5 s for a new connection, more than the grace.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- g.Shutdown(ctx) }()

	// The unused connection is closed by the server.
	_ = unused.SetReadDeadline(time.Now().Add(streamBound))
	if _, err := unused.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read from the unused connection = %v, want EOF (closed by the server)", err)
	}
	// The request in flight still completes.
	if _, err := pw.Write([]byte("tial")); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if err := <-answered; err != nil {
		t.Errorf("the request in flight at Shutdown failed: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown with an unused connection open = %v, want nil", err)
	}
}

// waitUntil retries cond until it holds, failing t after streamBound.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(streamBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
