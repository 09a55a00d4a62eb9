package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
)

func (a *app) lsCmd() *cobra.Command {
	var (
		o      client.ListOptions
		max    int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "ls [PREFIX]",
		GroupID: groupKV,
		Short:   "List keys, optionally only those beginning with PREFIX",
		Long: `List the keys the cluster holds, one per line on stdout, in key order within
each of the ring's partitions, partition by partition (not one global order).
Deleted keys are not listed. The count, and a cursor to resume from when
--limit stops the listing early, are printed on stderr.

A listing touches every partition: a full one sends one request per
partition (ring.partitions) per replica asked, and each replica scans the
keys it holds. It is for operators and batch jobs. It takes the admin token
(--admin-token, $` + envAdminToken + `) unless the nodes set
http.listing_for_clients, when the key-value token (--token) suffices.

A listing is not a snapshot: keys written or deleted meanwhile may or may
not appear, but a key that stays put is listed exactly once, even while
nodes join or leave.

With --values each key's live values follow it on its line, tab-separated
and quoted as Go strings. With --json, stdout holds one JSON document per
key and line: {"key":K,"siblings":[{"value":V,"content_type":T,
"timestamp":RFC3339}]} ("siblings" only with --values; "key_encoding" and a
sibling's "encoding" are "base64" when not UTF-8).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Prefix = args[0]
			}
			if max < 0 || o.Limit < 0 || o.R < 0 {
				return usageErrorf("--limit, --page-size and --r must not be negative")
			}
			token := a.token
			if !cmd.Flags().Changed("token") {
				token = a.getenv(envToken)
			}
			c, err := a.adminClient(cmd, client.WithToken(token))
			if err != nil {
				return err
			}
			return listFailed(a.withContext(cmd, c, func(ctx context.Context, c *client.Client) error {
				return a.ls(ctx, cmd, c, o, max, asJSON)
			}))
		},
	}
	addAdminTokenFlag(cmd)
	cmd.Flags().IntVar(&max, "limit", 0, "list at most this many keys, then print the cursor to resume from on stderr (0: all)")
	cmd.Flags().IntVar(&o.Limit, "page-size", 0, "keys per request (0: the node's default, 1000; at most 10000)")
	cmd.Flags().StringVar(&o.Cursor, "cursor", "", "resume a listing from the cursor an earlier one printed")
	cmd.Flags().BoolVar(&o.Values, "values", false, "print each key's live values too")
	cmd.Flags().IntVar(&o.R, "r", 0, "replicas asked per partition, their answers merged (0: one)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document per key and line")
	return cmd
}

// ls pages through the listing itself rather than with ListAll, so that
// the last page asks only for what --limit leaves: a cursor resumes after a
// page's last key, never in the middle of a page.
func (a *app) ls(ctx context.Context, cmd *cobra.Command, c *client.Client, o client.ListOptions, max int, asJSON bool) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	pageSize, n := o.Limit, 0
	for {
		if max > 0 {
			o.Limit = max - n
			if pageSize > 0 {
				o.Limit = min(pageSize, o.Limit)
			}
		}
		p, err := c.List(ctx, o)
		if err != nil {
			return err
		}
		if p.Partial != "" {
			fmt.Fprintf(errOut, "warning: a page ended early (%s); going on from its cursor\n", p.Partial)
		}
		for _, k := range p.Keys {
			if err := writeListed(out, enc, k, o.Values, asJSON); err != nil {
				return err
			}
		}
		n += len(p.Keys)
		if p.Cursor == "" {
			fmt.Fprintf(errOut, "keys: %d\n", n)
			return nil
		}
		o.Cursor = p.Cursor
		if max > 0 && n >= max {
			fmt.Fprintf(errOut, "keys: %d\ncursor: %s\n", n, p.Cursor)
			return nil
		}
	}
}

func writeListed(out io.Writer, enc *json.Encoder, k client.ListedKey, values, asJSON bool) error {
	if asJSON {
		doc := struct {
			Key         string        `json:"key"`
			KeyEncoding string        `json:"key_encoding,omitempty"`
			Siblings    []jsonSibling `json:"siblings,omitempty"`
		}{}
		doc.Key, doc.KeyEncoding = encodeText([]byte(k.Key))
		for _, s := range k.Siblings {
			js := jsonSibling{ContentType: s.ContentType}
			js.Value, js.Encoding = encodeText(s.Value)
			if !s.Timestamp.IsZero() {
				js.Timestamp = formatTime(s.Timestamp)
			}
			doc.Siblings = append(doc.Siblings, js)
		}
		return enc.Encode(doc)
	}
	line := k.Key
	if values {
		for _, s := range k.Siblings {
			line += "\t" + strconv.Quote(string(s.Value))
		}
	}
	_, err := fmt.Fprintln(out, line)
	return err
}

// listFailed adds advice to a refused listing.
func listFailed(err error) error {
	e, ok := errors.AsType[*client.Error](err)
	switch {
	case !ok:
		return err
	case e.Status == http.StatusForbidden, e.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w; listing takes the admin token (--%s or $%s) unless the nodes set http.listing_for_clients", err, adminTokenFlag, envAdminToken)
	}
	return err
}
