package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/api"
	dhtui "github.com/dhtkv/dht/ui"
)

// TestDashboard_Rendering serves the dashboard's assets beside a fake admin
// API whose answers are fixed (encoded from the api package's types, so the
// shapes are the gateway's): a transfer half done, hints, a metrics text
// whose counters grow by a known step each scrape, and an event stream with
// a loss notice. The parts of the page that a live cluster shows only for a
// moment (a transfer's progress, the moving arc, latency percentiles) are
// checked here exactly.
func TestDashboard_Rendering(t *testing.T) {
	chrome := chromePath(t)
	srv := httptest.NewServer(fakeAPI(t))
	t.Cleanup(srv.Close)

	browser := newBrowser(t, chrome)
	p := browser.tab(t, "fake")
	p.open(t, srv.URL+"/ui/")

	p.waitFor(t, "the ring of 8 partitions, 3 owners", pageBound, func() (bool, string) {
		r := p.ring(t)
		return r.Arcs == 8 && len(r.Owners) == 3 && r.Colours == 3, fmt.Sprintf("%+v", r)
	})
	p.waitFor(t, "partition 3 outlined as received", pageBound, func() (bool, string) {
		s := evalAs[string](t, p, `(() => { const a = document.querySelector('#ring [data-testid="ring-arc"][data-partition="3"]'); return a.getAttribute("class") + " " + a.dataset.moving; })()`)
		return s == "moving receive", s
	})
	row := evalAs[string](t, p, `[...document.querySelectorAll('[data-testid="transfer-row"]')].map(r => r.dataset.partition + ":" + [...r.children].map(c => c.textContent.trim()).join("|")).join(";")`)
	// Half of 100 keys in 10 s: 10 s to go (the page's clock moved on a
	// little since the answer, so the ETA is read loosely).
	if !strings.HasPrefix(row, "3:3|receive|b|50 / 100|50%|") || !strings.Contains(row, " s") {
		t.Errorf("transfer row = %q, want partition 3 receiving from b, 50 / 100, 50%%, an ETA in seconds", row)
	}
	for id, want := range map[string]string{
		"handoff-pending": "2", "handoff-eta": "42 s", "handoff-completed": "7", "handoff-settled": "no",
		"m-ae": "7.5 s", "m-hints": "12", "m-members": "2 / 1 (leaving 1)", "m-under": "4",
	} {
		got := evalAs[string](t, p, `document.getElementById("`+id+`").textContent`)
		if got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	if got := evalAs[string](t, p, `[...document.querySelectorAll('[data-testid="hint-row"]')].map(r => r.dataset.target + "=" + r.children[1].textContent).join(",")`); got != "c=12" {
		t.Errorf("hint rows = %q, want c=12", got)
	}
	// Each scrape adds 30 requests: 10 under 1 ms, 18 more under 5 ms, 2
	// above. The median is then 1 + 4·(15−10)/18 ms, and the 99th
	// percentile falls in the +Inf bucket: its lower bound, 5 ms.
	p.waitFor(t, "a request rate and percentiles over one interval", pageBound, func() (bool, string) {
		s := evalAs[string](t, p, `["m-rate", "m-p50", "m-p99"].map(id => document.getElementById(id).textContent).join("|")`)
		f := strings.Split(s, "|")
		return f[0] != "–" && f[0] != "0.0" && f[1] == "2.11 ms" && f[2] == "5.00 ms", s
	})
	p.waitFor(t, "the events and the loss notice", pageBound, func() (bool, string) {
		k := p.eventKinds(t)
		return k["member-join"] == 1 && k["handoff-start"] == 1 && k["dropped"] == 1, fmt.Sprint(k)
	})
	if got := evalAs[string](t, p, `document.querySelector('#events li').dataset.kind`); got != "dropped" {
		t.Errorf("newest event = %q, want the loss notice, sent last", got)
	}
	if got := evalAs[string](t, p, `(() => { const d = document.getElementById("recent-summary").dataset; return d.total + "/" + d.running; })()`); got != "1/1" {
		t.Errorf("recent transfers total/running = %q, want 1/1", got)
	}
	p.screenshot(t, screenshotDir(t), "7-fake-api.png")
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("exceptions or CSP refusals in the console:\n%s", strings.Join(bad, "\n"))
	}
}

// fakeAPI answers the dashboard's requests with fixed bodies.
func fakeAPI(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	for _, p := range dhtui.Patterns() {
		mux.Handle("GET "+p, dhtui.Handler())
	}
	reply := func(path string, body any) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if err := json.NewEncoder(w).Encode(body); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		})
	}
	reply(api.MembersPath, api.Members{Members: []api.Member{
		{ID: "a", Status: api.MemberAlive, Owner: true, Replicas: 8, HTTPAddr: "127.0.0.1:1", Self: true},
		{ID: "b", Status: api.MemberAlive, Owner: true, Replicas: 8, HTTPAddr: "127.0.0.1:2"},
		{ID: "c", Status: api.MemberDown, Owner: true, Replicas: 8, HTTPAddr: "127.0.0.1:3", Zone: "z2"},
	}})
	replicas := make([][]string, 8)
	for p := range replicas {
		ids := []string{"a", "b", "c"}
		replicas[p] = append(ids[p%3:], ids[:p%3]...)
	}
	reply(api.RingPath, api.Ring{Partitions: 8, N: 3, Version: 5, Replicas: replicas})
	reply(api.StatusPath, api.Status{
		Node:         "a",
		HintsPending: map[string]int{"c": 12},
		HintsBytes:   2048,
		MerkleRoots:  api.Roots{},
		Handoff: api.Handoff{
			Pending: 2, Completed: 7, ETASeconds: 42, RingVersion: 5,
			Active: []api.Transfer{{Partition: 3, Kind: api.TransferReceive, Peer: "b", Keys: 50, TotalKeys: 100, Bytes: 4096,
				StartedAt: time.Now().Add(-10 * time.Second)}},
		},
	})
	var scrapes atomic.Int64
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		k := scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, `# HELP dht_requests_total Client requests by operation and HTTP status code.
# TYPE dht_requests_total counter
dht_requests_total{code="200",op="get"} %d
dht_requests_total{code="404",op="get"} %d
# TYPE dht_request_duration_seconds histogram
dht_request_duration_seconds_bucket{op="get",le="0.001"} %d
dht_request_duration_seconds_bucket{op="get",le="0.005"} %d
dht_request_duration_seconds_bucket{op="get",le="+Inf"} %d
dht_request_duration_seconds_sum{op="get"} 0.1
dht_request_duration_seconds_count{op="get"} %d
dht_ae_max_seconds_since_exchange 7.5
dht_hints_pending{target="c"} 12
dht_members{status="alive"} 2
dht_members{status="down"} 1
dht_members{status="leaving"} 1
dht_members{status="left"} 0
dht_partitions_under_replicated 4
`, 20*k, 10*k, 10*k, 28*k, 30*k, 30*k)
	})
	mux.HandleFunc("GET "+api.EventsPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		now := time.Now().UTC().Format(time.RFC3339Nano)
		fmt.Fprintf(w, "id: 1\nevent: member-join\ndata: {\"seq\":1,\"time\":%q,\"node\":\"a\",\"kind\":\"member-join\",\"subject\":\"b\"}\n\n", now)
		fmt.Fprintf(w, ": keepalive\n\n")
		fmt.Fprintf(w, "id: 2\nevent: handoff-start\ndata: {\"seq\":2,\"time\":%q,\"node\":\"a\",\"kind\":\"handoff-start\",\"subject\":\"b\",\"partition\":3,\"detail\":\"receiving from b\"}\n\n", now)
		fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":3}\n\n")
		w.(http.Flusher).Flush()
		// Held open, as a following stream is, until the page or the
		// server goes.
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	return mux
}
