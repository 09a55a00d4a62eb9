package dvv

import (
	"slices"
	"testing"
	"time"
)

// ms is a clock reading in Unix milliseconds, for the tables below.
func ms(n int64) time.Time { return time.UnixMilli(n) }

func ttlVal(s string, ts, expires int64) Sibling {
	return Sibling{Value: []byte(s), ContentType: "text/plain", Timestamp: ts, ExpiresAt: expires}
}

func TestSet_At(t *testing.T) {
	const a, b = Actor(1), Actor(2)
	perishable := mustUpdate(t, Set{}, nil, ttlVal("x", 10, 100), Dot{a, 1})
	forever := mustUpdate(t, Set{}, nil, ttlVal("x", 10, 0), Dot{a, 1})
	// Two concurrent writes with different TTLs, and one without.
	short := mustUpdate(t, Set{}, nil, ttlVal("short", 10, 100), Dot{a, 1})
	long := mustUpdate(t, Set{}, nil, ttlVal("long", 10, 200), Dot{b, 1})
	never := mustUpdate(t, Set{}, nil, ttlVal("never", 10, 0), Dot{3, 1})
	concurrent := Merge(Merge(short, long), never)
	tests := []struct {
		name        string
		set         Set
		now         int64
		live        []string
		deleted     bool
		expires     int64 // Perishable's answer; 0 for none
		dropExpired []string
	}{
		{"before expiry", perishable, 99, []string{"x"}, false, 100, []string{"x"}},
		{"at the expiry instant", perishable, 100, nil, true, 0, nil},
		{"after expiry", perishable, 5000, nil, true, 0, nil},
		{"no ttl never expires", forever, 1 << 50, []string{"x"}, false, 0, []string{"x"}},
		{"concurrent ttls, none expired", concurrent, 50, []string{"long", "never", "short"}, false, 100, []string{"long", "never", "short"}},
		{"concurrent ttls, the shorter expired", concurrent, 150, []string{"long", "never"}, false, 200, []string{"long", "never"}},
		{"concurrent ttls, both expired", concurrent, 250, []string{"never"}, false, 0, []string{"never"}},
		{"empty", Set{}, 100, nil, false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.set.At(ms(tt.now))
			if got := liveValues(at); !slices.Equal(got, tt.live) {
				t.Fatalf("live at %d = %q, want %q", tt.now, got, tt.live)
			}
			if at.IsDeleted() != tt.deleted {
				t.Fatalf("IsDeleted = %v, want %v", at.IsDeleted(), tt.deleted)
			}
			if len(at.Siblings) != len(tt.set.Siblings) || !slices.Equal(at.Context, tt.set.Context) {
				t.Fatalf("At changed the dots or the context: %+v -> %+v", tt.set, at)
			}
			if err := at.Validate(); err != nil {
				t.Fatalf("At made an invalid set: %v", err)
			}
			exp, ok := at.Perishable()
			if exp != tt.expires || ok != (tt.expires != 0) {
				t.Fatalf("Perishable = %d, %v; want %d", exp, ok, tt.expires)
			}
			without := tt.set.WithoutExpired(ms(tt.now))
			if got := liveValues(without); !slices.Equal(got, tt.dropExpired) {
				t.Fatalf("WithoutExpired live = %q, want %q", got, tt.dropExpired)
			}
			if len(without.Live()) != len(without.Siblings) {
				t.Fatalf("WithoutExpired kept a dead sibling: %+v", without)
			}
			if !slices.Equal(without.Context, tt.set.Context) {
				t.Fatalf("WithoutExpired changed the context")
			}
		})
	}
}

func TestSet_AtDoesNotAlias(t *testing.T) {
	s := mustUpdate(t, Set{}, nil, ttlVal("x", 10, 100), Dot{1, 1})
	_ = s.At(ms(200))
	if s.Siblings[0].Tombstone || string(s.Siblings[0].Value) != "x" {
		t.Fatalf("At changed its receiver: %+v", s)
	}
}

// An expired value never comes back, whatever copy it meets: the merges of
// replication, read repair, hinted handoff and anti-entropy all are Merge.
func TestMerge_ExpiredStaysDead(t *testing.T) {
	const a, b = Actor(1), Actor(2)
	old := mustUpdate(t, Set{}, nil, ttlVal("old", 10, 0), Dot{a, 1})
	// A write over old with a TTL; a replica that missed it keeps old.
	perishable := mustUpdate(t, old, old.Context, ttlVal("new", 20, 100), Dot{b, 1})
	tests := []struct {
		name string
		a, b Set
	}{
		{"expired copy meets an older unexpired copy", perishable, old},
		{"expired copy read as tombstones meets the older copy", perishable.At(ms(200)), old},
		{"expired copy meets itself read as tombstones", perishable, perishable.At(ms(200))},
		{"copy without the expired values meets the older copy", perishable.WithoutExpired(ms(200)), old},
		{"copy without the expired values meets the expired copy", perishable.WithoutExpired(ms(200)), perishable},
		{"hinted old copy replayed into the expired copy", perishable, Merge(old, Set{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, m := range []Set{Merge(tt.a, tt.b), Merge(tt.b, tt.a)} {
				if live := m.At(ms(200)).Live(); len(live) != 0 {
					t.Fatalf("merge at 200 has live values %+v", live)
				}
				if live := liveValues(m.At(ms(50))); len(live) > 1 || (len(live) == 1 && live[0] != "new") {
					t.Fatalf("merge before expiry reads %q; the old value came back", live)
				}
			}
		})
	}
	// Merge of two copies of the same TTL'd write is the write: every
	// replica holds the same expiry, so anti-entropy finds them equal.
	if m := Merge(perishable, perishable); !m.Equal(perishable) {
		t.Fatalf("merge of equal copies changed the set: %+v", m)
	}
}

func TestMerge_SameDotDifferentExpiryIsDeterministic(t *testing.T) {
	d := Dot{1, 1}
	mk := func(exp int64) Set {
		return Set{Context: NewVersionVector(d), Siblings: []Sibling{{Dot: d, Value: []byte("v"), ExpiresAt: exp}}}
	}
	for _, pair := range [][2]int64{{0, 100}, {100, 200}, {200, 0}} {
		a, b := mk(pair[0]), mk(pair[1])
		ab, ba := Merge(a, b), Merge(b, a)
		if !ab.Equal(ba) {
			t.Fatalf("Merge(%d,%d)=%+v but reversed %+v", pair[0], pair[1], ab, ba)
		}
		want := min(pair[0], pair[1])
		if want == 0 {
			want = max(pair[0], pair[1])
		}
		if got := ab.Siblings[0].ExpiresAt; got != want {
			t.Fatalf("Merge(%d,%d) kept expiry %d, want the earlier %d", pair[0], pair[1], got, want)
		}
	}
}

func TestReapable_Expired(t *testing.T) {
	const a, b = Actor(1), Actor(2)
	expired := mustUpdate(t, Set{}, nil, ttlVal("x", 10, 100), Dot{a, 1})
	forever := mustUpdate(t, Set{}, nil, ttlVal("x", 10, 0), Dot{a, 1})
	mixed := Merge(expired, mustUpdate(t, Set{}, nil, Sibling{Tombstone: true, Timestamp: 50}, Dot{b, 1}))
	withLive := Merge(expired, mustUpdate(t, Set{}, nil, ttlVal("y", 10, 0), Dot{b, 1}))
	tests := []struct {
		name   string
		copies []Set
		cutoff int64
		ok     bool
	}{
		{"expired before the cutoff on every primary", []Set{expired, expired, expired}, 101, true},
		{"expiry within the grace period", []Set{expired, expired, expired}, 100, false},
		{"written long ago but not yet expired", []Set{expired, expired, expired}, 50, false},
		{"a value without a ttl", []Set{forever, forever, forever}, 1 << 50, false},
		{"an expired value beside an old tombstone", []Set{mixed, mixed, mixed}, 101, true},
		{"an expired value beside a live one", []Set{withLive, withLive, withLive}, 1 << 50, false},
		{"a primary lacks the expired value", []Set{expired, expired, {}}, 101, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Reapable(tt.copies, len(tt.copies), tt.cutoff); got != tt.ok {
				t.Fatalf("Reapable = %v, want %v", got, tt.ok)
			}
		})
	}
}
