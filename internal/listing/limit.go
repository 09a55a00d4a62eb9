package listing

import (
	"errors"
	"fmt"
	"strconv"
)

// DefaultLimit is a page's key count when the request names none, and
// MaxLimit the most a request may ask for: a page is held by the gateway
// one partition at a time, but a client waits for all of it.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// ErrBadLimit is the error of a limit that is not a whole number from 1 to
// MaxLimit.
var ErrBadLimit = errors.New("listing: bad limit")

// ParseLimit reads the limit query parameter: DefaultLimit when empty.
func ParseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fmt.Errorf("%w: %q, want a whole number from 1 to %d", ErrBadLimit, s, MaxLimit)
	}
	return n, nil
}
