// Command dhtctl is the operator CLI of the store. It talks to any node over
// the node's HTTP API through package client.
//
// Usage:
//
//	dhtctl [--addr URL] [--token TOKEN] [--timeout 10s] COMMAND [ARGS]
//
// Key-value commands:
//
//	get KEY [--r N] [--pr N] [--json]   read a key, with all its siblings
//	put KEY [VALUE|-] [--context C]     write a value (stdin when VALUE is - or omitted)
//	delete KEY [--context C]            delete a key
//	resolve KEY --value V|-             replace all current siblings with one value
//
// --addr defaults to $DHTCTL_ADDR, else http://127.0.0.1:8080; --token
// defaults to $DHTCTL_TOKEN. Errors are printed once, as "dhtctl: <error>" on
// stderr. The exit code is 0 on success, 1 when a command fails (including a
// key that is not found) and 2 for a usage error.
//
// The code is laid out for growth: main.go only wires the process to run,
// root.go holds the global flags, exit codes and the list of command
// constructors, and each command group lives in a file of its own (kv.go for
// the commands above). A new group adds a file and one line to that list.
package main
