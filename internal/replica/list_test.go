package replica

import (
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

func TestMachine_ListPages(t *testing.T) {
	r := newRig(t, false)
	for _, k := range []string{"a1", "a2", "a3", "b1", "b2", "c1"} {
		r.put(k, "v", nil, 0)
	}
	// a2 is deleted: its only sibling becomes a tombstone.
	put := r.put("a2", "v", nil, 0)
	r.do(r.m.Put("c", PutRequest{Key: []byte("a2"), Context: put.Object.Context, Value: dvv.Sibling{Tombstone: true}}, t0), true)

	for _, tc := range []struct {
		name, prefix, after string
		limit               int
		want                string
		done                bool
	}{
		{"everything live", "", "", 10, "a1 a3 b1 b2 c1 ", true},
		{"a limit", "", "", 2, "a1 a3 ", false},
		{"a page that ends on the last key is done", "a", "", 2, "a1 a3 ", true},
		{"after a key", "", "a3", 10, "b1 b2 c1 ", true},
		{"prefix", "b", "", 10, "b1 b2 ", true},
		{"prefix after a key", "b", "b1", 10, "b2 ", true},
		{"after a key before the prefix", "b", "a9", 10, "b1 b2 ", true},
		{"after the prefix", "b", "b9", 10, "", true},
		{"a prefix nothing has", "x", "", 10, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.do(r.m.List("l", []byte(tc.prefix), []byte(tc.after), tc.limit, false, time.Unix(0, 0)), false)[0]
			if got.Kind != ReplyList {
				t.Fatalf("reply %+v, want a list", got)
			}
			keys := ""
			for _, e := range got.Pull.Entries {
				keys += string(e.Key) + " "
				if !e.Object.IsEmpty() {
					t.Errorf("key %s came with an object though no values were asked", e.Key)
				}
			}
			if keys != tc.want || got.Pull.Done != tc.done {
				t.Errorf("page %q done=%t; want %q done=%t", keys, got.Pull.Done, tc.want, tc.done)
			}
		})
	}
	t.Run("values", func(t *testing.T) {
		got := r.do(r.m.List("l", []byte("c"), nil, 10, true, time.Unix(0, 0)), false)[0]
		if len(got.Pull.Entries) != 1 || len(got.Pull.Entries[0].Object.Live()) != 1 || string(got.Pull.Entries[0].Object.Live()[0].Value) != "v" {
			t.Errorf("page %+v, want c1 with its value", got.Pull.Entries)
		}
	})
	t.Run("values stop at ListMaxBytes", func(t *testing.T) {
		r := newRig(t, false)
		big := string(make([]byte, ListMaxBytes/2))
		for _, k := range []string{"x1", "x2", "x3"} {
			r.put(k, big, nil, 0)
		}
		got := r.do(r.m.List("l", nil, nil, 10, true, time.Unix(0, 0)), false)[0]
		if len(got.Pull.Entries) != 1 || got.Pull.Done {
			t.Fatalf("%d entries done=%t, want one half-MiB value (stored larger) and more", len(got.Pull.Entries), got.Pull.Done)
		}
		if got := r.do(r.m.List("l", nil, nil, 10, false, time.Unix(0, 0)), false)[0]; len(got.Pull.Entries) != 3 || !got.Pull.Done {
			t.Errorf("keys only: %d entries done=%t, want all 3", len(got.Pull.Entries), got.Pull.Done)
		}
	})
	t.Run("a bad limit", func(t *testing.T) {
		got := r.do(r.m.List("l", nil, nil, 0, false, time.Unix(0, 0)), false)[0]
		if got.Kind != ReplyError || got.Code != CodeBadRequest {
			t.Errorf("reply %+v, want bad request", got)
		}
	})
}

// TestMachine_ListSkipsExpired: a key whose value expired by the listing's
// clock is not listed, as a read would not return it; before its expiry
// it is.
func TestMachine_ListSkipsExpired(t *testing.T) {
	r := newRig(t, false)
	r.put("keep", "v", nil, 0)
	r.do(r.m.Put("c", PutRequest{Key: []byte("short"), Value: dvv.Sibling{Value: []byte("v")}, TTL: time.Minute}, t0), true)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(59 * time.Second), "keep short "},
		{t0.Add(time.Minute), "keep "},
	} {
		got := r.do(r.m.List("l", nil, nil, 10, false, tc.at), false)[0]
		keys := ""
		for _, e := range got.Pull.Entries {
			keys += string(e.Key) + " "
		}
		if keys != tc.want {
			t.Errorf("listed at %v: %q, want %q", tc.at.Sub(t0), keys, tc.want)
		}
	}
}
