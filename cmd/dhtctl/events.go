package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/events"
)

func (a *app) eventsCmd() *cobra.Command {
	var (
		follow, replay, asJSON bool
		kinds                  []string
	)
	cmd := &cobra.Command{
		Use:     "events [--follow] [--replay] [--kind K1,K2] [--json]",
		GroupID: groupCluster,
		Short:   "Show the node's recent cluster events, or follow them",
		Long: `Show the cluster events the node at --addr saw: members joining, leaving,
failing and being reaped, ring changes, partition handoffs, anti-entropy
repairs, and operators' commands. Each node reports what it saw, so ask
several to compare.

Without --follow, print the node's recent history and exit. With --follow,
print events as they happen until interrupted (Ctrl-C); --replay first
prints the history, and the live events continue exactly where it ends.
--timeout then bounds connecting, not the stream.

One line per event: time (UTC), reporting node, kind, subject (usually a
member; "-" when none), partition ("p12"; "-" when none), detail. With
--json, one JSON object per line, as the node sends it. When the stream
falls behind the node, a warning on stderr says how many events were lost.

Kinds: ` + strings.Join(events.Kinds(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			want, err := kindFilter(cmd, kinds)
			if err != nil {
				return err
			}
			printEvent := eventPrinter(cmd.OutOrStdout(), cmd.ErrOrStderr(), asJSON, want)
			if !follow {
				return a.withAdmin(cmd, func(ctx context.Context, c *client.Client) error {
					recent, err := c.RecentEvents(ctx)
					if err != nil {
						return err
					}
					for _, e := range recent {
						if err := printEvent(e); err != nil {
							return err
						}
					}
					return nil
				})
			}
			return a.followEvents(cmd, replay, printEvent)
		},
	}
	addAdminTokenFlag(cmd)
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "print events as they happen, until interrupted")
	f.BoolVar(&replay, "replay", false, "with --follow, print the recent history first (without --follow it is all that is printed)")
	f.StringSliceVar(&kinds, "kind", nil, "print only events of these `KINDS` (comma-separated, or the flag repeated)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per event and line")
	return cmd
}

// followEvents streams events to printEvent until the command's context ends,
// which is how an operator stops it. --timeout bounds connecting and the
// node's answer only: the stream itself is meant to run indefinitely.
func (a *app) followEvents(cmd *cobra.Command, replay bool, printEvent func(events.Event) error) error {
	if a.timeout < 0 {
		return usageErrorf("--timeout must not be negative, got %v", a.timeout)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if a.timeout > 0 {
		tr.DialContext = (&net.Dialer{Timeout: a.timeout}).DialContext
		tr.TLSHandshakeTimeout = a.timeout
		tr.ResponseHeaderTimeout = a.timeout
	}
	defer tr.CloseIdleConnections()
	c, err := a.adminClient(cmd, client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	err = c.Events(ctx, replay, printEvent)
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil // interrupted: the normal end of following
	case errors.Is(err, client.ErrEventsEnded):
		return fmt.Errorf("%w; is it shutting down? Run the command again to reconnect (--replay fills the gap)", err)
	}
	return a.tlsFailed(a.adminFailed(err))
}

// kindFilter returns the set of kinds --kind names, nil for all, and
// refuses a kind no node publishes: a typo would otherwise print nothing,
// which looks like a quiet cluster.
func kindFilter(cmd *cobra.Command, kinds []string) (map[string]bool, error) {
	if !cmd.Flags().Changed("kind") {
		return nil, nil
	}
	known := events.Kinds()
	want := map[string]bool{}
	for _, k := range kinds {
		k = strings.TrimSpace(k)
		if !slices.Contains(known, k) {
			return nil, usageErrorf("--kind: unknown kind %q; kinds are %s", k, strings.Join(known, ", "))
		}
		want[k] = true
	}
	if len(want) == 0 {
		return nil, usageErrorf("--kind must name at least one kind; kinds are %s", strings.Join(known, ", "))
	}
	return want, nil
}

// eventPrinter returns the callback that prints each event wanted (all when
// want is nil) to stdout, and the stream's notices of lost events to
// stderr, so that stdout holds only events.
func eventPrinter(stdout, stderr io.Writer, asJSON bool, want map[string]bool) func(events.Event) error {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	return func(e events.Event) error {
		if e.Kind == events.StreamDropped {
			fmt.Fprintf(stderr, "dhtctl: warning: %s events lost: this stream fell behind the node (the gap in their seq numbers shows where)\n", e.Detail)
			return nil
		}
		if want != nil && !want[e.Kind] {
			return nil
		}
		if asJSON {
			return enc.Encode(e)
		}
		return writeEventLine(stdout, e)
	}
}

// writeEventLine prints e as one line: time, node, kind, subject, partition,
// detail. The kind is padded to the longest kind, so that the columns after
// it line up for the usual node and member ids.
func writeEventLine(w io.Writer, e events.Event) error {
	partition := "-"
	if e.Partition != nil {
		partition = "p" + strconv.FormatUint(uint64(*e.Partition), 10)
	}
	line := fmt.Sprintf("%s  %s  %-14s  %s  %s", formatEventTime(e), dashIfEmpty(e.Node), e.Kind, dashIfEmpty(e.Subject), partition)
	if e.Detail != "" {
		line += "  " + oneLine(e.Detail)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// formatEventTime prints when e happened in UTC to the millisecond, a fixed
// width so that lines align.
func formatEventTime(e events.Event) string {
	if e.Time.IsZero() {
		return "-"
	}
	return e.Time.UTC().Format("2006-01-02T15:04:05.000Z")
}

// oneLine quotes s when it holds line breaks or other control characters,
// which would break the one-line-per-event format.
func oneLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
