package ring

import (
	"fmt"
	"testing"
)

// BenchmarkClaim times Claim over the history of S members joining one by
// one, and reports what adding the (S+1)th member moves: moved-replicas, and
// moved/ideal against the ideal N·Q/(S+1) (the design allows 1.25).
func BenchmarkClaim(b *testing.B) {
	const n = 3
	for _, zones := range []int{0, 3} {
		for _, q := range []int{256, 1024} {
			for _, s := range []int{3, 16, 100} {
				b.Run(fmt.Sprintf("zones=%d/q=%d/nodes=%d", zones, q, s), func(b *testing.B) {
					h := joins(s, zones)
					moved := Moved(Claim(q, n, h), Claim(q, n, joins(s+1, zones)))
					b.ReportAllocs()
					for b.Loop() {
						Claim(q, n, h)
					}
					b.ReportMetric(float64(moved), "moved-replicas")
					b.ReportMetric(float64(moved)/(float64(n*q)/float64(s+1)), "moved/ideal")
				})
			}
		}
	}
}

// BenchmarkState_Table is the work a node does on each ownership change:
// the history of a 100-member state with churn, then Claim.
func BenchmarkState_Table(b *testing.B) {
	var s State
	for i := range 110 {
		s = s.Join(member(i, 3))
	}
	for i := range 10 {
		s = s.Remove(member(i*7, 3).ID)
	}
	for b.Loop() {
		s.Table(1024, 3)
	}
}

// BenchmarkClaim_1000Nodes_Q4096 is issue 20's target size: the table of
// 1,000 members in 5 zones over 4,096 partitions, replayed from the history
// of their joins (the target is under 100 ms). It also reports what the
// 1,001st member's join moves against the ideal N·Q/(S+1).
func BenchmarkClaim_1000Nodes_Q4096(b *testing.B) {
	const n, q, s, zones = 3, 4096, 1000, 5
	h := joins(s, zones)
	moved := Moved(Claim(q, n, h), Claim(q, n, joins(s+1, zones)))
	b.ReportAllocs()
	for b.Loop() {
		Claim(q, n, h)
	}
	b.ReportMetric(float64(moved), "moved-replicas")
	b.ReportMetric(float64(moved)/(float64(n*q)/float64(s+1)), "moved/ideal")
}
