package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
)

// readyCmd asks one node whether it is ready, for scripts and container
// healthchecks: the image has no shell or curl, but it has dhtctl.
func (a *app) readyCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "ready [--wait DURATION]",
		GroupID: groupCluster,
		Short:   "Exit 0 when the node answers /readyz with 200",
		Long: `Ask the node at --addr whether it serves requests (GET /readyz): exit 0
when it does, 1 with the node's reason when it does not or cannot be
reached. With --wait, ask again every half second until it is ready or the
wait is over. The docker-compose file's healthcheck runs it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if wait < 0 {
				return usageErrorf("--wait must not be negative, got %v", wait)
			}
			c, err := a.client(cmd)
			if err != nil {
				return err
			}
			// --wait is the bound here; --timeout only when it is longer.
			ctx, cancel := context.WithTimeout(cmd.Context(), max(a.timeout, wait+readyProbeTimeout))
			defer cancel()
			deadline := time.Now().Add(wait)
			for {
				err := readyOnce(ctx, c)
				if err == nil {
					fmt.Fprintln(cmd.OutOrStdout(), "ready")
					return nil
				}
				if wait <= 0 || time.Now().After(deadline) {
					return err
				}
				select {
				case <-ctx.Done():
					return err
				case <-time.After(500 * time.Millisecond):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "keep asking until the node is ready, for at most this long")
	return cmd
}

// readyProbeTimeout bounds one probe, so that a hung node fails the probe
// instead of the whole wait.
const readyProbeTimeout = 2 * time.Second

func readyOnce(ctx context.Context, c *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, readyProbeTimeout)
	defer cancel()
	return c.Ready(ctx)
}
