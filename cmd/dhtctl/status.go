package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
)

// statusCmd shows each node's background work. It asks the answering node
// for the members, then every member with an HTTP address for its own
// status, because hints and transfers live on the node that runs them.
// The members are asked in parallel, each within --timeout of its own, so
// that a node that is down or hangs costs its own row and not the others'.
func (a *app) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "status",
		GroupID: groupCluster,
		Short:   "Show each node's pending hints and handoff",
		Long: `Show, for every node of the cluster, its background work:

  HINTS, BYTES, FOR  hints it keeps for replicas that were down (hinted
                     handoff), by target node; they drain once the target is
                     alive again
  PENDING            partitions it still has to receive after an ownership
                     change (join, decommission, force-remove)
  DRAINING           partitions it no longer owns and is handing over
  COMPLETED          transfers finished since the node started that moved
                     data (empty ones, as on a new cluster, are not counted)
  ETA                the node's estimate until PENDING and DRAINING reach 0

Then, when any are running, one line per partition transfer: its node,
partition, kind (receive or drain), peer, keys moved of the source's total,
bytes moved, and when it started. A node that cannot be reached is listed
with the error.

The member list comes from the first node of --addr that answers; then every
member is asked at once, each within a --timeout of its own, so a node that
is down or hangs is listed as unreachable without delaying the others.

With --json, stdout holds {"nodes":[{"id":ID,"member_status":S,
"reachable":true,"status":{...}}]}, "status" being the node's own answer
(GET /admin/status); an unreachable node has "reachable":false and "error"
instead of "status".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var members []client.Member
			err := a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
				var err error
				members, err = c.Members(ctx)
				return err
			})
			if err != nil {
				return err
			}
			rows, err := a.askStatus(cmd, members)
			if err != nil {
				return err
			}
			if asJSON {
				return writeStatusJSON(cmd.OutOrStdout(), rows)
			}
			return writeStatus(cmd.OutOrStdout(), rows)
		},
	}
	addAdminTokenFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print each node's status as JSON: {"nodes":[...]}`)
	return cmd
}

// askStatus asks every member that has an HTTP address and was not removed
// for its status, all at once, each with a context of its own bounded by
// --timeout. The rows keep the members' order.
func (a *app) askStatus(cmd *cobra.Command, members []client.Member) ([]statusRow, error) {
	// The peers are asked as --addr was: over HTTPS with the same CA and
	// client certificate when it is https://.
	tlsOpts, err := a.tlsOptions()
	if err != nil {
		return nil, err
	}
	peerOpts := append([]client.Option{client.WithAdminToken(adminTokenOf(cmd, a))}, tlsOpts...)
	scheme := "http"
	if addrs := splitAddrs(a.addrText()); len(addrs) > 0 {
		if u, err := url.Parse(addrs[0]); err == nil && u.Scheme == "https" {
			scheme = "https"
		}
	}
	var rows []statusRow
	for _, m := range members {
		if m.HTTPAddr == "" || m.Status == client.MemberRemoved {
			continue
		}
		rows = append(rows, statusRow{id: m.ID, status: m.Status, addr: scheme + "://" + m.HTTPAddr})
	}
	var wg sync.WaitGroup
	for i := range rows {
		r := &rows[i]
		wg.Go(func() {
			ctx, cancel, err := a.context(cmd)
			if err != nil {
				r.err = err
				return
			}
			defer cancel()
			peer, err := client.New(r.addr, peerOpts...)
			if err == nil {
				r.s, err = peer.Status(ctx)
			}
			r.err = err
		})
	}
	wg.Wait()
	return rows, nil
}

type statusRow struct {
	id, status string
	// addr is the base URL the node is asked at.
	addr string
	s    *client.Status
	err  error
}

// jsonStatusNode is one node in the document of status --json.
type jsonStatusNode struct {
	ID string `json:"id"`
	// MemberStatus is the node's membership status as the answering node
	// sees it (alive, down, leaving, left).
	MemberStatus string         `json:"member_status"`
	Reachable    bool           `json:"reachable"`
	Error        string         `json:"error,omitempty"`
	Status       *client.Status `json:"status,omitempty"`
}

// writeStatusJSON prints rows as {"nodes":[...]}, in the members' order.
func writeStatusJSON(w io.Writer, rows []statusRow) error {
	doc := struct {
		Nodes []jsonStatusNode `json:"nodes"`
	}{Nodes: []jsonStatusNode{}}
	for _, r := range rows {
		n := jsonStatusNode{ID: r.id, MemberStatus: r.status, Reachable: r.err == nil, Status: r.s}
		if r.err != nil {
			n.Error, n.Status = r.err.Error(), nil
		}
		doc.Nodes = append(doc.Nodes, n)
	}
	return encodeIndented(w, doc)
}

// writeStatus prints one line per node, then the running transfers of all
// nodes, if any. REBUILDING counts the pending partitions a node receives
// again after it lost its data; other replicas serve their reads meanwhile.
func writeStatus(w io.Writer, rows []statusRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATUS\tHINTS\tBYTES\tFOR\tPENDING\tREBUILDING\tDRAINING\tCOMPLETED\tETA")
	type transferRow struct {
		node string
		t    client.Transfer
	}
	var transfers []transferRow
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
		h := r.s.Handoff
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%s\n", r.id, r.status, total, r.s.HintsBytes,
			dashIfEmpty(strings.Join(targets, ",")), h.Pending, h.Rebuilding, h.Draining, h.Completed, formatETA(h.ETA()))
		for _, t := range h.Active {
			transfers = append(transfers, transferRow{node: r.id, t: t})
		}
	}
	// Flush between the tables: each aligns its own columns.
	if err := tw.Flush(); err != nil || len(transfers) == 0 {
		return err
	}
	slices.SortFunc(transfers, func(a, b transferRow) int {
		return cmp.Or(cmp.Compare(a.node, b.node), cmp.Compare(a.t.Partition, b.t.Partition), cmp.Compare(a.t.Kind, b.t.Kind))
	})
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "running transfers:")
	fmt.Fprintln(tw, "NODE\tPARTITION\tKIND\tPEER\tKEYS\tTOTAL\tPROGRESS\tBYTES\tSTARTED")
	for _, r := range transfers {
		t := r.t
		total, progress := "-", "-"
		if p, ok := t.Progress(); ok {
			total = strconv.FormatInt(t.TotalKeys, 10)
			progress = strconv.FormatFloat(100*p, 'f', 1, 64) + "%"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", r.node, t.Partition, dashIfEmpty(t.Kind), dashIfEmpty(t.Peer),
			t.Keys, total, progress, t.Bytes, formatStarted(t.StartedAt))
	}
	return tw.Flush()
}

// formatETA prints an estimate, "-" when idle or unknown.
func formatETA(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.String()
}

// formatStarted prints when a transfer started, in UTC to the second: the
// nodes' clocks, not the operator's time zone, are what logs show.
func formatStarted(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// adminTokenOf returns the admin token the command was given.
func adminTokenOf(cmd *cobra.Command, a *app) string {
	if f := cmd.Flags().Lookup(adminTokenFlag); f != nil && f.Changed {
		return f.Value.String()
	}
	return a.getenv(envAdminToken)
}
