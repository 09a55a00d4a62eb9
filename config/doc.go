// Package config loads and validates a node's configuration.
//
// The package owns the set of config keys, their defaults and their valid
// ranges. Everything else reads a Config value: nothing outside this package
// looks at config.yaml, DHT_ variables or config flags.
//
// # Layers
//
// Load layers four sources, each overriding the one before:
//
//  1. Default(), the built-in values;
//  2. the YAML file named by --config (config.yaml at the repository root
//     documents every key with its default, and a test keeps the two
//     equal);
//  3. environment variables: DHT_ and the key upper-cased with dots as
//     underscores, e.g. DHT_STORAGE_SYNC_WRITES=true for storage.sync_writes;
//  4. command-line flags named by the dotted key, e.g.
//     --storage.sync_writes, of which only those the user set override.
//
// Durations use Go syntax ("5s", "2m"); sizes are plain integers of bytes.
// An unknown key or a value of the wrong type in the file, the environment
// or the flags is an error naming the source and the key. An unknown DHT_
// variable is only a warning, because Kubernetes injects variables such as
// DHT_SERVICE_HOST for a service named dht.
//
// Typical use, in cmd/dhtd:
//
//	fs := pflag.NewFlagSet("dhtd", pflag.ContinueOnError)
//	config.RegisterFlags(fs)
//	if err := fs.Parse(os.Args[1:]); err != nil { … }
//	cfg, warnings, err := config.Load(fs, os.Environ())
//	for _, w := range warnings {
//		logger.Warn(w)
//	}
//	if err != nil {
//		// One line per problem, each starting with the key at fault.
//	}
//
// # Concurrency
//
// Load and RegisterFlags are meant for start-up, from one goroutine; Load
// reads the FlagSet, which pflag does not guard. A Config is a plain value
// with no references, safe to copy and to share for reading.
package config
