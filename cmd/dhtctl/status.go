package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
)

// statusCmd shows each node's background work. It asks the answering node
// for the members, then every member with an HTTP address for its own
// status, because hints live on the node that keeps them.
func (a *app) statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each node's pending hints",
		Long: `Show, for every node of the cluster, the hints it keeps for replicas that
were down (hinted handoff), by target node. A node that cannot be reached is
listed with the error. Hints drain once their target is alive again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.adminClient(cmd)
			if err != nil {
				return err
			}
			ctx, cancel, err := a.context(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			members, err := c.Members(ctx)
			if err != nil {
				return a.adminFailed(err)
			}
			token := adminTokenOf(cmd, a)
			var rows []statusRow
			for _, m := range members {
				if m.HTTPAddr == "" || m.Status == client.MemberRemoved {
					continue
				}
				row := statusRow{id: m.ID, status: m.Status}
				peer, err := client.New("http://"+m.HTTPAddr, client.WithAdminToken(token))
				if err == nil {
					row.s, err = peer.Status(ctx)
				}
				row.err = err
				rows = append(rows, row)
			}
			return writeStatus(cmd.OutOrStdout(), rows)
		},
	}
	addAdminTokenFlag(cmd)
	return cmd
}

type statusRow struct {
	id, status string
	s          *client.Status
	err        error
}

func writeStatus(w io.Writer, rows []statusRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATUS\tHINTS\tBYTES\tFOR")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\tunreachable: %v\n", r.id, r.status, r.err)
			continue
		}
		total := 0
		var targets []string
		for target, n := range r.s.HintsPending {
			total += n
			targets = append(targets, fmt.Sprintf("%s=%d", target, n))
		}
		slices.Sort(targets)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", r.id, r.status, total, r.s.HintsBytes, strings.Join(targets, ","))
	}
	return tw.Flush()
}

// adminTokenOf returns the admin token the command was given.
func adminTokenOf(cmd *cobra.Command, a *app) string {
	if f := cmd.Flags().Lookup(adminTokenFlag); f != nil && f.Changed {
		return f.Value.String()
	}
	return a.getenv(envAdminToken)
}
