package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/dhtkv/dht/api"
)

// ListOptions selects one page of a key listing. The zero value lists every
// key from the start, the node's default page size, keys only, one replica
// per partition.
type ListOptions struct {
	// Prefix lists only the keys that begin with it.
	Prefix string
	// Limit is the most keys a page holds (0: the node's default, 1000;
	// at most 10000).
	Limit int
	// Cursor resumes a listing where the page that returned it ended.
	Cursor string
	// Values asks each key's live values too.
	Values bool
	// R asks R replicas of each partition and merges their answers (0: one).
	R int
}

// ListedKey is one key of a listing, with its live values when
// ListOptions.Values was set.
type ListedKey struct {
	Key      string
	Siblings []Sibling
}

// ListPage is one page of a listing. Cursor resumes it; it is empty once
// every partition has been covered. Keys come in key order within each of
// the ring's partitions, partition by partition, not in one global order.
type ListPage struct {
	Keys   []ListedKey
	Cursor string
	// Partial says why the node ended the page short (a partition none of
	// whose replicas answered); Cursor resumes at that partition, and asking
	// it again answers the failure as an error if it persists.
	Partial string
}

// List returns one page of the keys the cluster holds. A listing asks
// every partition of the ring, so a full one costs as many requests as
// there are partitions and scans every key: it is for operators and batch
// jobs, not for a request path. It takes the admin token (WithAdminToken)
// unless the nodes set http.listing_for_clients, when the client token
// (WithToken) suffices; the admin token is sent when set. A listing is not
// a snapshot: keys written or deleted meanwhile may or may not appear, but
// a key that stays put is listed exactly once, even while nodes join or
// leave.
func (c *Client) List(ctx context.Context, o ListOptions) (ListPage, error) {
	q := url.Values{}
	if o.Prefix != "" {
		q.Set("prefix", o.Prefix)
	}
	setInt(q, "limit", o.Limit)
	setInt(q, "r", o.R)
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Values {
		q.Set("values", strconv.FormatBool(true))
	}
	token := c.adminToken()
	if token == "" {
		token = c.token
	}
	resp, err := c.roundTrip(ctx, call{what: "list", method: http.MethodGet, path: api.ListPath, query: q.Encode(), token: token, idempotent: true})
	if err != nil {
		return ListPage{}, err
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		return ListPage{}, decodeError(resp, false)
	}
	// Decoded from the stream, not read whole first: a page with values
	// may be far larger than any other answer.
	var body api.ListPage
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return ListPage{}, fmt.Errorf("client: list: malformed answer: %w", err)
	}
	page := ListPage{Cursor: body.Cursor, Partial: body.Error, Keys: make([]ListedKey, 0, len(body.Keys))}
	for _, k := range body.Keys {
		lk := ListedKey{Key: string(k.Bytes())}
		for _, s := range k.Siblings {
			lk.Siblings = append(lk.Siblings, Sibling{Value: s.Value, ContentType: s.ContentType, Timestamp: s.Timestamp})
		}
		page.Keys = append(page.Keys, lk)
	}
	return page, nil
}

// ListAll follows the cursors from o.Cursor to the end of the listing,
// calling fn with each page; fn returning an error stops it with that
// error. A page that ended short (ListPage.Partial) is handed to fn like
// any other, and the listing goes on from its cursor.
func (c *Client) ListAll(ctx context.Context, o ListOptions, fn func(ListPage) error) error {
	for {
		page, err := c.List(ctx, o)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if page.Cursor == "" {
			return nil
		}
		o.Cursor = page.Cursor
	}
}

// Keys returns every key having prefix, following the cursors. It holds
// them all in memory: use ListAll for a large store.
func (c *Client) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := c.ListAll(ctx, ListOptions{Prefix: prefix, Limit: 10000}, func(p ListPage) error {
		for _, k := range p.Keys {
			keys = append(keys, k.Key)
		}
		return nil
	})
	return keys, err
}
