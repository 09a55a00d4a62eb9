package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/config"
)

// list asks one page of a listing with the given query and token.
func (n *testNode) list(tb testing.TB, query url.Values, token string) (response, api.ListPage) {
	tb.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	resp := n.do(tb, http.MethodGet, api.ListPath+"?"+query.Encode(), h, nil)
	var page api.ListPage
	if resp.status == http.StatusOK {
		if err := json.Unmarshal(resp.body, &page); err != nil {
			tb.Fatalf("listing body %q: %v", resp.body, err)
		}
	}
	return resp, page
}

func TestGateway_ListPagesThroughEveryKey(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	var want []string
	for i := range 60 {
		k := fmt.Sprintf("user/%02d", i)
		n.mustPut(t, k, "v"+k, "")
		want = append(want, k)
	}
	n.mustPut(t, "other", "x", "")
	ctx := n.mustPut(t, "user/gone", "x", "")
	if d := n.del(t, "user/gone", ctx); d.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", d.status, d.body)
	}

	var got []string
	cursor, pages := "", 0
	for {
		q := url.Values{"prefix": {"user/"}, "limit": {"7"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		resp, page := n.list(t, q, "")
		if resp.status != http.StatusOK {
			t.Fatalf("list: %d %s", resp.status, resp.body)
		}
		if len(page.Keys) > 7 {
			t.Fatalf("a page of %d keys at limit 7", len(page.Keys))
		}
		for _, k := range page.Keys {
			got = append(got, k.Key)
			if k.Siblings != nil {
				t.Errorf("key %s has siblings though values were not asked", k.Key)
			}
		}
		pages++
		if cursor = page.Cursor; cursor == "" {
			break
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("listed %d keys %v, want the %d live user/ keys", len(got), got, len(want))
	}
	t.Logf("%d keys in %d pages", len(got), pages)

	resp, page := n.list(t, url.Values{"prefix": {"other"}, "values": {"true"}}, "")
	if resp.status != http.StatusOK || len(page.Keys) != 1 || len(page.Keys[0].Siblings) != 1 || string(page.Keys[0].Siblings[0].Value) != "x" || page.Cursor != "" {
		t.Errorf("list values: %d %s, want other with its value and no cursor", resp.status, resp.body)
	}
}

func TestGateway_ListRefusesBadParameters(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	for _, tc := range []struct {
		name  string
		query url.Values
		code  api.Code
	}{
		{"corrupt cursor", url.Values{"cursor": {"not-a-cursor!"}}, api.CodeBadCursor},
		{"cursor of another version", url.Values{"cursor": {"Ag"}}, api.CodeBadCursor},
		{"limit zero", url.Values{"limit": {"0"}}, api.CodeBadParameter},
		{"limit over the max", url.Values{"limit": {"10001"}}, api.CodeBadParameter},
		{"limit not a number", url.Values{"limit": {"many"}}, api.CodeBadParameter},
		{"values not a bool", url.Values{"values": {"yes please"}}, api.CodeBadParameter},
		{"r over n", url.Values{"r": {"2"}}, api.CodeBadQuorum},
		{"unknown parameter", url.Values{"prefx": {"a"}}, api.CodeBadParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := n.list(t, tc.query, "")
			if resp.status != http.StatusBadRequest || decodeError(t, resp).Code != string(tc.code) {
				t.Errorf("list ?%s = %d %s, want 400 %s", tc.query.Encode(), resp.status, resp.body, tc.code)
			}
		})
	}
}

func TestGateway_ListTakesTheAdminToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		forClients bool
		token      string
		status     int
	}{
		{"admin token", false, "admin-secret", http.StatusOK},
		{"client token", false, "client-secret", http.StatusForbidden},
		{"no token", false, "", http.StatusUnauthorized},
		{"wrong token", false, "guess", http.StatusUnauthorized},
		{"client token with listing_for_clients", true, "client-secret", http.StatusOK},
		{"admin token with listing_for_clients", true, "admin-secret", http.StatusOK},
		{"no token with listing_for_clients", true, "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, func(c *config.Config) {
				c.HTTP.ClientToken, c.HTTP.AdminToken, c.HTTP.ListingForClients = "client-secret", "admin-secret", tc.forClients
			})
			resp, _ := n.list(t, nil, tc.token)
			if resp.status != tc.status {
				t.Errorf("list with %q = %d %s, want %d", tc.token, resp.status, resp.body, tc.status)
			}
			if resp.status == http.StatusForbidden && !strings.Contains(string(resp.body), "listing_for_clients") {
				t.Errorf("the 403 does not say how to allow it: %s", resp.body)
			}
		})
	}
}
