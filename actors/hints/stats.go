package hints

import "sync"

// Stats is a read-only view of a hint queue for the admin API, updated by
// the queue actor. Safe for concurrent use.
type Stats struct {
	mu struct {
		sync.Mutex
		pending map[string]int
		bytes   int64
	}
}

// Pending returns the hints kept per target node, and their total bytes.
func (s *Stats) Pending() (map[string]int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.mu.pending))
	for k, v := range s.mu.pending {
		if v > 0 {
			out[k] = v
		}
	}
	return out, s.mu.bytes
}

func (s *Stats) set(target string, count int, total int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.pending == nil {
		s.mu.pending = map[string]int{}
	}
	s.mu.pending[target] = count
	s.mu.bytes = total
}
