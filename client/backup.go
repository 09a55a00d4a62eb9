package client

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/dhtkv/dht/api"
)

// Backup streams a backup of the stored objects of the client's first
// node (GET /admin/backup, admin token) into w and returns its size. The
// backup is of that node, so the call never fails over to another. A
// stream cut short is an error, and what reached w holds no checksum, so
// no restore takes it. Give ctx room: a node's whole data crosses.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.roundTrip(ctx, call{what: "backup", method: http.MethodGet, path: api.BackupPath,
		token: c.adminToken(), idempotent: true, firstOnly: true})
	if err != nil {
		return 0, err
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		return 0, decodeError(resp, false)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("client: backup: the stream broke after %d bytes: %w", n, err)
	}
	return n, nil
}
