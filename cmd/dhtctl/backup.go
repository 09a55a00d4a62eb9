package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/persistence"
)

// backupCmd streams a backup of one node's stored objects into a file.
func (a *app) backupCmd() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "backup NODE --out FILE",
		GroupID: groupCluster,
		Short:   "Save a consistent snapshot of one node's data to a file",
		Long: `Stream a backup of NODE's stored objects (a consistent snapshot of its
storage engine, without its metadata or hints) into FILE. Any node at --addr
finds NODE's address; the backup then comes from NODE itself. FILE is
written beside its final name and renamed into place once the whole backup,
with its checksum, has arrived.

Restore it with 'dhtd --restore FILE' on an empty node.data_dir: the node
starts with a new epoch and is sent by its peers what changed since the
backup (docs/operations.md). The command runs until the backup is complete;
--timeout bounds it only when given.`,
		Args: nodeArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			node := args[0]
			if out == "" {
				return usageErrorf("--out FILE is required")
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			if cmd.Flags().Changed("timeout") && a.timeout > 0 {
				ctx, cancel = context.WithTimeout(cmd.Context(), a.timeout)
			}
			defer cancel()
			via, err := a.adminClient(cmd)
			if err != nil {
				return err
			}
			members, err := via.Members(ctx)
			if err != nil {
				return a.adminFailed(a.tlsFailed(err))
			}
			var addr string
			for _, m := range members {
				if m.ID == node {
					addr = m.HTTPAddr
				}
			}
			if addr == "" {
				return fmt.Errorf("%s is not a member of the cluster, or its HTTP address is unknown; 'dhtctl members' lists the nodes", node)
			}
			base, err := url.Parse(splitAddrs(a.addrText())[0])
			if err != nil {
				return usageErrorf("--addr: %v", err)
			}
			target := base.Scheme + "://" + addr
			tlsOpts, err := a.tlsOptions()
			if err != nil {
				return err
			}
			c, err := client.New(target, append([]client.Option{client.WithAdminToken(adminTokenOf(cmd, a))}, tlsOpts...)...)
			if err != nil {
				return err
			}
			begin := time.Now()
			tmp := out + ".partial"
			f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			n, err := c.Backup(ctx, f)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = checkBackupFile(tmp, node)
			}
			if err != nil {
				_ = os.Remove(tmp)
				return a.adminFailed(a.tlsFailed(fmt.Errorf("backup of %s: %w", node, err)))
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			if d, err := os.Open(filepath.Dir(out)); err == nil {
				_ = d.Sync()
				_ = d.Close()
			}
			took := time.Since(begin).Round(time.Millisecond)
			if asJSON {
				return encodeIndented(cmd.OutOrStdout(), struct {
					Node    string  `json:"node"`
					File    string  `json:"file"`
					Bytes   int64   `json:"bytes"`
					Seconds float64 `json:"seconds"`
				}{node, out, n, took.Seconds()})
			}
			return printLine(cmd.ErrOrStderr(), "backup of %s: %d bytes to %s in %v; restore with 'dhtd --restore %s' on an empty node.data_dir", node, n, out, took, out)
		},
	}
	addAdminTokenFlag(cmd)
	cmd.Flags().StringVar(&out, "out", "", "`FILE` to write the backup to")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node, file, size and duration as JSON on stdout")
	return cmd
}

// checkBackupFile reads the backup at path back, checksum included, so
// that a file renamed into place is one a restore takes.
func checkBackupFile(path, node string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h, _, err := persistence.VerifyBackup(f)
	if err != nil {
		return err
	}
	if h.Node != node {
		b, _ := json.Marshal(h)
		return fmt.Errorf("the backup received is of another node: %s", b)
	}
	return nil
}
