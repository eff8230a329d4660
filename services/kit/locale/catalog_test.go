package locale

import (
	"strings"
	"testing"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/message/catalog"
)

func TestCatalog(t *testing.T) {
	c := NewCatalog("test")
	c.Set("plain", [4]string{"100% sure", "sûr à 100 %", "100 % säker", "百分之百确定"})
	c.SetFormat("format", [4]string{"%d users", "%d utilisateurs", "%d användare", "%d 个用户"})
	c.SetMessages("plural", [4]catalog.Message{
		Plural(1, "%d license", "%d licenses"),
		Plural(1, "%d licence", "%d licences"),
		Plural(1, "%d licens", "%d licenser"),
		catalog.String("%d 个许可证"), // Chinese has no plural
	})
	c.Set("partial", [4]string{"English only"})

	cases := []struct {
		lang string
		key  string
		args []any
		want string
	}{
		{"en", "plain", nil, "100% sure"},
		{"fr", "plain", nil, "sûr à 100 %"},
		{"zh-CN", "plain", nil, "百分之百确定"},
		{"sv", "format", []any{3}, "3 användare"},
		{"en", "plural", []any{1}, "1 license"},
		{"en", "plural", []any{2}, "2 licenses"},
		{"fr", "plural", []any{0}, "0 licence"}, // French: 0 is singular
		{"fr", "plural", []any{1}, "1 licence"},
		{"fr", "plural", []any{2}, "2 licences"},
		{"sv", "plural", []any{0}, "0 licenser"},
		{"zh-CN", "plural", []any{5}, "5 个许可证"},
		{"fr", "partial", nil, "English only"}, // the fallback
		{"de", "plural", []any{2}, "2 licenses"},
	}
	for _, tc := range cases {
		if got := c.Sprintf(Match(tc.lang), tc.key, tc.args...); got != tc.want {
			t.Errorf("%s %s %v = %q, want %q", tc.lang, tc.key, tc.args, got, tc.want)
		}
	}
	missing := strings.Join(c.Missing(), ", ")
	if missing != "partial (fr), partial (sv), partial (zh-CN)" {
		t.Errorf("Missing() = %s", missing)
	}
	if !c.Has("plain") || c.Has("nope") {
		t.Error("Has")
	}
	found := false
	for _, k := range Catalogs() {
		found = found || k == c
	}
	if !found {
		t.Error("Catalogs() lacks the new catalog")
	}
	defer func() {
		if recover() == nil {
			t.Error("a key set twice did not panic")
		}
	}()
	c.Set("plain", [4]string{"again", "again", "again", "again"})
}

// TestPluralByLocale: Plural and PluralForm pick each language's form by the
// CLDR rules, for the counts where the languages differ (0, 1) and where they
// agree.
func TestPluralByLocale(t *testing.T) {
	c := NewCatalog("plural test")
	c.SetMessages("days", [4]catalog.Message{
		Plural(1, "%d day", "%d days"),
		Plural(1, "%d jour", "%d jours"),
		Plural(1, "%d dag", "%d dagar"),
		catalog.String("%d 天"),
	})
	counts := []int{0, 1, 2, 5, 21}
	want := map[string][5]string{
		"en":    {"0 days", "1 day", "2 days", "5 days", "21 days"},
		"fr":    {"0 jour", "1 jour", "2 jours", "5 jours", "21 jours"},
		"sv":    {"0 dagar", "1 dag", "2 dagar", "5 dagar", "21 dagar"},
		"zh-CN": {"0 天", "1 天", "2 天", "5 天", "21 天"},
	}
	one := map[string][5]bool{
		"en":    {false, true, false, false, false},
		"fr":    {true, true, false, false, false},
		"sv":    {false, true, false, false, false},
		"zh-CN": {false, false, false, false, false},
	}
	for _, lang := range Supported {
		code := Code(lang)
		for i, n := range counts {
			if got := c.Sprintf(lang, "days", n); got != want[code][i] {
				t.Errorf("%s %d: %q, want %q", code, n, got, want[code][i])
			}
			if got := PluralForm(lang, n) == plural.One; got != one[code][i] {
				t.Errorf("PluralForm(%s, %d) is one: %v, want %v", code, n, got, one[code][i])
			}
		}
	}
}
