package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dhtkv/dht/api"
)

// FuzzAdminOps sends arbitrary queries and bodies to the ownership changes.
// Each must be answered 202, having called the admin once with a valid node
// id, or 4xx with a JSON error, having called it not at all; never a panic
// or a 5xx (the fake admin does not fail).
func FuzzAdminOps(f *testing.F) {
	f.Add("/admin/decommission", "node=a", "")
	f.Add("/admin/force-remove", "", `{"node":"b"}`)
	f.Add("/admin/join", "", `{}`)
	f.Add("/admin/join", "node=", "")
	f.Add("/admin/decommission", "node=%zz", `{"node":7}`)
	f.Add("/admin/decommission", "node=a&node=b", `{"node":"a"} {}`)
	f.Add("/admin/force-remove", "", "{\"node\":\"\\u0000\"}")
	f.Fuzz(func(t *testing.T, path, query, body string) {
		switch path {
		case api.JoinPath, api.DecommissionPath, api.ForceRemovePath:
		default:
			return // other paths are other handlers
		}
		admin := &fakeAdmin{}
		mux := adminMux(Config{Admin: admin})
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.URL.Path, req.URL.RawQuery = path, query
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		calls := admin.calls()
		switch {
		case rec.Code == http.StatusAccepted:
			var a api.Accepted
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || !a.Accepted || a.Action == "" {
				t.Fatalf("202 with body %q", rec.Body)
			}
			if len(calls) != 1 {
				t.Fatalf("202 after %d admin calls %q, want 1", len(calls), calls)
			}
			if path != api.JoinPath {
				if err := checkNodeID(a.Node); err != nil {
					t.Fatalf("accepted node id %q: %v", a.Node, err)
				}
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e struct{ Error, Code string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.Code == "" {
				t.Fatalf("%d with body %q, want a JSON error", rec.Code, rec.Body)
			}
			if len(calls) != 0 {
				t.Fatalf("%d after admin calls %q, want none", rec.Code, calls)
			}
		default:
			t.Fatalf("%s?%s %q = %d %q", path, query, body, rec.Code, rec.Body)
		}
	})
}

// FuzzEventsQuery checks that any query is either accepted with a stream
// that replays or follows, or refused with a 400.
func FuzzEventsQuery(f *testing.F) {
	for _, q := range []string{"", "replay=1", "replay=true&follow=0", "follow=0", "replay=%zz", "kind=x", "replay=1&replay=1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		replay, follow, apiErr := parseEventsQuery(query)
		if apiErr != nil {
			if apiErr.status != http.StatusBadRequest || apiErr.code != codeBadParameter || apiErr.msg == "" {
				t.Fatalf("parseEventsQuery(%q) refused with %+v, want a 400 bad_parameter naming the problem", query, apiErr)
			}
			return
		}
		if !replay && !follow {
			t.Fatalf("parseEventsQuery(%q) accepted a stream that sends nothing", query)
		}
	})
}
