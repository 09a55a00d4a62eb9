package client

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinels for errors.Is. A *Error matches the one of its status, so a
// caller switches on what happened without parsing codes:
//
//	if errors.Is(err, client.ErrUnavailable) { /* try again later */ }
//
// They classify; the *Error itself (errors.AsType) still holds the status,
// the code and the server's message.
var (
	// ErrNotFound is a 404 that is an error: an unknown node for an admin
	// command, a missing key where the call does not report it as
	// Object.Found == false, or an address that is not a node's API. A Get
	// of a missing key is not an error.
	ErrNotFound = errors.New("client: not found")
	// ErrConflict is a 409: the request contradicts the state it met, such
	// as too many siblings for a write or force-removing a node that is
	// alive.
	ErrConflict = errors.New("client: conflict")
	// ErrPrecondition is a 412: a conditional request (If-Match,
	// If-None-Match) whose condition did not hold, so nothing was written.
	ErrPrecondition = errors.New("client: precondition failed")
	// ErrUnavailable is a 503 from a node (not enough replicas, a timeout),
	// or every endpoint failing to answer, after the retries the client's
	// RetryPolicy allowed. A write that fails this way may still be
	// applied when IsIndeterminate says so.
	ErrUnavailable = errors.New("client: unavailable")
)

// Is makes errors.Is(err, ErrNotFound) and its siblings true for the
// matching status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrPrecondition:
		return e.Status == http.StatusPreconditionFailed
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	}
	return false
}

// explanation returns the part of the message that Error prints after the
// status and code, with what they already say taken out. A node's message
// is often its error chain, which starts with the sentinel behind the code
// ("conflict: refused: node-b is alive" under code "conflict"), and a
// proxy's plain-text body repeats the status ("404 page not found"):
// printed whole, each would say the same thing twice.
func (e *Error) explanation() string {
	msg := strings.TrimSpace(e.Message)
	// A word is taken out only where it stands alone or before a colon,
	// as a prefix of the chain; the status number also before a space, as
	// Go's and most proxies' plain-text bodies put it.
	status := strconv.Itoa(e.Status)
	said := []string{status}
	if t := http.StatusText(e.Status); t != "" {
		said = append(said, t)
	}
	if e.Code != "" {
		said = append(said, e.Code, strings.ReplaceAll(e.Code, "_", " "))
	}
	for trimmed := true; trimmed; {
		trimmed = false
		for _, s := range said {
			rest, ok := cutPrefixFold(msg, s)
			if ok && (rest == "" || rest[0] == ':' || (s == status && rest[0] == ' ')) {
				msg = strings.TrimSpace(strings.TrimPrefix(rest, ":"))
				trimmed = true
			}
		}
	}
	if msg == "" && e.Code == "" {
		// The status alone, in words, rather than a bare number.
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	return msg
}

// cutPrefixFold is strings.CutPrefix, ignoring case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// retryError is the failure of a call after more than one attempt, or of
// one whose every attempt failed for want of an endpoint that answers. It
// reads as the last attempt's failure, followed by how many attempts were
// made and, when the caller's context ended the retries, why.
type retryError struct {
	last     error
	attempts int
	// stopped is the context's error when it ended the retries, else nil.
	stopped error
	// unavailable is set when every attempt failed without an answer that
	// is an error of its own (a refused connection, a 503): no endpoint
	// could serve the call.
	unavailable bool
}

func (e *retryError) Error() string {
	switch {
	case e.stopped != nil:
		return fmt.Sprintf("%v (stopped retrying after %s: %v)", e.last, plural(e.attempts, "attempt"), e.stopped)
	case e.attempts > 1:
		return fmt.Sprintf("%v (gave up after %s)", e.last, plural(e.attempts, "attempt"))
	}
	return e.last.Error()
}

func (e *retryError) Unwrap() []error {
	if e.stopped != nil {
		return []error{e.last, e.stopped}
	}
	return []error{e.last}
}

func (e *retryError) Is(target error) bool { return target == ErrUnavailable && e.unavailable }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// sleepCtx waits d or until ctx ends, whichever is first, and reports
// whether the whole wait passed.
func sleepCtx(ctx interface{ Done() <-chan struct{} }, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ErrPreconditionFailed is ErrPrecondition under the name the conditional
// write options were introduced with.
var ErrPreconditionFailed = ErrPrecondition
