package gateway_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtkv/dht/config"
)

func TestGateway_ClientToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	n := startNode(t, func(c *config.Config) { c.HTTP.ClientToken = token })
	auth := func(v string) http.Header {
		h := http.Header{"Content-Type": {"text/plain"}}
		if v != "" {
			h.Set("Authorization", v)
		}
		return h
	}
	tests := []struct {
		name       string
		method     string
		target     string
		auth       string
		wantStatus int
	}{
		{name: "no header", method: "PUT", target: "/v1/kv/k", wantStatus: 401},
		{name: "wrong token", method: "PUT", target: "/v1/kv/k", auth: "Bearer wrong", wantStatus: 401},
		{name: "token prefix", method: "PUT", target: "/v1/kv/k", auth: "Bearer " + token[:5], wantStatus: 401},
		{name: "token with suffix", method: "PUT", target: "/v1/kv/k", auth: "Bearer " + token + "x", wantStatus: 401},
		{name: "bare token", method: "PUT", target: "/v1/kv/k", auth: token, wantStatus: 401},
		{name: "basic scheme", method: "PUT", target: "/v1/kv/k", auth: "Basic " + token, wantStatus: 401},
		{name: "get without token", method: "GET", target: "/v1/kv/k", wantStatus: 401},
		{name: "delete without token", method: "DELETE", target: "/v1/kv/k", wantStatus: 401},
		{name: "bad request without token", method: "GET", target: "/v1/kv/k?r=0", wantStatus: 401},
		{name: "right token", method: "PUT", target: "/v1/kv/k", auth: "Bearer " + token, wantStatus: 204},
		{name: "right token read", method: "GET", target: "/v1/kv/k", auth: "Bearer " + token, wantStatus: 200},
		{name: "healthz stays open", method: "GET", target: "/healthz", wantStatus: 200},
		{name: "readyz stays open", method: "GET", target: "/readyz", wantStatus: 200},
		{name: "metrics stay open", method: "GET", target: "/metrics", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := n.do(t, tt.method, tt.target, auth(tt.auth), []byte("written with "+tt.auth))
			if resp.status != tt.wantStatus {
				t.Fatalf("%s %s with %q = %d %q, want %d", tt.method, tt.target, tt.auth, resp.status, resp.body, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusUnauthorized {
				return
			}
			if e := decodeError(t, resp); e.Code != "unauthorized" {
				t.Errorf("code = %q, want unauthorized", e.Code)
			}
			if !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", resp.header.Get("WWW-Authenticate"))
			}
		})
	}
	// Only the authorised write landed.
	resp := n.do(t, "GET", "/v1/kv/k", auth("Bearer "+token), nil)
	if resp.status != http.StatusOK || string(resp.body) != "written with Bearer "+token {
		t.Errorf("GET = %d %q, want the authorised write only", resp.status, resp.body)
	}
}

func TestGateway_Probes(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	tests := []struct {
		target   string
		wantBody string
	}{
		{target: "/healthz", wantBody: "ok\n"},
		{target: "/readyz", wantBody: "ready\n"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			resp := n.do(t, "GET", tt.target, nil, nil)
			if resp.status != http.StatusOK || string(resp.body) != tt.wantBody {
				t.Errorf("GET %s = %d %q, want 200 %q", tt.target, resp.status, resp.body, tt.wantBody)
			}
		})
	}
}

func TestGateway_Metrics(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	const puts = 3
	ctx := ""
	for range puts {
		ctx = n.mustPut(t, "m", "v", ctx)
	}
	n.wantValue(t, "m", "v")
	n.get(t, "missing")
	n.do(t, "GET", "/v1/kv/m?r=0", nil, nil)
	n.do(t, "POST", "/v1/kv/m", nil, []byte("x"))

	resp := n.do(t, "GET", "/metrics", nil, nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.status)
	}
	text := string(resp.body)
	tests := []struct {
		name   string
		series string // a regexp matching the whole series line but its value
		want   float64
	}{
		{name: "puts", series: `dht_requests_total{code="204",op="put"}`, want: puts},
		{name: "reads", series: `dht_requests_total{code="200",op="get"}`, want: 1},
		{name: "not found", series: `dht_requests_total{code="404",op="get"}`, want: 1},
		{name: "bad request", series: `dht_requests_total{code="400",op="get"}`, want: 1},
		{name: "other method", series: `dht_requests_total{code="405",op="other"}`, want: 1},
		{name: "put latency count", series: `dht_request_duration_seconds_count{op="put"}`, want: puts},
		{name: "get latency count", series: `dht_request_duration_seconds_count{op="get"}`, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tt.series) + ` (\S+)$`)
			m := re.FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("/metrics lacks %s", tt.series)
			}
			got, err := strconv.ParseFloat(m[1], 64)
			if err != nil || got != tt.want {
				t.Errorf("%s = %s, want %v", tt.series, m[1], tt.want)
			}
		})
	}
	if !strings.Contains(text, `dht_request_duration_seconds_bucket{op="put",le=`) {
		t.Error("/metrics lacks the dht_request_duration_seconds histogram buckets")
	}
}

// TestGateway_Pprof: the profiler is off unless http.pprof is set, and
// then it is behind the admin token.
func TestGateway_Pprof(t *testing.T) {
	t.Parallel()
	off := startNode(t, nil)
	if resp := off.do(t, "GET", "/debug/pprof/", nil, nil); resp.status != http.StatusNotFound {
		t.Errorf("pprof off: GET /debug/pprof/ = %d, want 404", resp.status)
	}
	const token = "profiler-secret"
	on := startNode(t, func(c *config.Config) { c.HTTP.Pprof = true; c.HTTP.AdminToken = token })
	if resp := on.do(t, "GET", "/debug/pprof/", nil, nil); resp.status != http.StatusUnauthorized {
		t.Errorf("pprof on, no token: %d, want 401", resp.status)
	}
	auth := http.Header{"Authorization": {"Bearer " + token}}
	resp := on.do(t, "GET", "/debug/pprof/goroutine?debug=1", auth, nil)
	if resp.status != http.StatusOK || !strings.Contains(string(resp.body), "goroutine profile") {
		t.Errorf("pprof on, with token: %d %.80q, want 200 and a goroutine profile", resp.status, resp.body)
	}
}
