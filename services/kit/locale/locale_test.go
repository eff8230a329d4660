package locale

import "testing"

func TestMatch(t *testing.T) {
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
			t.Errorf("Match(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
