package node_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/resolve"
	"github.com/dhtkv/dht/test/nodetest"
)

// warnings keeps the messages and attributes of warning records.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (*warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	w.mu.Lock()
	w.lines = append(w.lines, b.String())
	w.mu.Unlock()
	return nil
}

func (w *warnings) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func startWithResolvers(t *testing.T, mutate func(*config.Config), custom map[string]resolve.Resolver, logger *slog.Logger) (*node.Node, error) {
	t.Helper()
	cfg := nodetest.Config(t, "r")
	cfg.Ring.Partitions = 8
	mutate(&cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(node.Options{Config: cfg, HTTPListener: ln, Logger: logger, Resolvers: custom})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("node.Stop: %v", err)
		}
	})
	return n, nil
}

func TestStart_RefusesUnknownResolver(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Config)
		custom map[string]resolve.Resolver
		want   []string
	}{
		{"default", func(c *config.Config) { c.Resolution.Default = "cart" }, nil,
			[]string{`resolution.default: the default names unknown resolver "cart" (registered: lww, siblings)`}},
		{"bucket", func(c *config.Config) { c.Resolution.Buckets = "carts/=cart" }, nil,
			[]string{`resolution.buckets: bucket "carts/" names unknown resolver "cart"`}},
		{"both", func(c *config.Config) { c.Resolution.Default = "x"; c.Resolution.Buckets = "a/=y" }, nil,
			[]string{`resolution.default:`, `unknown resolver "x"`, `resolution.buckets:`, `unknown resolver "y"`}},
		{"shadowed built-in", func(*config.Config) {}, map[string]resolve.Resolver{"lww": resolve.KeepSiblings{}},
			[]string{`node.Options.Resolvers: resolver "lww" is built in`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := startWithResolvers(t, tt.mutate, tt.custom, slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatal("Start accepted the config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestStart_RegisteredResolverAccepted(t *testing.T) {
	cart := resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) { return resolve.Resolution{}, nil })
	if _, err := startWithResolvers(t, func(c *config.Config) { c.Resolution.Buckets = "carts/=cart" },
		map[string]resolve.Resolver{"cart": cart}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Start refused a registered resolver: %v", err)
	}
}

func TestStart_WarnsAboutLossyResolvers(t *testing.T) {
	w := &warnings{}
	if _, err := startWithResolvers(t, func(c *config.Config) {
		c.Resolution.Buckets = "sessions/=lww,cache/=lww,carts/=siblings"
	}, nil, slog.New(w)); err != nil {
		t.Fatal(err)
	}
	var lossy []string
	for _, l := range w.snapshot() {
		if strings.Contains(l, "lossy") {
			lossy = append(lossy, l)
		}
	}
	if len(lossy) != 1 || !strings.Contains(lossy[0], "resolver=lww") || !strings.Contains(lossy[0], `"cache/", "sessions/"`) ||
		strings.Contains(lossy[0], "carts/") || strings.Contains(lossy[0], "default") {
		t.Errorf("lossy warnings %q, want one naming lww on cache/ and sessions/ only", lossy)
	}

	w = &warnings{}
	if _, err := startWithResolvers(t, func(c *config.Config) { c.Resolution.Default = "lww" }, nil, slog.New(w)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(w.snapshot(), "\n"), "(default: every key in no other bucket)") {
		t.Errorf("lww as the default is not named in the warnings %q", w.snapshot())
	}
}
