// Command dhtd is the store's node daemon. It loads the configuration
// (config.yaml, DHT_ environment variables, flags), starts one node, and
// runs until SIGINT or SIGTERM, when it drains requests and stops cleanly.
// A graceful stop is not a decommission: the node keeps its data and its
// place in the ring.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/buildinfo"
	"github.com/dhtkv/dht/config"
)

func main() {
	if err := newCommand(os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dhtd:", err)
		os.Exit(1)
	}
}

func newCommand(logOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dhtd",
		Short: "Run a node of the dht replicated key-value store",
		Long: `dhtd runs one node of the store. Configuration is layered: built-in
defaults, then the YAML file given by --config, then DHT_* environment
variables (DHT_STORAGE_SYNC_WRITES=true sets storage.sync_writes), then flags
named by the dotted key (--storage.sync_writes=true). See config.yaml.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		// --version prints this and exits, before any configuration is
		// read: it must work on a machine where the node could not start.
		Version: buildinfo.Read().String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, warnings, err := config.Load(cmd.Flags(), os.Environ())
			if err != nil {
				return err
			}
			logger := newLogger(logOut, cfg.Log)
			for _, w := range warnings {
				logger.Warn("config", "warning", w)
			}
			if from, _ := cmd.Flags().GetString(restoreFlag); from != "" {
				if err := node.Restore(cfg, from, logger); err != nil {
					return err
				}
			}
			return run(cfg, logger)
		},
	}
	config.RegisterFlags(cmd.Flags())
	cmd.Flags().String(restoreFlag, "", "fill the empty node.data_dir from this backup (dhtctl backup) before starting; "+
		"the node then starts with a new epoch and is sent what changed since (a directory already restored from the same backup is kept)")
	cmd.SetVersionTemplate("dhtd {{.Version}}\n")
	return cmd
}

// restoreFlag names the backup a node starts from.
const restoreFlag = "restore"

func run(cfg config.Config, logger *slog.Logger) error {
	if mib := cfg.Node.MemoryLimitMiB; mib > 0 {
		// Process-wide, so set here and not by node.Start: a program that
		// embeds a node owns its runtime's settings.
		debug.SetMemoryLimit(int64(mib) << 20)
		logger.Info("go memory limit set", "mib", mib)
	}
	n, err := node.Start(node.Options{Config: cfg, Logger: logger, Now: dataClock()})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		// Not ready at once, still serving: a load balancer that polls
		// /readyz stops sending requests during the lame duck, and the
		// node leaves only then.
		n.Unready()
		if d := cfg.HTTP.LameDuck; d > 0 {
			logger.Info("lame duck: not ready, still serving", "lame_duck", d)
			time.Sleep(d)
		}
		logger.Info("shutting down", "drain_timeout", cfg.HTTP.ShutdownTimeout)
		n.LeaveGossip()
	case <-n.Retired():
		// Decommissioned and handed over: nothing is left for this node.
		// It stays out of the ring if restarted, until dhtctl join.
		logger.Info("decommissioned; exiting", "drain_timeout", cfg.HTTP.ShutdownTimeout)
	}
	drain, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := n.Stop(drain); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level))) // validated by config
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsText}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationsAsText writes durations as Go writes them ("1.5s"), not as
// slog's JSON handler does (nanoseconds): a reader, or a log query, should
// not have to divide "drain_timeout":10000000000 to see ten seconds.
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
