package quorum

// ReadTargets returns the targets a read asks: the primaries only, in
// preference order. A fallback keeps hints for a down owner, not a readable
// replica of the partition, so asking it would count a copy that is not
// there; nor is a primary rebuilding after a data loss (WriteOnly) asked,
// for the same reason.
func ReadTargets(targets []Target) []Target {
	var owners []Target
	for _, t := range targets {
		if t.Primary && !t.WriteOnly {
			owners = append(owners, t)
		}
	}
	return owners
}
