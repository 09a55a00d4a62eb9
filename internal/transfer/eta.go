package transfer

import "time"

// estimator estimates the time left of the handoff work: the keys left of
// the running transfers plus, for each waiting partition, the mean size of
// the ones seen, at the recent rate of keys moved.
type estimator struct {
	rate      float64 // moving average of keys moved per second
	lastMoved int64
	lastTick  time.Time
	avgKeys   float64 // moving average of a partition's key count
}

// update records that moved keys had been moved by now, and returns the
// estimate in seconds, 0 when idle or unknown.
func (e *estimator) update(now time.Time, moved int64, active []Progress, pending, draining int) float64 {
	if !e.lastTick.IsZero() {
		if dt := now.Sub(e.lastTick).Seconds(); dt > 0 {
			instant := float64(moved-e.lastMoved) / dt
			e.rate = 0.7*e.rate + 0.3*instant
		}
	}
	e.lastMoved, e.lastTick = moved, now

	var left float64
	for _, t := range active {
		if t.TotalKeys > 0 {
			e.avgKeys = 0.8*e.avgKeys + 0.2*float64(t.TotalKeys)
			left += float64(max(t.TotalKeys-t.Keys, 0))
		}
	}
	waiting := max(pending+draining-len(active), 0)
	left += float64(waiting) * e.avgKeys
	// Below half a key a second the rate says nothing.
	if e.rate > 0.5 && left > 0 {
		return left / e.rate
	}
	return 0
}
