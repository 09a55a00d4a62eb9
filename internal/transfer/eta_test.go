package transfer

import (
	"math"
	"testing"
	"time"
)

func TestEstimator_Behavior(t *testing.T) {
	type step struct {
		after             time.Duration
		moved             int64
		active            []Progress
		pending, draining int
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  float64
	}{
		{"the first tick has no rate", []step{{0, 100, []Progress{{TotalKeys: 1000, Keys: 100}}, 1, 0}}, 0},
		{"idle", []step{{0, 0, nil, 0, 0}, {time.Second, 0, nil, 0, 0}}, 0},
		{
			// rate 0.3×100 = 30 keys/s; left 900 of the running one.
			"keys left of the running transfer at the recent rate",
			[]step{{0, 0, []Progress{{TotalKeys: 1000}}, 1, 0}, {time.Second, 100, []Progress{{TotalKeys: 1000, Keys: 100}}, 1, 0}},
			900 / 30.0,
		},
		{
			// avgKeys 0.2×1000 = 200, then 0.8×200 + 0.2×1000 = 360; left
			// 900 + one waiting partition of 360.
			"waiting partitions count at the mean size seen",
			[]step{{0, 0, []Progress{{TotalKeys: 1000}}, 2, 0}, {time.Second, 100, []Progress{{TotalKeys: 1000, Keys: 100}}, 1, 1}},
			(900 + 360) / 30.0,
		},
		{
			"below half a key a second the rate says nothing",
			[]step{{0, 0, []Progress{{TotalKeys: 1000}}, 1, 0}, {time.Second, 1, []Progress{{TotalKeys: 1000, Keys: 1}}, 1, 0}},
			0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e estimator
			var got float64
			for _, s := range tc.steps {
				got = e.update(epoch.Add(s.after), s.moved, s.active, s.pending, s.draining)
			}
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("eta = %v, want %v", got, tc.want)
			}
		})
	}
}
