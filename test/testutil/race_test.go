package testutil

import (
	"slices"
	"testing"
)

func TestSuppressedEnv_AddsTheFileToGORACE(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{
			name: "no GORACE",
			env:  []string{"HOME=/h"},
			want: []string{"HOME=/h", "GORACE=suppressions=/tmp/s", raceChildEnv + "=1"},
		},
		{
			name: "GORACE options kept before the file",
			env:  []string{"GORACE=halt_on_error=1 history_size=3", "PATH=/bin"},
			want: []string{"PATH=/bin", "GORACE=halt_on_error=1 history_size=3 suppressions=/tmp/s", raceChildEnv + "=1"},
		},
		{
			name: "empty GORACE",
			env:  []string{"GORACE="},
			want: []string{"GORACE=suppressions=/tmp/s", raceChildEnv + "=1"},
		},
		{
			name: "a stale mark is replaced",
			env:  []string{raceChildEnv + "=", "A=b"},
			want: []string{"A=b", "GORACE=suppressions=/tmp/s", raceChildEnv + "=1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suppressedEnv(tt.env, "/tmp/s"); !slices.Equal(got, tt.want) {
				t.Fatalf("suppressedEnv(%q) =\n%q\nwant\n%q", tt.env, got, tt.want)
			}
		})
	}
}
