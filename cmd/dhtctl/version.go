package main

import (
	"github.com/spf13/cobra"

	"github.com/dhtkv/dht/buildinfo"
)

// versionCmd prints what this dhtctl was built from. It talks to no node:
// a node's own build shows in its dht_build_info metric (dhtd --version on
// its machine).
func (a *app) versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "version",
		GroupID: groupSetup,
		Short:   "Print the version dhtctl was built from",
		Long: `Print dhtctl's version, the commit it was built from and the Go version:
"dhtctl v1.2.3 (commit 0123456789ab, go1.26.8)". With --json:
{"version":"v1.2.3","commit":"<40 hex digits>[-dirty]","go_version":"go1.26.8"}.
What the build did not record reads "unknown". It talks to no node; a node's
build shows in its dht_build_info metric and with dhtd --version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Read()
			if asJSON {
				return encodeIndented(cmd.OutOrStdout(), info)
			}
			return printLine(cmd.OutOrStdout(), "dhtctl %s", info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}
