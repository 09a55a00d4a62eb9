package client

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"syscall"
	"testing"
)

// TestConnectionLost: the ways a connection that a TLS 1.3 node ended over
// a missing client certificate shows under a request, HTTP/2's words
// included (a request handed to the connection as the node's alert ended
// its read loop fails with "client conn is closed"), are a lost
// connection; an error that is not one (a refused dial, a timeout) is not.
func TestConnectionLost(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Put", URL: "https://n1/v1/kv/k", Err: err} }
	for _, tc := range []struct {
		err  error
		lost bool
	}{
		{wrap(io.EOF), true},
		{wrap(io.ErrUnexpectedEOF), true},
		{wrap(syscall.EPIPE), true},
		{wrap(syscall.ECONNRESET), true},
		{wrap(errors.New("http2: client conn could not be established")), true},
		{wrap(errors.New("http2: client conn is closed")), true},
		{wrap(fmt.Errorf("reading: %w", errors.New("http2: client connection lost"))), true},
		{wrap(syscall.ECONNREFUSED), false},
		{wrap(errors.New("context deadline exceeded")), false},
	} {
		if got := connectionLost(tc.err); got != tc.lost {
			t.Errorf("connectionLost(%v) = %v, want %v", tc.err, got, tc.lost)
		}
	}
}
