package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

// fastRetry retries without waiting long, so that tests of retries take
// milliseconds.
var fastRetry = client.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

// deadURL returns the URL of a port where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

// scripted is a node that answers its requests with the given statuses in
// turn (the last one repeated), with the API's JSON error bodies, and
// counts them.
type scripted struct {
	*httptest.Server
	n atomic.Int32
}

func newScripted(t *testing.T, answers ...func(http.ResponseWriter)) *scripted {
	t.Helper()
	s := &scripted{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(s.n.Add(1)) - 1
		answers[min(i, len(answers)-1)](w)
	}))
	t.Cleanup(s.Close)
	return s
}

func status(code int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

var (
	unavailable   = status(503, `{"error":"1 replicas reachable, 2 required","code":"unavailable"}`)
	indeterminate = status(503, `{"error":"timeout","code":"timeout","indeterminate":true}`)
	ok200         = func(w http.ResponseWriter) {
		w.Header().Set(client.HeaderContext, "ctx")
		_, _ = w.Write([]byte("v"))
	}
	written = func(w http.ResponseWriter) {
		w.Header().Set(client.HeaderContext, "ctx2")
		w.WriteHeader(http.StatusNoContent)
	}
)

func newCluster(t *testing.T, urls []string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.NewCluster(urls, opts...)
	if err != nil {
		t.Fatalf("NewCluster(%q): %v", urls, err)
	}
	return c
}

func TestNewCluster_ValidatesEveryURL(t *testing.T) {
	if _, err := client.NewCluster(nil); err == nil {
		t.Fatal("NewCluster(nil) succeeded")
	}
	_, err := client.NewCluster([]string{"http://a:1", "ftp://b"})
	if err == nil || !strings.Contains(err.Error(), "ftp://b") {
		t.Fatalf("NewCluster with a bad second URL = %v, want it named", err)
	}
	c := newCluster(t, []string{"http://a:1/", "https://u:secret@b:2/dht"})
	if got := strings.Join(c.Endpoints(), " "); got != "http://a:1 https://u:xxxxx@b:2/dht" {
		t.Fatalf("Endpoints() = %q", got)
	}
}

func TestClient_FailsOverWhenAnEndpointIsDown(t *testing.T) {
	srv := clienttest.NewServer("")
	defer srv.Close()
	c := newCluster(t, []string{deadURL(t), srv.URL}, client.WithRetry(fastRetry))
	if _, err := c.Put(t.Context(), "k", []byte("v"), nil); err != nil {
		t.Fatalf("Put with the first endpoint down: %v", err)
	}
	obj, err := c.Get(t.Context(), "k", nil)
	if err != nil || !obj.Found || string(obj.Siblings[0].Value) != "v" {
		t.Fatalf("Get with the first endpoint down = %+v, %v", obj, err)
	}
	// The put found the live node; later calls start with it.
	if n := len(srv.Requests()); n != 2 {
		t.Fatalf("the live node got %d requests, want 2", n)
	}
}

func TestClient_FailsOverOnA503(t *testing.T) {
	busy := newScripted(t, unavailable)
	good := newScripted(t, ok200)
	c := newCluster(t, []string{busy.URL, good.URL}, client.WithRetry(fastRetry))
	obj, err := c.Get(t.Context(), "k", nil)
	if err != nil || !obj.Found {
		t.Fatalf("Get = %+v, %v, want the second node's value", obj, err)
	}
	if busy.n.Load() != 1 || good.n.Load() != 1 {
		t.Fatalf("requests: busy %d, good %d, want 1 and 1", busy.n.Load(), good.n.Load())
	}
}

func TestClient_RetriesA503ThenSucceeds(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *client.Client) error
		ok   func(http.ResponseWriter)
	}{
		{"get", func(ctx context.Context, c *client.Client) error {
			_, err := c.Get(ctx, "k", nil)
			return err
		}, ok200},
		// A 503 without "indeterminate" applied nothing: the write may go again.
		{"put", func(ctx context.Context, c *client.Client) error {
			_, err := c.Put(ctx, "k", []byte("v"), &client.WriteOptions{Context: "ctx"})
			return err
		}, written},
		{"delete", func(ctx context.Context, c *client.Client) error {
			_, err := c.Delete(ctx, "k", &client.WriteOptions{Context: "ctx"})
			return err
		}, written},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newScripted(t, unavailable, unavailable, tt.ok)
			c := newClient(t, srv.URL, client.WithRetry(fastRetry))
			if err := tt.call(t.Context(), c); err != nil {
				t.Fatalf("%s after two 503s: %v", tt.name, err)
			}
			if n := srv.n.Load(); n != 3 {
				t.Fatalf("%d requests, want 3", n)
			}
		})
	}
}

func TestClient_GivesUpAfterMaxAttempts(t *testing.T) {
	srv := newScripted(t, unavailable)
	c := newClient(t, srv.URL, client.WithRetry(fastRetry))
	_, err := c.Get(t.Context(), "k", nil)
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("Get = %v, want ErrUnavailable", err)
	}
	if e, ok := errors.AsType[*client.Error](err); !ok || e.Code != "unavailable" {
		t.Fatalf("Get = %v, want the node's 503 inside", err)
	}
	if want := "dht: 503 unavailable: 1 replicas reachable, 2 required (gave up after 3 attempts)"; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	if n := srv.n.Load(); n != 3 {
		t.Fatalf("%d requests, want MaxAttempts = 3", n)
	}
}

func TestClient_AllEndpointsDown(t *testing.T) {
	c := newCluster(t, []string{deadURL(t), deadURL(t)}, client.WithRetry(fastRetry))
	_, err := c.Put(t.Context(), "k", []byte("v"), nil)
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("Put = %v, want ErrUnavailable", err)
	}
	// Refused connections sent nothing: the outcome is known.
	if client.IsIndeterminate(err) {
		t.Fatalf("Put = %v, reported as indeterminate", err)
	}
	if !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("error = %q, want the refusal and the attempts", err)
	}
}

func TestClient_DoesNotRetryA4xx(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   error
	}{
		{400, `{"error":"r=5 exceeds n=3","code":"bad_quorum"}`, nil},
		{401, `{"error":"missing bearer token","code":"unauthorized"}`, nil},
		{404, `{"error":"unknown node","code":"unknown_node"}`, client.ErrNotFound},
		{409, `{"error":"too many siblings","code":"too_many_siblings"}`, client.ErrConflict},
		{412, `{"error":"If-Match does not match","code":"precondition_failed"}`, client.ErrPrecondition},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := newScripted(t, status(tt.status, tt.body))
			other := newScripted(t, written)
			c := newCluster(t, []string{srv.URL, other.URL}, client.WithRetry(fastRetry))
			_, err := c.Put(t.Context(), "k", []byte("v"), nil)
			if e, ok := errors.AsType[*client.Error](err); !ok || e.Status != tt.status {
				t.Fatalf("Put = %v, want the %d", err, tt.status)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.want)
			}
			if errors.Is(err, client.ErrUnavailable) {
				t.Errorf("a %d matches ErrUnavailable", tt.status)
			}
			if srv.n.Load() != 1 || other.n.Load() != 0 {
				t.Fatalf("requests: %d and %d, want 1 and 0: a 4xx is an answer", srv.n.Load(), other.n.Load())
			}
		})
	}
}

func TestError_Sentinels(t *testing.T) {
	sentinels := []error{client.ErrNotFound, client.ErrConflict, client.ErrPrecondition, client.ErrUnavailable}
	tests := []struct {
		status int
		want   error
	}{
		{404, client.ErrNotFound},
		{409, client.ErrConflict},
		{412, client.ErrPrecondition},
		{503, client.ErrUnavailable},
		{400, nil},
		{500, nil},
	}
	for _, tt := range tests {
		err := error(&client.Error{Status: tt.status})
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == tt.want) {
				t.Errorf("errors.Is(%d, %v) = %v", tt.status, s, got)
			}
		}
	}
}

func TestClient_IndeterminateWriteIsNotRetried(t *testing.T) {
	t.Run("503 indeterminate", func(t *testing.T) {
		srv := newScripted(t, indeterminate, written)
		other := newScripted(t, written)
		c := newCluster(t, []string{srv.URL, other.URL}, client.WithRetry(fastRetry))
		_, err := c.Put(t.Context(), "k", []byte("v"), &client.WriteOptions{Context: "ctx"})
		if !client.IsIndeterminate(err) || !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("Put = %v, want an indeterminate 503", err)
		}
		if srv.n.Load() != 1 || other.n.Load() != 0 {
			t.Fatalf("requests: %d and %d, want 1 and 0", srv.n.Load(), other.n.Load())
		}
	})
	t.Run("connection lost after sending", func(t *testing.T) {
		var n atomic.Int32
		hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}))
		defer hangUp.Close()
		c := newClient(t, hangUp.URL, client.WithRetry(fastRetry))
		_, err := c.Put(t.Context(), "k", []byte("v"), nil)
		if !client.IsIndeterminate(err) {
			t.Fatalf("Put = %v, want an indeterminate transport error", err)
		}
		if n.Load() != 1 {
			t.Fatalf("the write was sent %d times, want 1", n.Load())
		}
		// A read may be repeated after the same failure.
		n.Store(0)
		if _, err := c.Get(t.Context(), "k", nil); err == nil || !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("Get = %v, want ErrUnavailable after the retries", err)
		}
		if n.Load() != 3 {
			t.Fatalf("the read was sent %d times, want 3", n.Load())
		}
	})
}

func TestClient_ContextStopsRetries(t *testing.T) {
	slow := client.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour}
	t.Run("canceled while waiting", func(t *testing.T) {
		srv := newScripted(t, unavailable)
		c := newClient(t, srv.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 10, BaseDelay: 10 * time.Second}))
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		started := time.Now()
		_, err := c.Get(ctx, "k", nil)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("Get = %v, want context.Canceled and ErrUnavailable", err)
		}
		if d := time.Since(started); d > 5*time.Second {
			t.Fatalf("Get returned after %v: the cancel did not end the wait", d)
		}
		if srv.n.Load() != 1 {
			t.Fatalf("%d requests, want 1", srv.n.Load())
		}
		if !strings.Contains(err.Error(), "stopped retrying after 1 attempt: context canceled") {
			t.Fatalf("error = %q", err)
		}
	})
	t.Run("a wait past the deadline is not begun", func(t *testing.T) {
		srv := newScripted(t, unavailable)
		c := newClient(t, srv.URL, client.WithRetry(slow))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := c.Get(ctx, "k", nil)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("Get = %v, want DeadlineExceeded and ErrUnavailable at once", err)
		}
		if srv.n.Load() != 1 {
			t.Fatalf("%d requests, want 1", srv.n.Load())
		}
	})
	t.Run("MaxElapsed", func(t *testing.T) {
		srv := newScripted(t, unavailable)
		c := newClient(t, srv.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Second, MaxElapsed: 100 * time.Millisecond}))
		_, err := c.Get(t.Context(), "k", nil)
		if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get = %v, want ErrUnavailable without a context error", err)
		}
		if srv.n.Load() != 1 {
			t.Fatalf("%d requests, want 1: the first wait would pass MaxElapsed", srv.n.Load())
		}
	})
	t.Run("NoRetry still fails over", func(t *testing.T) {
		srv := newScripted(t, unavailable)
		c := newCluster(t, []string{deadURL(t), srv.URL}, client.WithRetry(client.NoRetry()))
		_, err := c.Get(t.Context(), "k", nil)
		if !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("Get = %v, want ErrUnavailable", err)
		}
		if srv.n.Load() != 1 {
			t.Fatalf("%d requests to the live node, want 1", srv.n.Load())
		}
	})
}

func TestClient_JoinDoesNotFailOver(t *testing.T) {
	other := newScripted(t, status(202, `{"accepted":true,"node":"b","action":"join"}`))
	c := newCluster(t, []string{deadURL(t), other.URL}, client.WithRetry(fastRetry))
	if _, err := c.Join(t.Context()); err == nil || !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("Join = %v, want the first node unreachable", err)
	}
	if other.n.Load() != 0 {
		t.Fatal("join went to another node than the first")
	}
	// Decommission may go to any node.
	other2 := newScripted(t, status(202, `{"accepted":true,"node":"x","action":"decommission"}`))
	c = newCluster(t, []string{deadURL(t), other2.URL}, client.WithRetry(fastRetry))
	if _, err := c.Decommission(t.Context(), "x"); err != nil {
		t.Fatalf("Decommission with the first node down: %v", err)
	}
}

// hung is a node that accepts requests and never answers them, as a
// stopped process or a stalled disk does; it counts the requests.
func hung(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); s.Close() })
	return s, &n
}

// TestCluster_AttemptTimeoutMovesAReadOnFromAHungNode sends a read to a
// hung node first: past AttemptTimeout it goes to the next endpoint and
// succeeds, well before the caller's deadline. A write to the hung node is
// not abandoned at AttemptTimeout (it might be applied, and would not be
// sent again): it waits for the caller's deadline and reports an unknown
// outcome, and the healthy node never sees it.
func TestCluster_AttemptTimeoutMovesAReadOnFromAHungNode(t *testing.T) {
	t.Parallel()
	stuck, stuckSeen := hung(t)
	healthy := newScripted(t, ok200)
	policy := fastRetry
	policy.AttemptTimeout = 100 * time.Millisecond
	c := newCluster(t, []string{stuck.URL, healthy.URL}, client.WithRetry(policy))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obj, err := c.Get(ctx, "k", nil)
	if err != nil || string(obj.Siblings[0].Value) != "v" {
		t.Fatalf("Get with the first node hung = %+v, %v; want the healthy node's value", obj, err)
	}
	if stuckSeen.Load() != 1 || healthy.n.Load() != 1 {
		t.Fatalf("hung node saw %d requests, healthy %d; want 1 each", stuckSeen.Load(), healthy.n.Load())
	}

	writes := newScripted(t, written)
	c = newCluster(t, []string{stuck.URL, writes.URL}, client.WithRetry(policy))
	wctx, wcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer wcancel()
	if _, err := c.Put(wctx, "k", []byte("v"), nil); !client.IsIndeterminate(err) {
		t.Fatalf("Put to a hung node = %v, want an indeterminate error at the caller's deadline", err)
	}
	if writes.n.Load() != 0 {
		t.Fatalf("the write was sent again to the next node (%d requests): it may have been applied", writes.n.Load())
	}
}
