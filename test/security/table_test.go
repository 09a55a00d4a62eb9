package security

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/test/process"
	"github.com/dhtkv/dht/wire"
)

// table collects rows and logs them aligned, as the suite's figures.
type table struct {
	title string
	rows  [][]string
}

func newTable(title string, header ...string) *table {
	return &table{title: title, rows: [][]string{header}}
}

func (tb *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	tb.rows = append(tb.rows, row)
}

func (tb *table) log(t testing.TB) {
	t.Helper()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, r := range tb.rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	_ = w.Flush()
	t.Logf("%s\n%s", tb.title, b.String())
}

// clip shortens s for a table cell.
func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// describe is a gRPC error as "Code: message", clipped.
func describe(err error) string {
	if err == nil {
		return "ok"
	}
	if st, ok := status.FromError(err); ok {
		return clip(st.Code().String()+": "+st.Message(), 90)
	}
	return clip(err.Error(), 90)
}

// tokenVV decodes the version vector inside a context token, as anyone
// holding a token can: a v2 token's MAC protects it from change, not from
// being read.
func tokenVV(key, token string) (dvv.VersionVector, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, err
	}
	var body []byte
	switch {
	case len(raw) > 17 && raw[0] == 2:
		body = raw[1 : len(raw)-16]
	case len(raw) > 5 && raw[0] == 1:
		body = raw[1 : len(raw)-4]
	default:
		return nil, fmt.Errorf("token of format %d, %d bytes", raw[0], len(raw))
	}
	var cc messages.ClientContext
	if err := proto.Unmarshal(body, &cc); err != nil {
		return nil, err
	}
	if cc.GetKeyHash() != wire.KeyHash([]byte(key)) {
		return nil, fmt.Errorf("the token is for another key")
	}
	return wire.VVFromProto(cc.GetEntries())
}

// read reads key through node n at quorum r.
func (c *cluster) read(n *process.Node, key string, r int) (*client.Object, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.client(n).Get(ctx, key, &client.ReadOptions{R: r})
}

// write writes key through node n at quorum w.
func (c *cluster) write(n *process.Node, key, value, ctxToken string, w int) (*client.WriteResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.client(n).Put(ctx, key, []byte(value), &client.WriteOptions{W: w, Context: ctxToken, ContentType: "text/plain"})
}

// values lists an object's sibling values.
func values(o *client.Object) []string {
	if o == nil {
		return nil
	}
	out := make([]string, len(o.Siblings))
	for i, s := range o.Siblings {
		out[i] = string(s.Value)
	}
	return out
}
