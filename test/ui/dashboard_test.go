package ui

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

func TestMain(m *testing.M) {
	// A screenshot left by an earlier run (a failed one's among them)
	// would pass for this run's.
	old, _ := filepath.Glob(filepath.Join("screenshots", "*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	process.Main(m)
}

// Bounds of the waits. They bound how long a check may take to come true,
// not how fast it must; the test logs the time each one took.
const (
	pageBound     = 30 * time.Second // the page shows what the API already says
	downBound     = 30 * time.Second // serf marks a killed node down, then a poll
	transferBound = 120 * time.Second
	pollEvery     = 100 * time.Millisecond
)

// clusterArgs: N=3, R=2, W=2 over 32 partitions (few enough arcs to read in
// the screenshot), and transfers of one key per batch, one at a time, so
// that a joining node's transfers last long enough for the page's polls
// (every 1.5 s) to see them in flight.
func clusterArgs(seeds string) []string {
	return []string{
		"--replication.n", "3", "--replication.r", "2", "--replication.w", "2",
		"--ring.partitions", "32",
		"--handoff.transfer_batch_keys", "1", "--handoff.transfer_concurrency", "1",
		"--handoff.drop_delay", "2s",
		"--cluster.seeds", seeds,
	}
}

// TestDashboard_LiveCluster opens the dashboard of a real 3-node cluster in
// headless Chromium and follows it through a join, a crash and a
// force-remove done through the page itself.
func TestDashboard_LiveCluster(t *testing.T) {
	chrome := chromePath(t)
	shots := screenshotDir(t)

	nodes := make([]*process.Node, 3)
	nodes[0] = process.Launch(t, process.Options{ID: "node1", Args: clusterArgs("")})
	for i := 1; i < 3; i++ {
		nodes[i] = process.Launch(t, process.Options{ID: fmt.Sprintf("node%d", i+1), Args: clusterArgs(nodes[0].GossipAddr())})
	}
	for _, n := range nodes {
		if err := n.WaitReady(60 * time.Second); err != nil {
			t.Fatalf("%s: %v", n.ID(), err)
		}
	}
	written := writeKeys(t, nodes, 3000)
	t.Logf("wrote %d keys at w=2", written)

	browser := newBrowser(t, chrome)
	p1 := browser.tab(t, "node1")
	p1.open(t, nodes[0].URL()+"/ui")

	// 1. The ring: every partition an arc, coloured by 3 distinct owners.
	p1.waitFor(t, "the ring drawn with 3 owners in 3 colours", pageBound, func() (bool, string) {
		r := p1.ring(t)
		return r.Arcs == 32 && len(r.Owners) == 3 && r.Colours == 3, fmt.Sprintf("%+v", r)
	})
	p1.waitFor(t, "3 members alive", pageBound, func() (bool, string) {
		m := p1.members(t)
		return len(m) == 3 && m["node1"] == "alive" && m["node2"] == "alive" && m["node3"] == "alive", fmt.Sprint(m)
	})
	events0 := p1.eventCount(t)
	p1.waitFor(t, "the event list replays the node's history", pageBound, func() (bool, string) {
		events0 = p1.eventCount(t)
		return events0 > 0, fmt.Sprint(events0)
	})
	p1.screenshot(t, shots, "1-three-nodes.png")

	// 2. A fourth node joins. Its own dashboard is open from its first
	// answer, so that its polls see its transfers from the start; node1's
	// shows the fourth owner once the ring has it.
	n4 := process.Launch(t, process.Options{ID: "node4", Args: clusterArgs(nodes[0].GossipAddr())})
	p4 := browser.tab(t, "node4")
	waitListening(t, n4.Addr(), 60*time.Second)
	p4.open(t, n4.URL()+"/ui")
	joined := time.Now()
	p1.waitFor(t, "node1's ring shows node4 as a fourth owner", transferBound, func() (bool, string) {
		r := p1.ring(t)
		return len(r.Owners) == 4 && slices.Contains(r.Owners, "node4") && r.Colours == 4, fmt.Sprintf("%+v", r)
	})
	t.Logf("node1's page showed the fourth owner %v after node4's page opened", time.Since(joined).Round(time.Millisecond))
	// The polls (every 1.5 s) catch a transfer in flight only if it
	// lasts; the page also lists the transfers the node's events tell of,
	// which it replays from the node's history, and those must all finish.
	var h4 handoffView
	shot := false
	p4.waitFor(t, "node4's transfers listed and all finished", transferBound, func() (bool, string) {
		h4 = p4.handoff(t)
		if h4.Rows > 0 && !shot {
			shot = true
			p4.screenshot(t, shots, "2-node4-receiving.png")
		}
		return h4.Told > 0 && h4.Running == 0 && h4.Rows == 0 && h4.Pending == "0" && h4.Completed > 0, fmt.Sprintf("%+v", h4)
	})
	t.Logf("node4's page: %d transfer(s) in its events, all finished; %d completed by node4; %d caught in flight by the polls; %v after its page opened",
		h4.Told, h4.Completed, h4.Seen, time.Since(joined).Round(time.Millisecond))
	kinds := p4.eventKinds(t)
	if kinds["handoff-start"] == 0 || kinds["handoff-finish"] == 0 {
		t.Errorf("node4's event list has no handoff-start or handoff-finish: %v", kinds)
	}
	p1.screenshot(t, shots, "3-four-nodes.png")

	// 3. A crash: node3 is killed; node1's page marks it down.
	nodes[2].Kill()
	killed := time.Now()
	p1.waitFor(t, "node3 shown down", downBound, func() (bool, string) {
		m := p1.members(t)
		return m["node3"] == "down", fmt.Sprint(m)
	})
	t.Logf("node3 shown down on node1's page %v after SIGKILL (bound %v)", time.Since(killed).Round(time.Millisecond), downBound)
	p1.waitFor(t, "the event list grows with node3's failure", pageBound, func() (bool, string) {
		k := p1.eventKinds(t)
		return p1.eventCount(t) > events0 && k["member-fail"] > 0, fmt.Sprint(k)
	})
	p1.screenshot(t, shots, "4-node3-down.png")

	// 4. Force-remove node3 through the page: the confirm button stays
	// disabled until the node's id is typed in full.
	p1.do(t, chromedp.Click(`button[data-testid="action-force-remove"][data-node="node3"]`))
	p1.do(t, chromedp.SendKeys(`#confirm-input`, "node"))
	if !p1.eval(t, `document.getElementById("confirm-go").disabled`).(bool) {
		t.Fatal("the confirm button is enabled before the node id is typed in full")
	}
	p1.do(t, chromedp.SendKeys(`#confirm-input`, "3"))
	p1.do(t, chromedp.Click(`#confirm-go`))
	p1.waitFor(t, "the force-remove accepted", pageBound, func() (bool, string) {
		s := p1.eval(t, `document.getElementById("action-result").dataset.state + ": " + document.getElementById("action-result").textContent`).(string)
		return strings.HasPrefix(s, "accepted"), s
	})
	p1.waitFor(t, "node3 removed and out of the ring", transferBound, func() (bool, string) {
		m, r := p1.members(t), p1.ring(t)
		return m["node3"] == "removed" && len(r.Owners) == 3 && !slices.Contains(r.Owners, "node3"), fmt.Sprint(m, r.Owners)
	})
	p1.screenshot(t, shots, "5-node3-removed.png")
	t.Logf("node1's page: %d events at the start, %d at the end", events0, p1.eventCount(t))

	for _, tb := range []*tab{p1, p4} {
		if bad := tb.problems(); len(bad) > 0 {
			t.Errorf("%s's page: exceptions or CSP refusals in the console:\n%s", tb.name, strings.Join(bad, "\n"))
		}
	}
}

// writeKeys writes n keys through the nodes, 8 at a time, and returns how
// many were acknowledged.
func writeKeys(t *testing.T, nodes []*process.Node, n int) int {
	t.Helper()
	clients := make([]*client.Client, len(nodes))
	for i, nd := range nodes {
		clients[i] = nd.Client()
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked int
		first error
	)
	keys := make(chan int)
	for w := range 8 {
		wg.Go(func() {
			for i := range keys {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := clients[(i+w)%len(clients)].Put(ctx, fmt.Sprintf("k%05d", i), []byte(fmt.Sprintf("value-%d", i)), &client.WriteOptions{W: 2})
				cancel()
				mu.Lock()
				if err == nil {
					acked++
				} else if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		keys <- i
	}
	close(keys)
	wg.Wait()
	if acked < n {
		t.Fatalf("%d of %d writes acknowledged; first error: %v", acked, n, first)
	}
	return acked
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %v: %v", addr, timeout, err)
		}
		time.Sleep(pollEvery)
	}
}

// chromePath finds Chromium: $CHROME, else chromium or google-chrome on
// PATH. Without one the test skips, or fails under CI.
func chromePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH (apt-get install chromium), and CI is set")
	}
	t.Skip("no Chromium on PATH (apt-get install chromium, or set $CHROME)")
	return ""
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("screenshots")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium; each tab is a context of it.
type browser struct {
	ctx context.Context
}

func newBrowser(t *testing.T, chrome string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.WindowSize(1400, 1000),
		// Root in a container has no user namespace to sandbox in.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", chrome, err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return &browser{ctx: ctx}
}

// tab is one page, and the console messages it wrote.
type tab struct {
	name string
	ctx  context.Context
	wg   sync.WaitGroup
	mu   struct {
		sync.Mutex
		console []chromedp.ConsoleMessage
	}
}

func (b *browser) tab(t *testing.T, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb := &tab{name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	msgs := chromedp.Console(ctx)
	tb.wg.Go(func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.mu.console = append(tb.mu.console, m)
			tb.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		cancel()
		tb.wg.Wait()
		if t.Failed() {
			for _, m := range tb.messages() {
				t.Logf("%s console: %s %s:%d %s", name, m.Type, m.URL, m.Line+1, m.Text)
			}
		}
	})
	return tb
}

func (tb *tab) messages() []chromedp.ConsoleMessage {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.mu.console)
}

// problems are the console's uncaught exceptions and Content Security
// Policy refusals. Failed requests (a node that is down, one still
// starting) are the page's business to show, not errors of the page.
func (tb *tab) problems() []string {
	var out []string
	for _, m := range tb.messages() {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
		}
	}
	return out
}

func (tb *tab) open(t *testing.T, url string) {
	t.Helper()
	tb.do(t, chromedp.Navigate(url))
}

func (tb *tab) do(t *testing.T, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageBound)
	defer cancel()
	if err := chromedp.Do(ctx, a); err != nil {
		t.Fatalf("%s: %v", tb.name, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func (tb *tab) eval(t *testing.T, js string) any {
	t.Helper()
	return evalAs[any](t, tb, js)
}

func evalAs[T any](t *testing.T, tb *tab, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: evaluating %s: %v", tb.name, js, err)
	}
	return v
}

// waitFor retries check every pollEvery until it holds, for at most
// timeout; it fails the test with check's last word.
func (tb *tab) waitFor(t *testing.T, what string, timeout time.Duration, check func() (bool, string)) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for tries := 1; ; tries++ {
		ok, last := check()
		if ok {
			t.Logf("%s: %s (%v, %d checks)", tb.name, what, time.Since(start).Round(time.Millisecond), tries)
			return
		}
		if time.Now().After(deadline) {
			tb.screenshot(t, screenshotDir(t), "failed-"+tb.name+".png")
			t.Fatalf("%s: not %s after %v: %s", tb.name, what, timeout, last)
		}
		time.Sleep(pollEvery)
	}
}

// ringView is the ring as the page drew it.
type ringView struct {
	Arcs    int      `json:"arcs"`
	Owners  []string `json:"owners"` // distinct first owners, sorted
	Colours int      `json:"colours"`
}

func (tb *tab) ring(t *testing.T) ringView {
	t.Helper()
	return evalAs[ringView](t, tb, `(() => {
		const arcs = [...document.querySelectorAll('#ring [data-testid="ring-arc"]')];
		return {
			arcs: arcs.length,
			owners: [...new Set(arcs.map(a => a.dataset.owner).filter(Boolean))].sort(),
			colours: new Set(arcs.map(a => a.getAttribute("fill"))).size,
		};
	})()`)
}

// members maps each member row's node to its status.
func (tb *tab) members(t *testing.T) map[string]string {
	t.Helper()
	return evalAs[map[string]string](t, tb, `Object.fromEntries([...document.querySelectorAll('[data-testid="member-row"]')].map(r => [r.dataset.node, r.dataset.status]))`)
}

func (tb *tab) eventCount(t *testing.T) int {
	t.Helper()
	return evalAs[int](t, tb, `document.querySelectorAll('#events [data-testid="event"]').length`)
}

// eventKinds counts the listed events by kind.
func (tb *tab) eventKinds(t *testing.T) map[string]int {
	t.Helper()
	return evalAs[map[string]int](t, tb, `[...document.querySelectorAll('#events [data-testid="event"]')].reduce((m, e) => (m[e.dataset.kind] = (m[e.dataset.kind] || 0) + 1, m), {})`)
}

// handoffView is the page's "this node's work".
type handoffView struct {
	Rows      int    `json:"rows"`    // transfers in flight now
	Seen      int    `json:"seen"`    // seen in flight since the page opened
	Done      int    `json:"done"`    // of those, no longer running
	Told      int    `json:"told"`    // transfers the node's events told of
	Running   int    `json:"running"` // of those, not finished
	Pending   string `json:"pending"`
	Completed int    `json:"completed"`
}

func (tb *tab) handoff(t *testing.T) handoffView {
	t.Helper()
	return evalAs[handoffView](t, tb, `(() => {
		const s = document.getElementById("transfers-seen").dataset;
		const r = document.getElementById("recent-summary").dataset;
		return {
			told: Number(r.total || 0), running: Number(r.running || 0),
			rows: document.querySelectorAll('[data-testid="transfer-row"]').length,
			seen: Number(s.seen || 0), done: Number(s.done || 0),
			pending: document.getElementById("handoff-pending").textContent,
			completed: Number(document.getElementById("handoff-completed").dataset.value || 0),
		};
	})()`)
}

func (tb *tab) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("%s: screenshot %s: %v", tb.name, name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}
