// Command dhtctl is the operator CLI of the store. It talks to any node over
// the node's HTTP API through package client.
//
// Usage:
//
//	dhtctl [--addr URL[,URL...]] [--token TOKEN] [--timeout 10s] [--cacert FILE] [--cert FILE --key FILE] COMMAND [ARGS]
//
// Key-value commands:
//
//	get KEY [--r N] [--pr N] [--json]   read a key, with all its siblings
//	put KEY [VALUE|-] [--context C] [--json]
//	                                    write a value (stdin when VALUE is - or omitted)
//	delete KEY [--context C] [--json]   delete a key
//	resolve KEY --value V|- [--json]    replace all current siblings with one value
//
// Cluster commands (admin API, token from --admin-token or
// $DHTCTL_ADMIN_TOKEN):
//
//	members [--json]                    every node, its status and replicas
//	ring [--summary|--node ID|--json]   the partition ring
//	status [--json]                     each node's hints and handoff, running transfers
//	events [-f] [--replay] [--kind K,K] [--json]
//	                                    recent cluster events, or follow them
//	join [--json]                       make the node at --addr an owner again
//	decommission NODE [--json]          hand NODE's replicas over, then retire it
//	force-remove NODE --yes [--json]    drop a node that is down for good (loses what only it held)
//	resize --partitions N [--json]      grow the ring to N partitions online (a split in place, then a small rebalance), or halve it
//
// Setup commands (local, talk to no node):
//
//	certs --dir DIR [--nodes ID,...] [--hosts H,...] [--client NAME] [--validity 8760h] [--force] [--json]
//	                                    a development CA (DIR/ca.crt, ca.key, reused when
//	                                    present) and a certificate per node and client
//	version [--json]                    the version, commit and Go version dhtctl was built from
//
// --addr defaults to $DHTCTL_ADDR, else http://127.0.0.1:8080. Several
// nodes of one cluster, comma-separated or with --addr repeated, make one
// client that fails over between them (package client's NewCluster: the
// next node on a refused connection or a 503, retries as its default
// RetryPolicy allows); join goes to exactly one node. --token defaults to
// $DHTCTL_TOKEN. A node serving HTTPS is given as https://; the
// CA its certificate chains to, when not one the system trusts, comes from
// --cacert ($DHTCTL_CACERT), and a client certificate for a node that
// requires one from --cert and --key ($DHTCTL_CERT, $DHTCTL_KEY). A failure
// that comes from the scheme or the TLS material (plain HTTP to an HTTPS
// port, an unknown CA, a missing client certificate) is printed with the
// flag that fixes it. Errors are printed once, as "dhtctl: <error>" on
// stderr.
//
// The output rule, the same for every command: stdout holds what the
// command reads (a key's value byte for byte, a table, events) or, with
// --json, one JSON document (events: one object per line) holding
// everything, contexts included; stderr holds the rest, each a line of its
// own: causal contexts ("context: TOKEN"), sibling counts, confirmations of
// ownership changes, warnings, and errors. get adds a newline after a value
// only when stdout is a terminal. Each command's --help gives its JSON
// shape. The exit code is 0 on success, 1 when a command fails (including a
// key that is not found) and 2 for a usage error.
//
// The code is laid out for growth: main.go only wires the process to run,
// root.go holds the global flags, exit codes, the list of command
// constructors and the set-up commands share (withKV, withAdmin: a client
// and a context bounded by --timeout), and each command group lives in a
// file of its own (kv.go, cluster.go, status.go, events.go, ops.go,
// certs.go, version.go); tls.go holds the advice on TLS failures. A new
// group adds a file and one line to that list.
package main
