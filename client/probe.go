package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Ready asks the node's readiness probe (GET /readyz): nil when the node
// serves requests (it has the cluster's ring, has checked its data against
// it, and its live peers announce the same ring), else an error that
// carries the node's reason. It is what a container healthcheck or a
// script waiting for a fresh cluster runs.
func (c *Client) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.urlFor("/readyz", ""), nil)
	if err != nil {
		return fmt.Errorf("client: readiness: %w", err)
	}
	resp, err := c.send(req)
	if err != nil {
		return fmt.Errorf("client: readiness: %w", err)
	}
	defer closeBody(resp)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := readAll(resp.Body)
	reason := strings.TrimSpace(string(body))
	if reason == "" {
		reason = http.StatusText(resp.StatusCode)
	}
	return fmt.Errorf("client: not ready (%d): %s", resp.StatusCode, reason)
}
