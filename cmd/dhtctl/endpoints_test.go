package main

import (
	"net"
	"strings"
	"testing"
)

// closedAddr returns a base URL where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

func TestRun_SeveralAddrsFailOver(t *testing.T) {
	srv, _, c := newFake(t)
	mustPut(t, c, "k", "v", "")
	dead := closedAddr(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"comma-separated flag", nil, []string{"--addr", dead + "," + srv.URL}},
		{"repeated flag", nil, []string{"--addr", dead, "--addr", srv.URL}},
		{"environment", map[string]string{envAddr: dead + ", " + srv.URL}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, tt.env, "", append(tt.args, "get", "k")...)
			r.want(t, exitOK)
			if r.stdout != "v" {
				t.Fatalf("stdout = %q, want the value from the live node", r.stdout)
			}
		})
	}

	t.Run("all down", func(t *testing.T) {
		r := dhtctl(t, nil, "", "--addr", dead+","+closedAddr(t), "put", "k", "v")
		r.want(t, exitError)
		if !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "attempts") {
			t.Fatalf("stderr = %q, want the refusal and the attempts", r.stderr)
		}
	})
	t.Run("join takes one node", func(t *testing.T) {
		r := dhtctl(t, nil, "", "--addr", dead+","+srv.URL, "join")
		r.want(t, exitUsage)
		if !strings.Contains(r.stderr, "join is sent to the node that should join") {
			t.Fatalf("stderr = %q", r.stderr)
		}
	})
}
