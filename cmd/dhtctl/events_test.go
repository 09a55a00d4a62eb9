package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/client/clienttest"
	"github.com/dhtkv/dht/test/testutil"
)

var eventTime = time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)

// testEvents is a history of three events and a live part with a loss.
func testEvents(end bool) *clienttest.EventStream {
	return &clienttest.EventStream{
		Recent: []clienttest.Event{
			{Seq: 1, Time: eventTime, Node: "node-a", Kind: "member-join", Subject: "node-b", Detail: "10.0.0.2:7946"},
			{Seq: 2, Time: eventTime, Node: "node-a", Kind: "ring-change", Detail: "version 7"},
			{Seq: 3, Time: eventTime, Node: "node-a", Kind: "handoff-start", Subject: "node-b", Partition: new(uint32(12))},
		},
		Live: []clienttest.Event{
			{Seq: 4, Time: eventTime, Node: "node-a", Kind: "member-fail", Subject: "node-c"},
			{Kind: "dropped", Detail: "2"},
			{Seq: 7, Time: eventTime, Node: "node-a", Kind: "handoff-finish", Subject: "node-b", Partition: new(uint32(0)), Detail: "line one\nline two"},
		},
		End: end,
	}
}

const (
	recentLines = "2026-03-01T12:00:00.123Z  node-a  member-join     node-b  -  10.0.0.2:7946\n" +
		"2026-03-01T12:00:00.123Z  node-a  ring-change     -  -  version 7\n" +
		"2026-03-01T12:00:00.123Z  node-a  handoff-start   node-b  p12\n"
	liveLines = "2026-03-01T12:00:00.123Z  node-a  member-fail     node-c  -\n" +
		"2026-03-01T12:00:00.123Z  node-a  handoff-finish  node-b  p0  \"line one\\nline two\"\n"
	droppedWarning = "dhtctl: warning: 2 events lost: this stream fell behind the node (the gap in their seq numbers shows where)\n"
)

func TestEvents_Recent(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "history", args: []string{"events"}, want: recentLines},
		{name: "replay is implied", args: []string{"events", "--replay"}, want: recentLines},
		{name: "one kind", args: []string{"events", "--kind", "ring-change"}, want: "2026-03-01T12:00:00.123Z  node-a  ring-change     -  -  version 7\n"},
		{name: "kinds listed and repeated", args: []string{"events", "--kind", "ring-change,member-join", "--kind", "handoff-start"}, want: recentLines},
		{name: "kind with no events", args: []string{"events", "--kind", "ae-repair"}, want: ""},
	}
	srv, env, _ := newFake(t)
	// The stream would stay open if followed: events without --follow
	// must not follow it.
	srv.SetEvents(testEvents(false))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitOK)
			if r.stdout != tt.want {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.want)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
		})
	}
}

func TestEvents_JSON(t *testing.T) {
	srv, env, _ := newFake(t)
	srv.SetEvents(testEvents(false))
	r := dhtctl(t, env, "", "events", "--json", "--kind", "handoff-start,member-join")
	r.want(t, exitOK)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := []string{
		`{"seq":1,"time":"2026-03-01T12:00:00.123Z","node":"node-a","kind":"member-join","subject":"node-b","detail":"10.0.0.2:7946"}`,
		`{"seq":3,"time":"2026-03-01T12:00:00.123Z","node":"node-a","kind":"handoff-start","subject":"node-b","partition":12}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(lines), len(want), r.stdout)
	}
	// Compared as data: the fake encodes the wire format independently.
	for i := range want {
		var got, w any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, lines[i])
		}
		_ = json.Unmarshal([]byte(want[i]), &w)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("line %d = %s, want %s", i, lines[i], want[i])
		}
	}
}

// TestEvents_FollowUntilTheNodeEnds follows a stream the node ends, as it
// does when it shuts down: the events are printed, and the end is an error
// that says what to do.
func TestEvents_FollowUntilTheNodeEnds(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "live only", args: []string{"events", "--follow"}, want: liveLines},
		{name: "replay first", args: []string{"events", "-f", "--replay"}, want: recentLines + liveLines},
		{name: "one kind", args: []string{"events", "-f", "--replay", "--kind", "member-fail"}, want: "2026-03-01T12:00:00.123Z  node-a  member-fail     node-c  -\n"},
	}
	srv, env, _ := newFake(t)
	srv.SetEvents(testEvents(true))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitError)
			if r.stdout != tt.want {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.want)
			}
			wantErr := droppedWarning + "dhtctl: client: events: the node ended the stream; is it shutting down? Run the command again to reconnect (--replay fills the gap)\n"
			if r.stderr != wantErr {
				t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, wantErr)
			}
		})
	}
}

// TestEvents_FollowUntilInterrupted follows a stream that stays open, as a
// live node's does, and interrupts dhtctl once it printed everything: the
// interruption is the normal end, so the exit code is 0.
func TestEvents_FollowUntilInterrupted(t *testing.T) {
	srv, env, _ := newFake(t)
	srv.SetEvents(testEvents(false))
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	var stdout, stderr testutil.SyncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"events", "--follow"}, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	}()

	deadline := time.Now().Add(10 * time.Second)
	for stdout.String() != liveLines {
		select {
		case code := <-exit:
			t.Fatalf("dhtctl exited with %d before it was interrupted\nstdout: %q\nstderr: %q", code, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("stdout after 10s:\n%s\nwant:\n%s", stdout.String(), liveLines)
		}
	}
	interrupt()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("exit code %d after the interruption, want 0\nstderr: %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dhtctl still runs 10s after it was interrupted")
	}
	if got := stderr.String(); got != droppedWarning {
		t.Errorf("stderr = %q, want only the warning about lost events", got)
	}
}

func TestEvents_Errors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "unknown kind", args: []string{"events", "--kind", "member-joined"}, code: exitUsage,
			want: `dhtctl: --kind: unknown kind "member-joined"; kinds are member-join, member-leave,`},
		{name: "empty kind list", args: []string{"events", "--kind", ""}, code: exitUsage, want: "dhtctl: --kind must name at least one kind"},
		{name: "dropped is not a kind", args: []string{"events", "--kind", "dropped"}, code: exitUsage, want: `unknown kind "dropped"`},
		{name: "argument", args: []string{"events", "node-a"}, code: exitUsage, want: `unknown command "node-a"`},
		{name: "negative timeout when following", args: []string{"events", "-f", "--timeout", "-1s"}, code: exitUsage, want: "--timeout must not be negative"},
		{name: "no event bus", args: []string{"events"}, code: exitError, want: "dhtctl: dht: 503 unavailable: event stream not available"},
		{name: "no event bus when following", args: []string{"events", "-f"}, code: exitError, want: "dhtctl: dht: 503 unavailable: event stream not available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, env, _ := newFake(t)
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, tt.code)
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr = %q, want %q", r.stderr, tt.want)
			}
			if tt.code == exitUsage && len(srv.Requests()) != 0 {
				t.Errorf("a usage error sent %d requests", len(srv.Requests()))
			}
		})
	}
}

func TestEvents_AdminToken(t *testing.T) {
	srv, env, _ := newFake(t)
	srv.SetEvents(testEvents(true))
	srv.SetAdminToken("admin-s3cret")
	for _, args := range [][]string{{"events"}, {"events", "-f"}} {
		r := dhtctl(t, env, "", args...)
		r.want(t, exitError)
		if !strings.Contains(r.stderr, "401 unauthorized") || !strings.Contains(r.stderr, "--admin-token") {
			t.Errorf("%v: stderr = %q, want the 401 and how to pass the admin token", args, r.stderr)
		}
		r = dhtctl(t, env, "", append(args, "--admin-token", "admin-s3cret")...)
		if !strings.Contains(r.stdout, "member-") {
			t.Errorf("%v with the token: stdout = %q, want events", args, r.stdout)
		}
	}
}
