package node

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/resolve"
)

// resolvers builds the selector of server-side resolvers from the
// resolution section and the resolvers the embedding program registered,
// and warns about the lossy ones in use. Errors name the config key at
// fault, or node.Options.Resolvers.
func resolvers(cfg config.Config, custom map[string]resolve.Resolver, logger *slog.Logger) (*resolve.Selector, error) {
	buckets, err := cfg.ResolutionBuckets()
	if err != nil { // Validate has reported it already; keep the key anyway
		return nil, fmt.Errorf("resolution.buckets: %w", err)
	}
	sel, err := resolve.NewSelector(resolve.Config{
		Default: cfg.Resolution.Default, Buckets: buckets, Custom: custom,
		Limits: resolve.Limits{MaxValueBytes: cfg.Limits.MaxValueBytes},
	})
	if err != nil {
		return nil, namedResolverErrors(err)
	}
	for _, u := range sel.Lossy() {
		where := quoted(u.Buckets)
		if u.Default {
			where = append(where, "(default: every key in no other bucket)")
		}
		logger.Warn("lossy conflict resolution: of concurrent writes to these keys only one is kept, the others are dropped",
			"resolver", u.Name, "buckets", strings.Join(where, ", "), "on_write", cfg.Resolution.OnWrite)
	}
	return sel, nil
}

func quoted(s []string) []string {
	out := make([]string, len(s))
	for i, b := range s {
		out[i] = fmt.Sprintf("%q", b)
	}
	return out
}

// namedResolverErrors prefixes each of NewSelector's joined errors with
// the config key, or the Go option, it is about.
func namedResolverErrors(err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		var unknown *resolve.UnknownError
		switch {
		case errors.As(e, &unknown) && unknown.Bucket == "":
			out[i] = fmt.Errorf("resolution.default: %w", e)
		case errors.As(e, &unknown):
			out[i] = fmt.Errorf("resolution.buckets: %w", e)
		default:
			out[i] = fmt.Errorf("node.Options.Resolvers: %w", e)
		}
	}
	return errors.Join(out...)
}
