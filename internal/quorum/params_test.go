package quorum_test

import (
	"strings"
	"testing"

	"github.com/dhtkv/dht/internal/quorum"
)

func TestParams_ValidateRead(t *testing.T) {
	tests := []struct {
		name string
		p    quorum.Params
		// want lists substrings the error must contain; nil means valid.
		want []string
	}{
		{"defaults", quorum.Params{N: 3, R: 2, W: 2}, nil},
		{"r equals n", quorum.Params{N: 3, R: 3}, nil},
		{"r one", quorum.Params{N: 1, R: 1}, nil},
		{"pr equals r", quorum.Params{N: 3, R: 2, PR: 2}, nil},
		{"write settings are not checked", quorum.Params{N: 3, R: 2, W: 0, PW: 9}, nil},
		{"n zero", quorum.Params{N: 0, R: 1}, []string{"n=0"}},
		{"n negative", quorum.Params{N: -1, R: 1}, []string{"n=-1"}},
		{"r zero", quorum.Params{N: 3, R: 0}, []string{"r=0"}},
		{"r negative", quorum.Params{N: 3, R: -2}, []string{"r=-2"}},
		{"r exceeds n", quorum.Params{N: 3, R: 5}, []string{"r=5", "n=3"}},
		{"pr negative", quorum.Params{N: 3, R: 2, PR: -1}, []string{"pr=-1"}},
		{"pr exceeds r", quorum.Params{N: 3, R: 2, PR: 3}, []string{"pr=3", "r=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkValidation(t, tc.p.ValidateRead(), tc.want)
		})
	}
}

func TestParams_ValidateWrite(t *testing.T) {
	tests := []struct {
		name string
		p    quorum.Params
		want []string
	}{
		{"defaults", quorum.Params{N: 3, R: 2, W: 2}, nil},
		{"w equals n", quorum.Params{N: 3, W: 3}, nil},
		{"w one", quorum.Params{N: 1, W: 1}, nil},
		{"pw equals w", quorum.Params{N: 3, W: 2, PW: 2}, nil},
		{"read settings are not checked", quorum.Params{N: 3, W: 2, R: 0, PR: 9}, nil},
		{"n zero", quorum.Params{N: 0, W: 1}, []string{"n=0"}},
		{"n negative", quorum.Params{N: -4, W: 1}, []string{"n=-4"}},
		{"w zero", quorum.Params{N: 3, W: 0}, []string{"w=0"}},
		{"w negative", quorum.Params{N: 3, W: -1}, []string{"w=-1"}},
		{"w exceeds n", quorum.Params{N: 3, W: 4}, []string{"w=4", "n=3"}},
		{"pw negative", quorum.Params{N: 3, W: 2, PW: -1}, []string{"pw=-1"}},
		{"pw exceeds w", quorum.Params{N: 3, W: 1, PW: 2}, []string{"pw=2", "w=1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkValidation(t, tc.p.ValidateWrite(), tc.want)
		})
	}
}

func checkValidation(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %q, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one naming %q", want)
	}
	for _, w := range want {
		if !containsToken(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}

// containsToken reports whether s contains tok not glued to a preceding
// letter, so that "r=2" is not found inside "pr=2".
func containsToken(s, tok string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], tok)
		if j < 0 {
			return false
		}
		j += i
		if j == 0 || !isLetter(s[j-1]) {
			end := j + len(tok)
			if end == len(s) || !isDigit(s[end]) {
				return true
			}
		}
		i = j + 1
	}
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
func isDigit(b byte) bool  { return b >= '0' && b <= '9' }
