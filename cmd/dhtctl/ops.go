package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/client"
)

func (a *app) joinCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "join",
		GroupID: groupCluster,
		Short:   "Make the node at --addr an owner of partitions again",
		Long: `Ask the node at --addr to join the ring as an owner. A node that was
decommissioned or force-removed does not rejoin by itself when it restarts;
this is how it comes back. Send it to the node that should join, not to
another one.

The node records the change and gossip carries it to the cluster; partitions
then move to it in the background ('dhtctl status', 'dhtctl events --follow').
The confirmation goes to stderr; --json prints the node's answer on stdout:
{"accepted":true,"node":"ID","action":"join"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if addrs := splitAddrs(a.addrText()); len(addrs) > 1 {
				return usageErrorf("join is sent to the node that should join; give --addr that one node, not %d", len(addrs))
			}
			return a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Join(ctx)
				if err != nil {
					return opFailed(err, "join", "")
				}
				if asJSON {
					return writeAcceptedJSON(cmd.OutOrStdout(), res)
				}
				node := res.Node
				if node == "" {
					node = "the node at " + a.addrText()
				}
				return printLine(cmd.ErrOrStderr(), "join accepted: %s becomes an owner again; partitions move to it in the background", node)
			})
		},
	}
	addAdminTokenFlag(cmd)
	addAcceptedJSONFlag(cmd, &asJSON)
	return cmd
}

func (a *app) decommissionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "decommission NODE",
		GroupID: groupCluster,
		Short:   "Retire a node: hand its replicas over, then leave",
		Long: `Remove NODE from the ring. It keeps serving while its replicas stream to
their new owners, then leaves the cluster; no data is lost. Any node may be
asked (--addr); the change reaches the others by gossip.

Follow the handoff with 'dhtctl status' or 'dhtctl events --follow'. To bring
the node back later, run 'dhtctl join' against it.`,
		Args: nodeArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			node := args[0]
			return a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Decommission(ctx, node)
				if err != nil {
					return opFailed(err, "decommission", node)
				}
				if asJSON {
					return writeAcceptedJSON(cmd.OutOrStdout(), res)
				}
				return printLine(cmd.ErrOrStderr(), "decommission of %s accepted: it hands its replicas to their new owners, then leaves the cluster", node)
			})
		},
	}
	addAdminTokenFlag(cmd)
	addAcceptedJSONFlag(cmd, &asJSON)
	return cmd
}

func (a *app) forceRemoveCmd() *cobra.Command {
	var yes, asJSON bool
	cmd := &cobra.Command{
		Use:     "force-remove NODE --yes",
		GroupID: groupCluster,
		Short:   "Remove a node that is down for good (destructive)",
		Long: `Remove NODE from the ring without its help, for a node that is down and will
not come back (a lost disk, a deleted VM). Its partitions are rebuilt on
their new owners from the surviving replicas; whatever only NODE held, such
as writes it alone acknowledged, is lost. A node the cluster sees alive is
refused: decommission it instead, which loses nothing.

Because it cannot be undone, it requires --yes.`,
		Args: nodeArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			node := args[0]
			if !yes {
				return usageErrorf("force-remove is destructive: %s leaves the ring for good and data only it holds is lost; "+
					"if it is down for good, run again with --yes (to retire a live node, use decommission)", node)
			}
			return a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.ForceRemove(ctx, node)
				if err != nil {
					return opFailed(err, "force-remove", node)
				}
				if asJSON {
					return writeAcceptedJSON(cmd.OutOrStdout(), res)
				}
				return printLine(cmd.ErrOrStderr(), "force-remove of %s accepted: its partitions are rebuilt on their new owners from the surviving replicas", node)
			})
		},
	}
	addAdminTokenFlag(cmd)
	addAcceptedJSONFlag(cmd, &asJSON)
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that NODE is down for good and may lose data")
	return cmd
}

func (a *app) resizeCmd() *cobra.Command {
	var partitions int
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "resize --partitions N",
		GroupID: groupCluster,
		Short:   "Grow the ring to N partitions online, or halve it",
		Long: `Grow the ring's partition count (Q) to N, a larger power of two, on the live
cluster. Every partition splits in place into its N/Q sub-arcs, on the
replicas it already has: no data crosses the network, and reads and
writes go on. Then a few replicas move, by ordinary transfers, from the
nodes above their fair share to those below. Each node replaces its
vnodes and moves the keys of each old partition under its halves on its
own disk, serving them meanwhile.

N may also be half of Q: each pair of sibling partitions first moves onto
one replica set by ordinary transfers (about half the replicas on a large
cluster), and once those are settled the pairs merge in place; the count
changes then. One halving at a time.

The cluster must be settled (no data still moving after a join or a
removal), every node up and of a release that resizes; otherwise the
answer says what to wait for. Watch the new count with
'dhtctl ring --summary' and the transfers with 'dhtctl status'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if partitions <= 0 {
				return usageErrorf("--partitions N is required: the partition count to resize the ring to, a larger power of two or half the current count")
			}
			return a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Resize(ctx, partitions)
				if err != nil {
					if client.IsIndeterminate(err) {
						return fmt.Errorf("%w; the resize may still have been recorded: check with 'dhtctl ring --summary' before repeating it", err)
					}
					return err
				}
				if asJSON {
					return writeAcceptedJSON(cmd.OutOrStdout(), res)
				}
				return printLine(cmd.ErrOrStderr(), "resize to %d partitions accepted: a larger count splits every partition in place (no data moves), then a few replicas move to even the loads; half the count aligns sibling partitions by transfers, then merges them; `dhtctl status` shows the transfers", partitions)
			})
		},
	}
	addAdminTokenFlag(cmd)
	addAcceptedJSONFlag(cmd, &asJSON)
	cmd.Flags().IntVar(&partitions, "partitions", 0, "the partition count to resize the ring to, a larger power of two or half the current count")
	return cmd
}

// nodeArg accepts exactly one non-empty NODE.
func nodeArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErrorf("missing NODE; 'dhtctl members' lists the nodes")
	case len(args) > 1:
		return usageErrorf("too many arguments: %d given, usage: %s", len(args), cmd.UseLine())
	case args[0] == "":
		return usageErrorf("NODE must not be empty")
	}
	return nil
}

// opFailed adds advice to the refusals of an ownership change.
func opFailed(err error, action, node string) error {
	if client.IsIndeterminate(err) {
		return fmt.Errorf("%w; the %s may still have been recorded: check with 'dhtctl members' before repeating it", err, action)
	}
	e, ok := errors.AsType[*client.Error](err)
	switch {
	case !ok:
		return err
	case e.Status == http.StatusNotFound && e.Code == string(api.CodeUnknownNode):
		return fmt.Errorf("%w; 'dhtctl members' lists the nodes", err)
	case e.Status == http.StatusConflict && action == "force-remove":
		return fmt.Errorf("%w; force-remove is only for a node that is down for good: run 'dhtctl decommission %s' to retire a live node", err, node)
	}
	return err
}

// addAcceptedJSONFlag gives an ownership command its --json flag.
func addAcceptedJSONFlag(cmd *cobra.Command, asJSON *bool) {
	cmd.Flags().BoolVar(asJSON, "json", false, `print the node's answer as JSON on stdout: {"accepted":true,"node":ID,"action":...}`)
}

// writeAcceptedJSON prints an ownership change's acceptance as the node
// answered it.
func writeAcceptedJSON(w io.Writer, res *client.Accepted) error {
	return encodeIndented(w, api.Accepted{Accepted: true, Node: res.Node, Action: res.Action})
}

func printLine(w io.Writer, format string, args ...any) error {
	_, err := fmt.Fprintf(w, format+"\n", args...)
	return err
}
