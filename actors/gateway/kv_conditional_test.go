package gateway_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// withHeaders returns h with the extra name/value pairs set.
func withHeaders(h http.Header, kv ...string) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// putIf writes value under key (no context) with the conditional header
// name set to etag.
func (n *testNode) putIf(tb testing.TB, key, value, name, etag string) response {
	tb.Helper()
	return n.do(tb, http.MethodPut, keyPath(key), withHeaders(http.Header{"Content-Type": {"text/plain"}}, name, etag), []byte(value))
}

// wantUnchanged fails unless key still reads as the answer before did:
// the same status, body and ETag.
func (n *testNode) wantUnchanged(tb testing.TB, key string, before response) {
	tb.Helper()
	after := n.get(tb, key)
	if after.status != before.status || string(after.body) != string(before.body) || after.header.Get("ETag") != before.header.Get("ETag") {
		tb.Fatalf("GET %q after a refused write = %d %q ETag %s, want it unchanged: %d %q ETag %s", key,
			after.status, after.body, after.header.Get("ETag"), before.status, before.body, before.header.Get("ETag"))
	}
}

// wantPreconditionFailed fails unless resp is a 412 with the JSON error body.
func wantPreconditionFailed(tb testing.TB, resp response) {
	tb.Helper()
	if resp.status != http.StatusPreconditionFailed {
		tb.Fatalf("answer = %d %q, want 412", resp.status, resp.body)
	}
	if e := decodeError(tb, resp); e.Code != "precondition_failed" {
		tb.Fatalf("412 code = %q, want precondition_failed", e.Code)
	}
}

// TestGateway_DeleteWithoutContextDeletes: a DELETE without a context reads
// the key first and deletes every sibling the read saw, so the next GET is
// a 404; a second one finds nothing live, answers 404 and writes nothing.
func TestGateway_DeleteWithoutContextDeletes(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	n.mustPut(t, "blind", "one", "")
	n.mustPut(t, "blind", "two", "") // two siblings: a blind write is concurrent

	del := n.del(t, "blind", "")
	if del.status != http.StatusNoContent {
		t.Fatalf("DELETE without a context = %d %q, want 204", del.status, del.body)
	}
	if got := del.header.Get("X-Dht-Siblings"); got != "0" {
		t.Errorf("DELETE X-Dht-Siblings = %q, want 0 (tombstones are not counted)", got)
	}
	get := n.get(t, "blind")
	if get.status != http.StatusNotFound {
		t.Fatalf("GET after a DELETE without a context = %d %q, want 404", get.status, get.body)
	}

	again := n.del(t, "blind", "")
	if again.status != http.StatusNotFound {
		t.Fatalf("second DELETE without a context = %d %q, want 404 (nothing live to delete)", again.status, again.body)
	}
	if e := decodeError(t, again); e.Code != "not_found" {
		t.Errorf("second DELETE code = %q, want not_found", e.Code)
	}
	if again.header.Get("X-Dht-Context") != get.header.Get("X-Dht-Context") || again.header.Get("ETag") != get.header.Get("ETag") {
		t.Errorf("second DELETE answered context %q ETag %s, want the key's unchanged %q %s (nothing written)",
			again.header.Get("X-Dht-Context"), again.header.Get("ETag"), get.header.Get("X-Dht-Context"), get.header.Get("ETag"))
	}
	n.wantUnchanged(t, "blind", get)

	if d := n.del(t, "never-written", ""); d.status != http.StatusNotFound {
		t.Errorf("DELETE of a key never written = %d %q, want 404", d.status, d.body)
	}
}

// TestGateway_SiblingsHeaderCountsLiveValues: tombstones are not counted. A
// blind PUT after a delete leaves one live value beside the tombstone, and
// says 1, as the GET that shows it with 200 does.
func TestGateway_SiblingsHeaderCountsLiveValues(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	ctx := n.mustPut(t, "reborn", "v1", "")
	if d := n.del(t, "reborn", ctx); d.status != http.StatusNoContent || d.header.Get("X-Dht-Siblings") != "0" {
		t.Fatalf("DELETE = %d X-Dht-Siblings %q, want 204 with 0", d.status, d.header.Get("X-Dht-Siblings"))
	}
	put := n.put(t, "reborn", "v2", "") // blind: the tombstone stays beside it
	if put.status != http.StatusNoContent || put.header.Get("X-Dht-Siblings") != "1" {
		t.Fatalf("blind PUT after a delete = %d X-Dht-Siblings %q, want 204 with 1", put.status, put.header.Get("X-Dht-Siblings"))
	}
	n.wantValue(t, "reborn", "v2")
}

// TestGateway_ETag: every answer that carries a context carries a strong
// ETag derived from it, the same for the same context (a write's answer,
// reads, a HEAD, a 404) and different once the key is written again.
func TestGateway_ETag(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	missing := n.get(t, "tagged")
	written := n.put(t, "tagged", "v1", missing.header.Get("X-Dht-Context"))
	tag := written.header.Get("ETag")
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.HasPrefix(tag, "W/") {
		t.Fatalf("PUT ETag = %q, want a strong quoted entity tag", tag)
	}
	if missing.header.Get("ETag") == "" || missing.header.Get("ETag") == tag {
		t.Errorf("404 ETag = %q, want one of its own (the empty context's), not %q", missing.header.Get("ETag"), tag)
	}
	for i := range 2 {
		if got := n.get(t, "tagged").header.Get("ETag"); got != tag {
			t.Fatalf("GET %d ETag = %q, want the write's %q", i, got, tag)
		}
	}
	if got := n.do(t, http.MethodHead, keyPath("tagged"), nil, nil).header.Get("ETag"); got != tag {
		t.Errorf("HEAD ETag = %q, want %q", got, tag)
	}
	next := n.put(t, "tagged", "v2", written.header.Get("X-Dht-Context"))
	if got := next.header.Get("ETag"); got == "" || got == tag {
		t.Errorf("ETag after another write = %q, want a new one (was %q)", got, tag)
	}
	if got := n.get(t, "tagged").header.Get("ETag"); got != next.header.Get("ETag") {
		t.Errorf("GET ETag = %q, want the latest write's %q", got, next.header.Get("ETag"))
	}
}

// TestGateway_IfNoneMatchStar creates a key only when it holds no live
// value: a second create is a 412 that changes nothing, and a deleted key
// may be created again (the create replaces its tombstone).
func TestGateway_IfNoneMatchStar(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	first := n.putIf(t, "once", "first", "If-None-Match", "*")
	if first.status != http.StatusNoContent || first.header.Get("X-Dht-Siblings") != "1" {
		t.Fatalf("create = %d %q siblings %q, want 204 with 1", first.status, first.body, first.header.Get("X-Dht-Siblings"))
	}
	before := n.wantValue(t, "once", "first")
	wantPreconditionFailed(t, n.putIf(t, "once", "second", "If-None-Match", "*"))
	n.wantUnchanged(t, "once", before)

	if d := n.del(t, "once", before.header.Get("X-Dht-Context")); d.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %q", d.status, d.body)
	}
	again := n.putIf(t, "once", "third", "If-None-Match", "*")
	if again.status != http.StatusNoContent || again.header.Get("X-Dht-Siblings") != "1" {
		t.Fatalf("create after a delete = %d %q siblings %q, want 204 with 1", again.status, again.body, again.header.Get("X-Dht-Siblings"))
	}
	n.wantValue(t, "once", "third")
}

// TestGateway_IfMatch writes (PUT or DELETE) only while the key's context
// is still the one whose ETag the client holds; a stale or foreign ETag is
// a 412 that changes nothing.
func TestGateway_IfMatch(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	n.mustPut(t, "cas", "v1", "")
	n.mustPut(t, "cas", "v1-concurrent", "") // two siblings
	read := n.get(t, "cas")
	stale := read.header.Get("ETag")

	// Without a context, the write replaces what the ETag named.
	ok := n.putIf(t, "cas", "v2", "If-Match", stale)
	if ok.status != http.StatusNoContent || ok.header.Get("X-Dht-Siblings") != "1" {
		t.Fatalf("PUT If-Match current = %d %q siblings %q, want 204 with 1", ok.status, ok.body, ok.header.Get("X-Dht-Siblings"))
	}
	current := n.wantValue(t, "cas", "v2")

	for _, tc := range []struct{ name, ifMatch string }{
		{"stale ETag", stale},
		{"weak form of the current ETag", "W/" + current.header.Get("ETag")},
		{"foreign ETag", `"not-ours"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantPreconditionFailed(t, n.putIf(t, "cas", "lost", "If-Match", tc.ifMatch))
			n.wantUnchanged(t, "cas", current)
			wantPreconditionFailed(t, n.do(t, http.MethodDelete, keyPath("cas"), http.Header{"If-Match": {tc.ifMatch}}, nil))
			n.wantUnchanged(t, "cas", current)
		})
	}

	// A list matches when any of its tags does.
	list := stale + `, ` + current.header.Get("ETag")
	del := n.do(t, http.MethodDelete, keyPath("cas"), http.Header{"If-Match": {list}}, nil)
	if del.status != http.StatusNoContent {
		t.Fatalf("DELETE If-Match current = %d %q, want 204", del.status, del.body)
	}
	if get := n.get(t, "cas"); get.status != http.StatusNotFound {
		t.Fatalf("GET after DELETE If-Match = %d %q, want 404", get.status, get.body)
	}
	// If-Match: * needs a live value.
	wantPreconditionFailed(t, n.putIf(t, "cas", "back", "If-Match", "*"))
}

// TestGateway_RacingIfMatch sends several writes with the same ETag at once:
// the key's coordinating replica tests each as it mints it, so exactly one
// succeeds and every other is a 412.
func TestGateway_RacingIfMatch(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	tag := n.put(t, "race", "v0", "").header.Get("ETag")
	const writers = 8
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			statuses[i] = n.putIf(t, "race", "writer-"+string(rune('a'+i)), "If-Match", tag).status
		})
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusNoContent:
			won++
		case http.StatusPreconditionFailed:
		default:
			t.Fatalf("statuses %v: want only 204 and 412", statuses)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d writes with the same ETag succeeded (%v), want exactly 1", won, writers, statuses)
	}
	if get := n.get(t, "race"); get.status != http.StatusOK {
		t.Fatalf("GET after the race = %d %q, want one value", get.status, get.body)
	}
}

// TestGateway_ConditionalGet answers 304 when If-None-Match names the key's
// ETag, and 412 when If-Match names another.
func TestGateway_ConditionalGet(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	tag := n.put(t, "cached", "v1", "").header.Get("ETag")
	nm := n.do(t, http.MethodGet, keyPath("cached"), http.Header{"If-None-Match": {tag}}, nil)
	if nm.status != http.StatusNotModified || len(nm.body) != 0 || nm.header.Get("ETag") != tag {
		t.Fatalf("GET If-None-Match current = %d %q ETag %q, want 304 without a body, ETag %q", nm.status, nm.body, nm.header.Get("ETag"), tag)
	}
	if get := n.do(t, http.MethodGet, keyPath("cached"), http.Header{"If-None-Match": {`"other"`}}, nil); get.status != http.StatusOK {
		t.Errorf("GET If-None-Match other = %d, want 200", get.status)
	}
	wantPreconditionFailed(t, n.do(t, http.MethodGet, keyPath("cached"), http.Header{"If-Match": {`"other"`}}, nil))
}

// TestGateway_Head answers as GET without the body: the same status and
// headers, for a value, for siblings and for a missing key.
func TestGateway_Head(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	n.mustPut(t, "one", "value", "")
	n.mustPut(t, "two", "a", "")
	n.mustPut(t, "two", "b", "")
	for _, key := range []string{"one", "two", "missing"} {
		t.Run(key, func(t *testing.T) {
			get := n.get(t, key)
			head := n.do(t, http.MethodHead, keyPath(key), nil, nil)
			if head.status != get.status || len(head.body) != 0 {
				t.Fatalf("HEAD = %d with %d body bytes, want GET's %d and none", head.status, len(head.body), get.status)
			}
			for _, h := range []string{"Content-Type", "Content-Length", "ETag", "X-Dht-Context", "Last-Modified"} {
				if head.header.Get(h) != get.header.Get(h) {
					t.Errorf("HEAD %s = %q, GET's = %q", h, head.header.Get(h), get.header.Get(h))
				}
			}
			if get.header.Get("Content-Length") == "" {
				t.Errorf("GET has no Content-Length")
			}
		})
	}
}
