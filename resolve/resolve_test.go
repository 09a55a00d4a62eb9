package resolve

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func sib(value string, ms int64) Sibling {
	return Sibling{Value: []byte(value), ContentType: "text/plain", Timestamp: time.UnixMilli(ms)}
}

// lwwReference is the deliberately simple model of last-write-wins: sort by
// the total order and take the last.
func lwwReference(sibs []Sibling) Sibling {
	sorted := slices.Clone(sibs)
	slices.SortFunc(sorted, func(a, b Sibling) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Value), string(b.Value)); c != 0 {
			return c
		}
		return strings.Compare(a.ContentType, b.ContentType)
	})
	return sorted[len(sorted)-1]
}

func TestLastWriteWins_PicksLatest(t *testing.T) {
	tests := []struct {
		name string
		sibs []Sibling
	}{
		{"latest timestamp", []Sibling{sib("old", 10), sib("new", 20)}},
		{"latest first", []Sibling{sib("new", 20), sib("old", 10)}},
		{"tie broken by value", []Sibling{sib("a", 10), sib("b", 10)}},
		{"tie broken by content type", []Sibling{{Value: []byte("x"), ContentType: "a/b", Timestamp: time.UnixMilli(5)}, {Value: []byte("x"), ContentType: "a/c", Timestamp: time.UnixMilli(5)}}},
		{"three", []Sibling{sib("a", 3), sib("c", 7), sib("b", 5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := LastWriteWins{}.Resolve([]byte("k"), tt.sibs)
			if err != nil {
				t.Fatal(err)
			}
			want := lwwReference(tt.sibs)
			if string(res.Value) != string(want.Value) || res.ContentType != want.ContentType || res.Delete || res.Keep {
				t.Errorf("Resolve = %+v, want the value %q (%s)", res, want.Value, want.ContentType)
			}
		})
	}
}

// TestLastWriteWins_OrderIndependent checks against the reference on random
// sets, each in a random order: every node, whatever order it holds the
// siblings in, must pick the same winner.
func TestLastWriteWins_OrderIndependent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 1000; i++ {
		n := 2 + rng.IntN(5)
		sibs := make([]Sibling, n)
		for j := range sibs {
			// Few distinct timestamps and values, so ties are common.
			sibs[j] = sib(fmt.Sprint(rng.IntN(3)), int64(rng.IntN(3)))
			if rng.IntN(2) == 0 {
				sibs[j].ContentType = "application/json"
			}
		}
		want := lwwReference(sibs)
		rng.Shuffle(n, func(a, b int) { sibs[a], sibs[b] = sibs[b], sibs[a] })
		w := sibs[latest(sibs)]
		if string(w.Value) != string(want.Value) || w.ContentType != want.ContentType || !w.Timestamp.Equal(want.Timestamp) {
			t.Fatalf("seed %d: latest of %+v = %+v, want %+v", seed, sibs, w, want)
		}
	}
}

func TestKeepSiblings_Declines(t *testing.T) {
	s, err := NewSelector(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Select([]byte("any"))
	if c.Name != NameSiblings || !c.Default || !c.Keeps() {
		t.Fatalf("the zero Config selects %+v, want the default siblings resolver", c)
	}
	if s.Active() {
		t.Error("a selector keeping siblings everywhere reports Active")
	}
	if _, ok, err := c.Resolve([]byte("k"), []Sibling{sib("a", 1), sib("b", 2)}); ok || err != nil {
		t.Errorf("siblings resolver: ok=%v err=%v, want neither", ok, err)
	}
}

func TestSelector_LongestPrefixWins(t *testing.T) {
	s, err := NewSelector(Config{
		Default: NameLWW,
		Buckets: map[string]string{"carts/": NameSiblings, "carts/vip/": "union", "c": NameLWW},
		Custom:  map[string]Resolver{"union": Func(func([]byte, []Sibling) (Resolution, error) { return Resolution{}, nil })},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, name, bucket string
	}{
		{"carts/alice", NameSiblings, "carts/"},
		{"carts/vip/bob", "union", "carts/vip/"},
		{"carts/vi", NameSiblings, "carts/"},
		{"cats", NameLWW, "c"},
		{"sessions/1", NameLWW, ""},
		{"carts", NameLWW, "c"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			c := s.Select([]byte(tt.key))
			if c.Name != tt.name || c.Bucket != tt.bucket || c.Default != (tt.bucket == "") {
				t.Errorf("Select(%q) = %s in %q (default %v), want %s in %q", tt.key, c.Name, c.Bucket, c.Default, tt.name, tt.bucket)
			}
		})
	}
	if !s.Active() {
		t.Error("a selector with lww reports inactive")
	}
}

func TestNewSelector_Errors(t *testing.T) {
	ok := Func(func([]byte, []Sibling) (Resolution, error) { return Resolution{}, nil })
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error, one per problem
	}{
		{"unknown default", Config{Default: "merge"}, []string{`the default names unknown resolver "merge" (registered: lww, siblings)`}},
		{"unknown in a bucket", Config{Buckets: map[string]string{"carts/": "cart"}}, []string{`bucket "carts/" names unknown resolver "cart"`}},
		{"custom name listed", Config{Default: "x", Custom: map[string]Resolver{"cart": ok}}, []string{"registered: cart, lww, siblings"}},
		{"shadowing a built-in", Config{Custom: map[string]Resolver{NameLWW: ok}}, []string{`resolver "lww" is built in`}},
		{"nil resolver", Config{Custom: map[string]Resolver{"cart": nil}}, []string{`resolver "cart" is nil`}},
		{"bad name", Config{Custom: map[string]Resolver{"a=b": ok}}, []string{`resolver name "a=b"`}},
		{"empty prefix", Config{Buckets: map[string]string{"": NameLWW}}, []string{"bucket prefix is empty"}},
		{"all at once", Config{Default: "x", Buckets: map[string]string{"a/": "y"}}, []string{`unknown resolver "x"`, `unknown resolver "y"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSelector(tt.cfg)
			if err == nil {
				t.Fatal("NewSelector accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	var unknown *UnknownError
	if _, err := NewSelector(Config{Default: "merge"}); !errors.As(err, &unknown) || unknown.Name != "merge" || unknown.Bucket != "" {
		t.Errorf("err = %v, want an *UnknownError naming merge for the default", err)
	}
}

func TestSelector_Lossy(t *testing.T) {
	s, err := NewSelector(Config{
		Default: NameLWW,
		Buckets: map[string]string{"sessions/": NameLWW, "cache/": NameLWW, "carts/": NameSiblings},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Lossy()
	if len(got) != 1 || got[0].Name != NameLWW || !got[0].Default || !slices.Equal(got[0].Buckets, []string{"cache/", "sessions/"}) {
		t.Errorf("Lossy() = %+v, want lww on cache/, sessions/ and the default", got)
	}
	s, _ = NewSelector(Config{Buckets: map[string]string{"carts/": NameSiblings}})
	if got := s.Lossy(); len(got) != 0 {
		t.Errorf("Lossy() = %+v without lww, want none", got)
	}
}

// TestChoice_ResolveFailsSafe: whatever a resolver does, Resolve returns,
// reports an *Error naming the resolver, bucket and key, and says ok=false,
// so the caller keeps the siblings.
func TestChoice_ResolveFailsSafe(t *testing.T) {
	tests := []struct {
		name   string
		fn     Func
		reason string
		want   string
	}{
		{"panic", func([]byte, []Sibling) (Resolution, error) { panic("boom") }, ReasonPanic, "panicked: boom"},
		{"nil map panic", func([]byte, []Sibling) (Resolution, error) {
			var m map[string]int
			m["x"]++
			return Resolution{}, nil
		}, ReasonPanic, "assignment to entry in nil map"},
		{"error", func([]byte, []Sibling) (Resolution, error) { return Resolution{}, errors.New("cannot merge") }, ReasonError, "cannot merge"},
		{"value over the limit", func([]byte, []Sibling) (Resolution, error) {
			return Resolution{Value: make([]byte, 17)}, nil
		}, ReasonInvalid, "over limits.max_value_bytes (16)"},
		{"malformed content type", func([]byte, []Sibling) (Resolution, error) {
			return Resolution{Value: []byte("x"), ContentType: "not a type"}, nil
		}, ReasonInvalid, "content type"},
		{"huge content type", func([]byte, []Sibling) (Resolution, error) {
			return Resolution{Value: []byte("x"), ContentType: "a/" + strings.Repeat("b", 300)}, nil
		}, ReasonInvalid, "content type"},
		{"keep with a value", func([]byte, []Sibling) (Resolution, error) {
			return Resolution{Keep: true, Value: []byte("x")}, nil
		}, ReasonInvalid, "Keep"},
		{"delete with a value", func([]byte, []Sibling) (Resolution, error) {
			return Resolution{Delete: true, Value: []byte("x")}, nil
		}, ReasonInvalid, "Delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSelector(Config{Buckets: map[string]string{"b/": "bad"}, Custom: map[string]Resolver{"bad": tt.fn},
				Limits: Limits{MaxValueBytes: 16}})
			if err != nil {
				t.Fatal(err)
			}
			res, ok, err := s.Select([]byte("b/k")).Resolve([]byte("b/k"), []Sibling{sib("a", 1), sib("b", 2)})
			if ok {
				t.Fatalf("ok with %+v", res)
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if re.Resolver != "bad" || re.Bucket != "b/" || string(re.Key) != "b/k" || re.Reason() != tt.reason {
				t.Errorf("error = %+v (reason %s), want resolver bad, bucket b/, key b/k, reason %s", re, re.Reason(), tt.reason)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `resolver "bad" (bucket "b/")`) {
				t.Errorf("error %q lacks %q or the resolver and bucket", err, tt.want)
			}
			if (tt.reason == ReasonPanic) != (len(re.Stack) > 0) {
				t.Errorf("stack kept = %v for reason %s", len(re.Stack) > 0, tt.reason)
			}
		})
	}
}

func TestChoice_Resolve(t *testing.T) {
	var calls int
	var sawKey []byte
	echo := func(res Resolution) Func {
		return func(key []byte, _ []Sibling) (Resolution, error) {
			calls++
			sawKey = key
			key[0] = 'X' // a careless resolver must not move the key
			return res, nil
		}
	}
	two := []Sibling{sib("a", 1), sib("b", 2)}
	mixed := []Sibling{sib("a", 1), {Value: []byte("{}"), ContentType: "application/json"}}
	tests := []struct {
		name   string
		res    Resolution
		sibs   []Sibling
		ok     bool
		called bool
		want   Resolution
	}{
		{"a value", Resolution{Value: []byte("ab"), ContentType: "text/csv"}, two, true, true, Resolution{Value: []byte("ab"), ContentType: "text/csv"}},
		{"content type inherited", Resolution{Value: []byte("ab")}, two, true, true, Resolution{Value: []byte("ab"), ContentType: "text/plain"}},
		{"content types differ", Resolution{Value: []byte("ab")}, mixed, true, true, Resolution{Value: []byte("ab"), ContentType: DefaultContentType}},
		{"empty value", Resolution{}, two, true, true, Resolution{Value: []byte{}, ContentType: "text/plain"}},
		{"delete", Resolution{Delete: true}, two, true, true, Resolution{Delete: true}},
		{"declined", Resolution{Keep: true}, two, false, true, Resolution{}},
		{"one sibling is not resolved", Resolution{Value: []byte("x")}, two[:1], false, false, Resolution{}},
		{"no sibling", Resolution{Value: []byte("x")}, nil, false, false, Resolution{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = 0
			s, err := NewSelector(Config{Default: "r", Custom: map[string]Resolver{"r": echo(tt.res)}})
			if err != nil {
				t.Fatal(err)
			}
			key := []byte("key")
			got, ok, err := s.Select(key).Resolve(key, tt.sibs)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || (calls == 1) != tt.called {
				t.Fatalf("ok=%v called=%v, want %v %v", ok, calls == 1, tt.ok, tt.called)
			}
			if string(key) != "key" {
				t.Errorf("the resolver changed the caller's key to %q", key)
			}
			if tt.called && string(sawKey) != "Xey" {
				t.Errorf("resolver saw %q", sawKey)
			}
			if ok && (string(got.Value) != string(tt.want.Value) || (got.Value == nil) != (tt.want.Value == nil) ||
				got.ContentType != tt.want.ContentType || got.Delete != tt.want.Delete || got.Keep) {
				t.Errorf("Resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"lww": true, "cart-union": true, "v1.cart_set": true, "": false, "a b": false, "a=b": false, "a,b": false, "é": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}
