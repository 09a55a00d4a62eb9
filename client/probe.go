package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Ready asks the readiness probe (GET /readyz) of the client's first
// endpoint: nil when that node serves requests (it has the cluster's ring,
// has checked its data against it, and its live peers announce the same
// ring), else an error that carries the node's reason. It is one question
// to one node, as a container healthcheck or a script waiting for a fresh
// cluster asks it: no failover to another node, no retry.
func (c *Client) Ready(ctx context.Context) error {
	resp, _, err := c.attempt(ctx, call{what: "readiness", method: http.MethodGet, path: "/readyz", idempotent: true}, c.endpoints[0])
	if err != nil {
		if e, ok := err.(*Error); ok {
			return notReady(e.Status, e.Message)
		}
		return err
	}
	defer closeBody(resp)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := readAll(resp.Body)
	return notReady(resp.StatusCode, string(body))
}

func notReady(status int, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = http.StatusText(status)
	}
	return fmt.Errorf("client: not ready (%d): %s", status, reason)
}
