package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dhtkv/dht/test/process"
)

// TestDashboard_AdminToken: on a node with an admin token the page asks for
// it, then reads the admin API and the event stream with it as a bearer
// header; the token shows in no URL and in no line of the node's log.
func TestDashboard_AdminToken(t *testing.T) {
	chrome := chromePath(t)
	const token = "ui-test-admin-token-5f1c"
	n := process.Start(t, process.Options{ID: "solo", Env: []string{"DHT_HTTP_ADMIN_TOKEN=" + token}})

	browser := newBrowser(t, chrome)
	p := browser.tab(t, "solo")
	p.open(t, n.URL()+"/ui")
	p.waitFor(t, "the page asks for the admin token", pageBound, func() (bool, string) {
		s := evalAs[string](t, p, `document.getElementById("token-dialog").open + " " + document.getElementById("conn").dataset.state`)
		return s == "true unauthorized", s
	})
	if m := p.members(t); len(m) != 0 {
		t.Fatalf("members shown without the token: %v", m)
	}
	p.do(t, chromedp.SendKeys(`#token-input`, token))
	p.do(t, chromedp.Click(`#token-save`))
	p.waitFor(t, "the page reads the cluster with the token", pageBound, func() (bool, string) {
		r, m := p.ring(t), p.members(t)
		return r.Arcs > 0 && m["solo"] == "alive", fmt.Sprint(r, m)
	})
	p.waitFor(t, "the event stream follows with the token", pageBound, func() (bool, string) {
		c := p.eventCount(t)
		return c > 0, fmt.Sprint(c)
	})
	p.screenshot(t, screenshotDir(t), "6-admin-token.png")
	if href := evalAs[string](t, p, `location.href`); strings.Contains(href, token) {
		t.Errorf("the token is in the page's URL %s", href)
	}
	if strings.Contains(n.Log(), token) {
		t.Error("the token is in the node's log")
	}
	if bad := p.problems(); len(bad) > 0 {
		t.Errorf("exceptions or CSP refusals in the console:\n%s", strings.Join(bad, "\n"))
	}
}
