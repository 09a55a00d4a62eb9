package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
)

// groupCluster is the help group of the commands about the cluster rather
// than keys.
const groupCluster = "cluster"

// envAdminToken is the environment variable --admin-token defaults to.
const envAdminToken = "DHTCTL_ADMIN_TOKEN"

// adminTokenFlag is the name of the admin token flag. adminClient looks it up
// by name, so it works the same whether the flag is a command's own or, once
// the root defines it, inherited.
const adminTokenFlag = "admin-token"

func (a *app) membersCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "members",
		GroupID: groupCluster,
		Short:   "List the nodes of the cluster",
		Long: `List every node the answering node knows of, sorted by id: its zone,
status, whether it owns replicas in the ring, how many partition replicas it
holds and its HTTP address. The node that answered is marked with "*".

A status is one of alive, down (failed but still an owner: fallbacks cover
its replicas until it returns or is force-removed), leaving, left or removed.
Membership is gossiped, so nodes may briefly disagree; ask several with
--addr to compare.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
				members, err := c.Members(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return encodeIndented(cmd.OutOrStdout(), struct {
						Members []client.Member `json:"members"`
					}{members})
				}
				return writeMembers(cmd.OutOrStdout(), members)
			})
		},
	}
	addAdminTokenFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print the answer as JSON: {"members":[...]}`)
	return cmd
}

func (a *app) ringCmd() *cobra.Command {
	var (
		asJSON, summaryOnly bool
		node                string
	)
	cmd := &cobra.Command{
		Use:     "ring",
		GroupID: groupCluster,
		Short:   "Show the partition ring",
		Long: `Show the ring the answering node routes by.

A summary comes first: the partition count, the replication factor n, the
ring's version (it grows with every change, so of two nodes' answers the
higher is newer), how many partitions have fewer than n replicas, and for
each node its replicas, its share of all replicas, and how many partitions it
is the primary (first) replica of.

Then one line per partition: its number, its first position on the 128-bit
hash ring (32 hex digits; a key belongs to the partition whose range holds
the MD5 of the key) and its replicas in preference order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("node") && node == "" {
				return usageErrorf("--node must not be empty")
			}
			return a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
				ring, err := c.Ring(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return encodeIndented(cmd.OutOrStdout(), ring)
				}
				if ring.Partitions == 0 {
					return errors.New("the node knows no ring yet: it has not joined a cluster")
				}
				var rows []int
				if !summaryOnly {
					rows = partitionsHeldBy(ring, node)
					if len(rows) == 0 {
						return fmt.Errorf("node %q holds no partition of this ring; nodes that do: %s",
							node, strings.Join(ringNodes(ring), ", "))
					}
				}
				return writeRing(cmd.OutOrStdout(), ring, rows, summaryOnly)
			})
		},
	}
	addAdminTokenFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the ring as JSON, as the node sent it")
	cmd.Flags().BoolVar(&summaryOnly, "summary", false, "print only the summary, not the partitions")
	cmd.Flags().StringVar(&node, "node", "", "list only the partitions node `ID` holds a replica of")
	// Each of these changes what is printed in a way the others would
	// contradict; refusing the mix beats silently ignoring one.
	cmd.MarkFlagsMutuallyExclusive("json", "summary")
	cmd.MarkFlagsMutuallyExclusive("json", "node")
	cmd.MarkFlagsMutuallyExclusive("summary", "node")
	return cmd
}

// addAdminTokenFlag gives cmd the --admin-token flag. Its default is read at
// run time, not shown as the flag's default, so that --help never prints a
// secret.
func addAdminTokenFlag(cmd *cobra.Command) {
	cmd.Flags().String(adminTokenFlag, "", "bearer `TOKEN` for the node's admin API, separate from --token (default $"+envAdminToken+")")
}

// adminClient returns a client for the admin API of the node chosen by
// --addr. Only the admin token is given to it: the admin API is guarded
// separately from the key-value API, and the client token is not sent there.
func (a *app) adminClient(cmd *cobra.Command, opts ...client.Option) (*client.Client, error) {
	tlsOpts, err := a.tlsOptions()
	if err != nil {
		return nil, err
	}
	opts = append(append([]client.Option{client.WithAdminToken(adminTokenOf(cmd, a))}, tlsOpts...), opts...)
	return a.newClient(opts...)
}

// adminFailed adds advice to the failures of an admin request that an
// operator can fix from the command line. Other errors, and nil, pass
// unchanged.
func (a *app) adminFailed(err error) error {
	e, ok := errors.AsType[*client.Error](err)
	switch {
	case !ok:
		return err
	case e.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w; pass the admin API's token with --%s or $%s (--token is for keys only)", err, adminTokenFlag, envAdminToken)
	case e.Status == http.StatusNotFound && e.Code == "":
		// Not the API's own 404, which always carries a code: the address
		// is not a node, or a node without the admin API.
		return fmt.Errorf("%w; is %s a dht node serving the admin API?", err, a.addrText())
	}
	return err
}

// writeMembers prints members as a table, the answering node's id marked
// with "*".
func writeMembers(w io.Writer, members []client.Member) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tZONE\tSTATUS\tOWNER\tREPLICAS\tHTTP")
	for _, m := range members {
		id := m.ID
		if m.Self {
			id += "*"
		}
		owner := "no"
		if m.Owner {
			owner = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", id, dashIfEmpty(m.Zone), dashIfEmpty(m.Status), owner, m.Replicas, dashIfEmpty(m.HTTPAddr))
	}
	// tabwriter keeps the first write error and returns it from Flush.
	return tw.Flush()
}

// nodeShare is one node's part of the ring.
type nodeShare struct {
	id                  string
	replicas, primaries int
}

// ringSummary counts the replicas and primaries of each node, sorted by id,
// the replicas in all, and the partitions with fewer than n distinct
// replicas.
func ringSummary(ring *client.Ring) (shares []nodeShare, total, belowN int) {
	byID := map[string]*nodeShare{}
	for _, prefs := range ring.Replicas {
		for i, id := range prefs {
			s := byID[id]
			if s == nil {
				s = &nodeShare{id: id}
				byID[id] = s
			}
			s.replicas++
			if i == 0 {
				s.primaries++
			}
		}
		total += len(prefs)
		if distinct(prefs) < ring.N {
			belowN++
		}
	}
	for _, s := range byID {
		shares = append(shares, *s)
	}
	slices.SortFunc(shares, func(a, b nodeShare) int { return cmp.Compare(a.id, b.id) })
	return shares, total, belowN
}

// ringNodes returns the ids of the nodes holding replicas, sorted.
func ringNodes(ring *client.Ring) []string {
	shares, _, _ := ringSummary(ring)
	ids := make([]string, len(shares))
	for i, s := range shares {
		ids[i] = s.id
	}
	return ids
}

// partitionsHeldBy returns the partitions node holds a replica of, or all
// partitions when node is empty.
func partitionsHeldBy(ring *client.Ring, node string) []int {
	var ps []int
	for p, prefs := range ring.Replicas {
		if node == "" || slices.Contains(prefs, node) {
			ps = append(ps, p)
		}
	}
	return ps
}

// writeRing prints the summary of ring and, unless summaryOnly, a line for
// each partition in rows.
func writeRing(w io.Writer, ring *client.Ring, rows []int, summaryOnly bool) error {
	shares, total, belowN := ringSummary(ring)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "partitions: %d  n: %d  version: %d  replicas: %d  partitions below n: %d\n",
		ring.Partitions, ring.N, ring.Version, total, belowN)
	fmt.Fprintln(tw, "NODE\tREPLICAS\tSHARE\tPRIMARIES")
	for _, s := range shares {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", s.id, s.replicas, sharePercent(s.replicas, total), s.primaries)
	}
	// Flush between the tables: each aligns its own columns.
	if err := tw.Flush(); err != nil {
		return err
	}
	if summaryOnly {
		return nil
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "P\tSTART\tREPLICAS")
	for _, p := range rows {
		replicas := strings.Join(ring.Replicas[p], ",")
		fmt.Fprintf(tw, "%d\t%s\t%s\n", p, partitionStart(p, ring.Partitions), dashIfEmpty(replicas))
	}
	return tw.Flush()
}

// two128 is 2¹²⁸, the size of the ring.
var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

// partitionStart returns the first ring position of partition p of q as 32
// hex digits. Partitions are q equal arcs, so it is p·2¹²⁸/q; for the power
// of two q every ring has, that is p in the top log2(q) bits, which are the
// bits of a key's MD5 that pick its partition (cluster/ring).
func partitionStart(p, q int) string {
	start := new(big.Int).Mul(big.NewInt(int64(p)), two128)
	start.Quo(start, big.NewInt(int64(q)))
	return fmt.Sprintf("%032x", start)
}

// sharePercent formats part of total as a percentage with one decimal.
func sharePercent(part, total int) string {
	if total == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(part)/float64(total), 'f', 1, 64) + "%"
}

// distinct counts the distinct ids in prefs, which a sound ring never
// repeats but a faulty one might.
func distinct(prefs []string) int {
	seen := make(map[string]bool, len(prefs))
	for _, id := range prefs {
		seen[id] = true
	}
	return len(seen)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// encodeIndented prints v as indented JSON. HTML escaping is off: the output
// is for terminals and tools, not web pages.
func encodeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
