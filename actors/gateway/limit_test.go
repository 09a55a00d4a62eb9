package gateway

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestLimitListener_Slots checks the bookkeeping of the connection bound:
// a slot is freed once per connection however often it is closed, and
// Close releases an Accept that waits for a slot.
func TestLimitListener_Slots(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(inner, 2)
	defer l.Close()
	dial := func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	accept := func() net.Conn {
		dial()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := accept(), accept()
	// Closing a twice frees one slot, not two: after one more Accept the
	// bound is reached again.
	_ = a.Close()
	_ = a.Close()
	if n := len(l.sem); n != 1 {
		t.Fatalf("%d slots taken after closing one of two connections twice, want 1", n)
	}
	c := accept()
	if n := len(l.sem); n != 2 {
		t.Fatalf("%d slots taken, want 2", n)
	}

	// A full listener's Accept waits, and returns when the listener closes.
	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		accepted <- err
	}()
	waitUntil(t, func() bool { return l.waiting.Load() == 1 })
	_ = l.Close()
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("waiting Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(streamBound):
		t.Fatal("Close did not release the waiting Accept")
	}
	_, _ = b.Close(), c.Close()
	if n := len(l.sem); n != 0 {
		t.Fatalf("%d slots taken after every connection closed, want 0", n)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener with free slots = %v, want net.ErrClosed", err)
	}
}
