package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

// result is what one dhtctl execution produced.
type result struct {
	code           int
	stdout, stderr string
}

// dhtctl runs the CLI in-process against env (which should usually set
// DHTCTL_ADDR) with stdin as its standard input.
func dhtctl(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr, func(k string) string { return env[k] })
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// newFake starts a fake node and returns it with the environment that points
// dhtctl at it and a client for setting up and checking state.
func newFake(t *testing.T) (*clienttest.Server, map[string]string, *client.Client) {
	t.Helper()
	srv := clienttest.NewServer("")
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, map[string]string{envAddr: srv.URL}, c
}

func mustPut(t *testing.T, c *client.Client, key, value, contentType string) {
	t.Helper()
	if _, err := c.Put(t.Context(), key, []byte(value), &client.WriteOptions{ContentType: contentType}); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

func (r result) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %q\nstderr: %q", r.code, code, r.stdout, r.stderr)
	}
}

func TestRun_UsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"get", "--bogus", "k"}, "unknown flag: --bogus"},
		{"bad flag value", []string{"get", "--r", "two", "k"}, `invalid argument "two"`},
		{"missing key", []string{"get"}, "missing KEY"},
		{"empty key", []string{"put", "", "v"}, "KEY must not be empty"},
		{"too many args", []string{"put", "k", "v", "extra"}, "too many arguments"},
		{"resolve without value", []string{"resolve", "k"}, `required flag(s) "value" not set`},
		{"bad addr", []string{"--addr", "ftp://node", "get", "k"}, "--addr"},
		{"negative timeout", []string{"--timeout", "-1s", "get", "k"}, "--timeout must not be negative"},
	}
	srv, env, _ := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dhtctl(t, env, "", tt.args...)
			r.want(t, exitUsage)
			if !strings.HasPrefix(r.stderr, "dhtctl: ") || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help") {
				t.Fatalf("stderr = %q, want dhtctl: ...%s... and a --help hint", r.stderr, tt.want)
			}
			if strings.Count(r.stderr, "dhtctl: ") != 1 {
				t.Errorf("error printed more than once: %q", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("usage errors sent %d requests", n)
	}
}

func TestRun_Help(t *testing.T) {
	env := map[string]string{envToken: "top-secret"}
	r := dhtctl(t, env, "", "--help")
	r.want(t, exitOK)
	for _, want := range []string{"Key-value commands:", "get", "put", "delete", "resolve", "--addr", "--timeout",
		"Setup commands:", "certs", "--cacert", "--cert", "--key", "$DHTCTL_CACERT"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "top-secret") {
		t.Error("help shows the token from the environment")
	}
}

func TestRun_AddrAndTokenFromEnvAndFlags(t *testing.T) {
	srv := clienttest.NewServer("s3cret")
	defer srv.Close()
	other := clienttest.NewServer("")
	defer other.Close()

	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"env addr and token", map[string]string{envAddr: srv.URL, envToken: "s3cret"}, nil, exitOK},
		{"flag token overrides env", map[string]string{envAddr: srv.URL, envToken: "wrong"}, []string{"--token", "s3cret"}, exitOK},
		{"empty flag token overrides env", map[string]string{envAddr: srv.URL, envToken: "s3cret"}, []string{"--token", ""}, exitError},
		{"flag addr overrides env", map[string]string{envAddr: other.URL, envToken: "s3cret"}, []string{"--addr", srv.URL}, exitOK},
		{"missing token", map[string]string{envAddr: srv.URL}, nil, exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "put", "k", "v")
			r := dhtctl(t, tt.env, "", args...)
			r.want(t, tt.code)
			if tt.code == exitError && !strings.Contains(r.stderr, "401 unauthorized") {
				t.Fatalf("stderr = %q, want the 401", r.stderr)
			}
		})
	}
}

func TestRun_Timeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	r := dhtctl(t, map[string]string{envAddr: srv.URL}, "", "--timeout", "50ms", "get", "k")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, context.DeadlineExceeded.Error()) {
		t.Fatalf("stderr = %q, want a deadline error", r.stderr)
	}
}

func TestRun_DefaultAddr(t *testing.T) {
	a := &app{getenv: func(string) string { return "" }}
	root := a.rootCmd()
	if got := root.PersistentFlags().Lookup("addr").DefValue; got != "["+defaultAddr+"]" {
		t.Fatalf("--addr default = %q, want %q", got, defaultAddr)
	}
	if got := root.PersistentFlags().Lookup("timeout").DefValue; got != defaultTimeout.String() {
		t.Fatalf("--timeout default = %q, want %q", got, defaultTimeout)
	}
}
