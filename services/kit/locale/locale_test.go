package locale

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

func TestMatch(t *testing.T) {
	forget()
	for pass := range 2 { // the second from what Match remembered
		testMatch(t, pass)
	}
	// Every value but the empty one is remembered, with its answer.
	n := 0
	matched.Range(func(k, v any) bool {
		if Match(k.(string)) != v.(language.Tag) {
			t.Errorf("%q remembered as %v", k, v)
		}
		n++
		return true
	})
	if n != 11 || matchedCount.Load() != 11 {
		t.Errorf("%d values remembered (counted %d), want the 11 asked", n, matchedCount.Load())
	}
}

// forget empties what Match remembered.
func forget() {
	matched.Clear()
	matchedCount.Store(0)
}

func testMatch(t *testing.T, pass int) {
	for _, tc := range []struct{ in, want string }{
		{"", "en"},
		{"fr", "fr"},
		{"fr-CA", "fr"},
		{"sv-SE,en;q=0.5", "sv"},
		{"de, fr;q=0.8", "fr"},
		{"zh-Hans", "zh-CN"},
		{"zh-CN", "zh-CN"},
		{"zh", "zh-CN"},
		{"ja", "en"},
		{"*", "en"},
		{"garbage;;q=x", "en"},
		{"en-GB", "en"},
	} {
		if got := Code(Match(tc.in)); got != tc.want {
			t.Errorf("pass %d: Match(%q) = %s, want %s", pass, tc.in, got, tc.want)
		}
	}
}

// TestMatchRemembersABoundedNumber: made-up values are still matched, but
// past maxMatched of them (or longer than maxMatchedLen) none is kept.
func TestMatchRemembersABoundedNumber(t *testing.T) {
	forget()
	for i := range 3 * maxMatched {
		v := fmt.Sprintf("fr-x-%d", i)
		if got := Code(Match(v)); got != "fr" {
			t.Fatalf("Match(%q) = %s, want fr", v, got)
		}
	}
	long := "sv," + strings.Repeat("en-GB;q=0.1,", 20) + "fr;q=0.1"
	if got := Code(Match(long)); got != "sv" {
		t.Errorf("Match of a long value = %s, want sv", got)
	}
	if _, ok := matched.Load(long); ok {
		t.Error("a value longer than maxMatchedLen was kept")
	}
	n := 0
	matched.Range(func(any, any) bool { n++; return true })
	if n != maxMatched || int(matchedCount.Load()) != n {
		t.Errorf("%d values kept (counted %d), at most %d", n, matchedCount.Load(), maxMatched)
	}
}

// BenchmarkMatch prices a header Match has seen before, the common case:
// go test ./services/kit/locale -bench Match
func BenchmarkMatch(b *testing.B) {
	Match("fr-CA,fr;q=0.9,en;q=0.8")
	for b.Loop() {
		Match("fr-CA,fr;q=0.9,en;q=0.8")
	}
}
