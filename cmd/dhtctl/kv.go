package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
)

// groupKV is the help group of the key-value commands.
const groupKV = "kv"

// errNotFound is returned when the key holds no live value; it exits with
// exitError like any failure, so scripts can test for presence.
var errNotFound = errors.New("not found")

func notFound(key string) error {
	return fmt.Errorf("key %q: %w", key, errNotFound)
}

func (a *app) getCmd() *cobra.Command {
	var (
		ro     client.ReadOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "get KEY",
		GroupID: groupKV,
		Short:   "Read a key",
		Long: `Read a key and print its value to stdout, byte for byte: nothing is added
when stdout is a file or a pipe. On a terminal, a value that does not end
with a newline gets one, so that the prompt starts on a line of its own.

When concurrent writes left several siblings, each is printed after a line
"--- sibling i (content-type, timestamp[, expires TIME]) ---"; write back a merged value with
"dhtctl put KEY --context TOKEN" or use "dhtctl resolve". The context token
("context: TOKEN") and the sibling count ("siblings: N") are printed on
stderr, and "expires: TIME" when a value was written with a TTL (the
earliest, with several). An expired value reads as not found. A key that is not found exits with status 1; its context is still
printed, and a write after a delete should send it back.

With --json, stdout holds one document and stderr nothing but errors:
{"key":K,"found":true,"context":C,"siblings":[{"value":V,"content_type":T,
"timestamp":RFC3339,"expires":RFC3339}]}; "expires" only for a value written
with a TTL; "key_encoding" and a sibling's "encoding" are
"base64" when the key or value is not UTF-8, "timestamp" is omitted when the
node did not send one, and a key not found has "found":false, no siblings,
and exits with status 1.`,
		Args: keyArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKV(cmd, func(ctx context.Context, c *client.Client) error {
				obj, err := c.Get(ctx, args[0], &ro)
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeObjectJSON(cmd.OutOrStdout(), obj); err != nil {
						return err
					}
				} else if err := writeObject(cmd.OutOrStdout(), cmd.ErrOrStderr(), obj, a.isTerminal(cmd.OutOrStdout())); err != nil {
					return err
				}
				if !obj.Found {
					return notFound(obj.Key)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&ro.R, "r", 0, "replicas that must answer (0: server default)")
	cmd.Flags().IntVar(&ro.PR, "pr", 0, "primary replicas that must answer (0: server default)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the key, context and siblings as a JSON document")
	return cmd
}

func (a *app) putCmd() *cobra.Command {
	var (
		wo     client.WriteOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "put KEY [VALUE|-]",
		GroupID: groupKV,
		Short:   "Write a value",
		Long: `Write VALUE under KEY. The value is read from stdin when VALUE is
omitted or "-" (so a literal "-" is written with: echo -n - | dhtctl put KEY).

Pass the context of the read the value is based on with --context: the
siblings it covers are replaced. Without it the write is concurrent with what
the key holds and becomes one more sibling.

--if-none-match (alone, meaning "*") writes only when the key holds no live
value: it creates, never overwrites. --if-match ETAG writes only while the
key is unchanged since the read that gave ETAG ("dhtctl get" prints it), and
replaces what that read saw. A failed condition writes nothing and exits with
status 1 ("412 precondition_failed").

--ttl DURATION (Go syntax: 30s, 15m, 24h; 1s to 87600h) makes the value
expire: from that long after the node takes the write, every replica reads
the key as not found. The expiry is printed on stderr as "expires: TIME".

The new context is printed on stderr as "context: TOKEN", then its ETag as
"etag: ETAG", followed by "siblings: N" when the key now has several live
values. With --json, stdout holds {"key":K,"context":C,"etag":E,"siblings":N}
(and "expires":RFC3339 with --ttl) instead (` + "`dhtctl put k v --json | jq -r .context`" + `).`,
		Args: keyArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			valueArg := "-"
			if len(args) == 2 {
				valueArg = args[1]
			}
			value, err := readValue(cmd, valueArg)
			if err != nil {
				return err
			}
			return a.withKV(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Put(ctx, args[0], value, &wo)
				if err != nil {
					return writeFailed(err, args[0])
				}
				if asJSON {
					return writeResultJSON(cmd.OutOrStdout(), args[0], res, 0)
				}
				return writeResult(cmd.ErrOrStderr(), res)
			})
		},
	}
	addWriteFlags(cmd, &wo, &asJSON)
	cmd.Flags().StringVar(&wo.Context, "context", "", "context token of the read this write is based on")
	cmd.Flags().StringVar(&wo.ContentType, "content-type", "", "content type of the value (default "+client.DefaultContentType+")")
	cmd.Flags().StringVar(&wo.IfMatch, "if-match", "", `write only while the key's ETag is still this one ("*": only if it holds a live value)`)
	cmd.Flags().StringVar(&wo.IfNoneMatch, "if-none-match", "", `write only if the key holds no live value (given alone: "*"), or its ETag is no longer this one`)
	cmd.Flags().Lookup("if-none-match").NoOptDefVal = "*"
	cmd.Flags().DurationVar(&wo.TTL, "ttl", 0, "expire the value this long after the write (Go duration, 1s to 87600h; 0: never)")
	return cmd
}

func (a *app) deleteCmd() *cobra.Command {
	var (
		wo     client.WriteOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "delete KEY",
		GroupID: groupKV,
		Short:   "Delete a key",
		Long: `Delete KEY by writing a tombstone over the siblings its context covers.

With --context, exactly the siblings of that read are deleted. Without it,
dhtctl reads the key first and deletes what that read saw (a node does the
same with a delete sent without a context). A key that is not found is
reported (exit status 1) and nothing is written. Writes concurrent with the
delete survive as siblings. With --if-match ETAG the key is deleted only while
it is unchanged since the read that gave ETAG, without a read first. The
tombstone's context and ETag are printed on stderr, or with --json on stdout
as {"key":K,"context":C,"etag":E,"siblings":N} (N: the live siblings left, 0
unless writes raced with the delete).`,
		Args: keyArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			return a.withKV(cmd, func(ctx context.Context, c *client.Client) error {
				if !cmd.Flags().Changed("context") && wo.IfMatch == "" {
					obj, err := c.Get(ctx, key, nil)
					if err != nil {
						return fmt.Errorf("reading the key's context: %w", err)
					}
					if !obj.Found {
						return notFound(key)
					}
					wo.Context = obj.Context
				}
				res, err := c.Delete(ctx, key, &wo)
				if err != nil {
					return writeFailed(err, key)
				}
				if asJSON {
					return writeResultJSON(cmd.OutOrStdout(), key, res, 0)
				}
				return writeResult(cmd.ErrOrStderr(), res)
			})
		},
	}
	addWriteFlags(cmd, &wo, &asJSON)
	cmd.Flags().StringVar(&wo.Context, "context", "", "context token of the read to delete (default: read the key first)")
	cmd.Flags().StringVar(&wo.IfMatch, "if-match", "", "delete only while the key's ETag is still this one")
	return cmd
}

func (a *app) resolveCmd() *cobra.Command {
	var (
		wo     client.WriteOptions
		value  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "resolve KEY --value V|-",
		GroupID: groupKV,
		Short:   "Replace all siblings of a key with one value",
		Long: `Resolve siblings by hand: read KEY, then write the value given with
--value ("-" reads it from stdin) with the read's context, so that every
sibling the read saw is replaced. Writes that race with it stay as siblings;
run it again if the output reports more than one.

Without --content-type, the siblings' content type is kept when they all
agree. A key that is not found is reported (exit status 1) and nothing is
written: use put to create a key.

It prints on stderr how many siblings it replaced and the new context; with
--json, on stdout {"key":K,"context":C,"siblings":N,"replaced":R}.`,
		Args: keyArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := readValue(cmd, value)
			if err != nil {
				return err
			}
			key := args[0]
			return a.withKV(cmd, func(ctx context.Context, c *client.Client) error {
				var replaced int
				res, err := c.Update(ctx, key, func(sibs []client.Sibling) ([]byte, string, error) {
					if len(sibs) == 0 {
						return nil, "", errNotFound
					}
					replaced = len(sibs)
					if wo.ContentType != "" {
						return v, wo.ContentType, nil
					}
					return v, commonContentType(sibs), nil
				}, &wo)
				if errors.Is(err, errNotFound) {
					return notFound(key)
				}
				if err != nil {
					return writeFailed(err, key)
				}
				if asJSON {
					return writeResultJSON(cmd.OutOrStdout(), key, res, replaced)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "replaced %d sibling(s)\n", replaced)
				return writeResult(cmd.ErrOrStderr(), res)
			})
		},
	}
	addWriteFlags(cmd, &wo, &asJSON)
	cmd.Flags().StringVar(&value, "value", "", `the resolved value, or "-" to read it from stdin`)
	cmd.Flags().StringVar(&wo.ContentType, "content-type", "", "content type of the value (default: the siblings' common one)")
	_ = cmd.MarkFlagRequired("value") // cannot fail: the flag was just defined
	return cmd
}

// keyArgs accepts KEY and, with maxArgs 2, one optional argument after it.
// KEY must not be empty: the store has no empty key.
func keyArgs(maxArgs int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageErrorf("missing KEY")
		case len(args) > maxArgs:
			return usageErrorf("too many arguments: %d given, usage: %s", len(args), cmd.UseLine())
		case args[0] == "":
			return usageErrorf("KEY must not be empty")
		}
		return nil
	}
}

func addWriteFlags(cmd *cobra.Command, wo *client.WriteOptions, asJSON *bool) {
	cmd.Flags().IntVar(&wo.W, "w", 0, "replicas that must acknowledge (0: server default)")
	cmd.Flags().IntVar(&wo.PW, "pw", 0, "primary replicas that must acknowledge (0: server default)")
	cmd.Flags().BoolVar(asJSON, "json", false, "print the key, the new context and the sibling count as a JSON document on stdout")
}

// readValue returns arg, or stdin's content when arg is "-".
func readValue(cmd *cobra.Command, arg string) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	v, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return nil, fmt.Errorf("reading the value from stdin: %w", err)
	}
	return v, nil
}

// writeFailed adds advice to a write whose outcome is unknown.
func writeFailed(err error, key string) error {
	if client.IsIndeterminate(err) {
		return fmt.Errorf("%w; run 'dhtctl get %q' to see whether it was applied", err, key)
	}
	return err
}

func writeResult(w io.Writer, res *client.WriteResult) error {
	if _, err := fmt.Fprintf(w, "context: %s\n", res.Context); err != nil {
		return err
	}
	if res.ETag != "" {
		if _, err := fmt.Fprintf(w, "etag: %s\n", res.ETag); err != nil {
			return err
		}
	}
	if res.Siblings > 1 {
		if _, err := fmt.Fprintf(w, "siblings: %d\n", res.Siblings); err != nil {
			return err
		}
	}
	if !res.Expires.IsZero() {
		if _, err := fmt.Fprintf(w, "expires: %s\n", formatTime(res.Expires)); err != nil {
			return err
		}
	}
	return nil
}

// writeResultJSON prints a write's outcome as the document of --json:
// {"key","context","etag","siblings"} and, for resolve, "replaced".
func writeResultJSON(w io.Writer, key string, res *client.WriteResult, replaced int) error {
	doc := jsonWrite{Context: res.Context, ETag: res.ETag, Siblings: res.Siblings, Replaced: replaced}
	if !res.Expires.IsZero() {
		doc.Expires = formatTime(res.Expires)
	}
	doc.Key, doc.KeyEncoding = encodeText([]byte(key))
	return encodeIndented(w, doc)
}

// jsonWrite is the document put, delete and resolve print with --json.
type jsonWrite struct {
	Key         string `json:"key"`
	KeyEncoding string `json:"key_encoding,omitempty"`
	Context     string `json:"context"`
	ETag        string `json:"etag,omitempty"`
	// Siblings is how many live siblings the key has after the write, as
	// the node counted them; 0 when it did not say.
	Siblings int `json:"siblings"`
	// Replaced is how many siblings resolve replaced; absent for put and
	// delete.
	Replaced int `json:"replaced,omitempty"`
	// Expires is the earliest expiry of the key's live values after the
	// write (RFC 3339); absent when none expires.
	Expires string `json:"expires,omitempty"`
}

// writeObject prints obj for a person: a single value as its exact bytes,
// several with a header line before each. The context goes to stderr so that
// stdout holds only the value. On a terminal (tty), a single value without
// a final newline gets one: a person reads it there, and no program would
// see the byte.
func writeObject(stdout, stderr io.Writer, obj *client.Object, tty bool) error {
	switch len(obj.Siblings) {
	case 0:
	case 1:
		v := obj.Siblings[0].Value
		if _, err := stdout.Write(v); err != nil {
			return err
		}
		if tty && len(v) > 0 && v[len(v)-1] != '\n' {
			if _, err := io.WriteString(stdout, "\n"); err != nil {
				return err
			}
		}
	default:
		for i, s := range obj.Siblings {
			expires := ""
			if !s.Expires.IsZero() {
				expires = ", expires " + formatTime(s.Expires)
			}
			if _, err := fmt.Fprintf(stdout, "--- sibling %d (%s, %s%s) ---\n", i+1, orUnknown(s.ContentType), formatTime(s.Timestamp), expires); err != nil {
				return err
			}
			if _, err := stdout.Write(s.Value); err != nil {
				return err
			}
			// Keep the next header on a line of its own.
			if n := len(s.Value); n > 0 && s.Value[n-1] != '\n' {
				if _, err := io.WriteString(stdout, "\n"); err != nil {
					return err
				}
			}
		}
	}
	if obj.Context != "" {
		fmt.Fprintf(stderr, "context: %s\n", obj.Context)
	}
	if obj.ETag != "" {
		fmt.Fprintf(stderr, "etag: %s\n", obj.ETag)
	}
	if len(obj.Siblings) > 1 {
		fmt.Fprintf(stderr, "siblings: %d\n", len(obj.Siblings))
	}
	if !obj.Expires.IsZero() {
		fmt.Fprintf(stderr, "expires: %s\n", formatTime(obj.Expires))
	}
	return nil
}

// jsonObject is the document printed by get --json.
type jsonObject struct {
	Key string `json:"key"`
	// KeyEncoding is "base64" when Key is not valid UTF-8 and so is
	// base64-encoded, which JSON strings could not carry faithfully.
	KeyEncoding string        `json:"key_encoding,omitempty"`
	Found       bool          `json:"found"`
	Context     string        `json:"context"`
	ETag        string        `json:"etag,omitempty"`
	Siblings    []jsonSibling `json:"siblings"`
}

type jsonSibling struct {
	Value string `json:"value"`
	// Encoding is "base64" when Value is not valid UTF-8.
	Encoding    string `json:"encoding,omitempty"`
	ContentType string `json:"content_type"`
	Timestamp   string `json:"timestamp,omitempty"`
	// Expires is when the value expires (RFC 3339); absent when never.
	Expires string `json:"expires,omitempty"`
}

func writeObjectJSON(w io.Writer, obj *client.Object) error {
	doc := jsonObject{Found: obj.Found, Context: obj.Context, ETag: obj.ETag, Siblings: []jsonSibling{}}
	doc.Key, doc.KeyEncoding = encodeText([]byte(obj.Key))
	for _, s := range obj.Siblings {
		js := jsonSibling{ContentType: s.ContentType}
		js.Value, js.Encoding = encodeText(s.Value)
		if !s.Timestamp.IsZero() {
			js.Timestamp = formatTime(s.Timestamp)
		}
		if !s.Expires.IsZero() {
			js.Expires = formatTime(s.Expires)
		}
		doc.Siblings = append(doc.Siblings, js)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// encodeText returns b as a string when it is valid UTF-8, else as base64
// together with the encoding's name.
func encodeText(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

// commonContentType returns the content type all siblings share, or "" (the
// server's default) when they differ.
func commonContentType(sibs []client.Sibling) string {
	ct := sibs[0].ContentType
	for _, s := range sibs[1:] {
		if s.ContentType != ct {
			return ""
		}
	}
	return ct
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "no timestamp"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown content type"
	}
	return s
}
