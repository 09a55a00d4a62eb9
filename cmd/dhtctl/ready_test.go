package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReady_ExitCodeFollowsReadyz: ready exits 0 on a 200 from /readyz,
// 1 with the node's reason on a 503 or an unreachable node, and with
// --wait keeps asking until the node turns ready.
func TestReady_ExitCodeFollowsReadyz(t *testing.T) {
	var probes atomic.Int32
	var readyAfter atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if probes.Add(1) <= readyAfter.Load() {
			http.Error(w, "ring not agreed with peers yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	}))
	defer srv.Close()
	env := map[string]string{envAddr: srv.URL}

	r := dhtctl(t, env, "", "ready")
	r.want(t, exitOK)
	if strings.TrimSpace(r.stdout) != "ready" {
		t.Errorf("stdout %q, want ready", r.stdout)
	}

	probes.Store(0)
	readyAfter.Store(1 << 30)
	r = dhtctl(t, env, "", "ready")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, "ring not agreed") || !strings.Contains(r.stderr, "503") {
		t.Errorf("stderr %q does not carry the node's reason", r.stderr)
	}

	probes.Store(0)
	readyAfter.Store(2)
	r = dhtctl(t, env, "", "ready", "--wait", "10s")
	r.want(t, exitOK)
	if got := probes.Load(); got != 3 {
		t.Errorf("%d probes, want 3 (two refused, then ready)", got)
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	dhtctl(t, map[string]string{envAddr: dead.URL}, "", "ready").want(t, exitError)
}
