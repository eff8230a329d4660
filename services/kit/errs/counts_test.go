package errs

import (
	"fmt"
	"testing"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"google.golang.org/grpc/codes"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// counts are the numbers every counted sentence is checked with: each
// language's singular and plural, French's singular zero, and 21 (singular in
// some languages' rules, plural in all of ours).
var counts = []int{0, 1, 2, 5, 21}

func TestPluralForm(t *testing.T) {
	one, other := plural.One, plural.Other
	want := map[string][5]plural.Form{ // by counts
		"en":    {other, one, other, other, other},
		"fr":    {one, one, other, other, other},
		"sv":    {other, one, other, other, other},
		"zh-CN": {other, other, other, other, other},
	}
	for _, lang := range locale.Supported {
		for i, n := range counts {
			if got, w := locale.PluralForm(lang, n), want[locale.Code(lang)][i]; got != w {
				t.Errorf("PluralForm(%s, %d) = %v, want %v", locale.Code(lang), n, got, w)
			}
		}
	}
}

// TestCountedSentences pins every counted sentence in every language for
// every count of the table.
func TestCountedSentences(t *testing.T) {
	needed := func(lang string, n, available int) string {
		return LicensesNeeded.Format(locale.Match(lang), n, available)
	}
	for _, tc := range []struct {
		lang         string
		n, available int
		want         string
	}{
		{"en", 1, 0, "1 user needs a license, but 0 are available."},
		{"en", 2, 1, "2 users need a license, but 1 is available."},
		{"en", 5, 2, "5 users need a license, but 2 are available."},
		{"en", 21, 5, "21 users need a license, but 5 are available."},
		{"en", 21, 21, "21 users need a license, but 21 are available."},
		{"fr", 1, 0, "1 utilisateur a besoin d'une licence, mais 0 licence est disponible."},
		{"fr", 2, 1, "2 utilisateurs ont besoin d'une licence, mais 1 licence est disponible."},
		{"fr", 5, 2, "5 utilisateurs ont besoin d'une licence, mais 2 licences sont disponibles."},
		{"fr", 21, 5, "21 utilisateurs ont besoin d'une licence, mais 5 licences sont disponibles."},
		{"fr", 0, 21, "0 utilisateur a besoin d'une licence, mais 21 licences sont disponibles."},
		{"sv", 1, 0, "1 användare behöver en licens, men 0 licenser är lediga."},
		{"sv", 2, 1, "2 användare behöver en licens, men 1 licens är ledig."},
		{"sv", 5, 2, "5 användare behöver en licens, men 2 licenser är lediga."},
		{"sv", 21, 5, "21 användare behöver en licens, men 5 licenser är lediga."},
		{"zh-CN", 2, 1, "2 个用户需要许可证，但只有 1 个可用。"},
		{"zh-CN", 21, 0, "21 个用户需要许可证，但只有 0 个可用。"},
	} {
		if got := needed(tc.lang, tc.n, tc.available); got != tc.want {
			t.Errorf("LicensesNeeded %s (%d, %d) = %q, want %q", tc.lang, tc.n, tc.available, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lang            string
		assigned, total int
		want            string
	}{
		{"en", 1, 0, "1 license is assigned, so the total cannot be 0."},
		{"en", 2, 1, "2 licenses are assigned, so the total cannot be 1."},
		{"en", 0, 5, "0 licenses are assigned, so the total cannot be 5."},
		{"en", 21, 5, "21 licenses are assigned, so the total cannot be 5."},
		{"fr", 0, 1, "0 licence est attribuée, le total ne peut donc pas être de 1."},
		{"fr", 1, 0, "1 licence est attribuée, le total ne peut donc pas être de 0."},
		{"fr", 2, 1, "2 licences sont attribuées, le total ne peut donc pas être de 1."},
		{"fr", 21, 5, "21 licences sont attribuées, le total ne peut donc pas être de 5."},
		{"sv", 0, 1, "0 licenser är tilldelade, så totalen kan inte vara 1."},
		{"sv", 1, 0, "1 licens är tilldelad, så totalen kan inte vara 0."},
		{"sv", 5, 2, "5 licenser är tilldelade, så totalen kan inte vara 2."},
		{"zh-CN", 1, 0, "已分配 1 个许可证，因此总数不能为 0。"},
		{"zh-CN", 5, 2, "已分配 5 个许可证，因此总数不能为 2。"},
	} {
		if got := LicensesAssigned.Format(locale.Match(tc.lang), tc.assigned, tc.total); got != tc.want {
			t.Errorf("LicensesAssigned %s (%d, %d) = %q, want %q", tc.lang, tc.assigned, tc.total, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lang        string
		named, most int
		want        string
	}{
		{"en", 21, 20, "21 users were named, but one request can handle at most 20 users."},
		{"en", 2, 1, "2 users were named, but one request can handle at most 1 user."},
		{"en", 1, 0, "1 user was named, but one request can handle at most 0 users."},
		{"fr", 21, 20, "21 utilisateurs ont été indiqués, mais une requête peut traiter au plus 20 utilisateurs."},
		{"fr", 2, 1, "2 utilisateurs ont été indiqués, mais une requête peut traiter au plus 1 utilisateur."},
		{"fr", 1, 0, "1 utilisateur a été indiqué, mais une requête peut traiter au plus 0 utilisateur."},
		{"sv", 21, 20, "21 användare angavs, men en begäran kan hantera högst 20 användare."},
		{"zh-CN", 21, 20, "指定了 21 个用户，但一次请求最多可处理 20 个用户。"},
	} {
		if got := UsersNamed.Format(locale.Match(tc.lang), tc.named, tc.most); got != tc.want {
			t.Errorf("UsersNamed %s (%d, %d) = %q, want %q", tc.lang, tc.named, tc.most, got, tc.want)
		}
	}
}

// TestCountedSentencesFollowThePluralRules checks, for every sentence,
// language and count, that the words chosen are those of the count's CLDR
// category: the sentence for n is the sentence for 1 (singular) or for 2
// (plural) with the number changed.
func TestCountedSentencesFollowThePluralRules(t *testing.T) {
	for _, s := range Sentences() {
		for _, lang := range locale.Supported {
			for _, n := range counts {
				for pos := range 2 {
					args := []int{7, 7}
					args[pos] = n
					ref := 2
					if locale.PluralForm(lang, n) == plural.One {
						ref = 1
					}
					refArgs := []int{7, 7}
					refArgs[pos] = ref
					got := s.Format(lang, args...)
					want := s.Format(lang, refArgs...)
					// Put n in place of ref in the reference sentence.
					if wantN := replaceNumber(want, ref, n); got != wantN {
						t.Errorf("%s %s %v = %q, want %q", s.key, locale.Code(lang), args, got, wantN)
					}
				}
			}
		}
		if missing := catalog.Missing(); len(missing) > 0 {
			t.Errorf("missing translations: %v", missing)
		}
	}
}

func replaceNumber(text string, from, to int) string {
	var out []rune
	rs := []rune(text)
	f := []rune(fmt.Sprint(from))
	for i := 0; i < len(rs); i++ {
		if i+len(f) <= len(rs) && string(rs[i:i+len(f)]) == string(f) &&
			(i == 0 || !isDigit(rs[i-1])) && (i+len(f) == len(rs) || !isDigit(rs[i+len(f)])) {
			out = append(out, []rune(fmt.Sprint(to))...)
			i += len(f) - 1
			continue
		}
		out = append(out, rs[i])
	}
	return string(out)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func TestCountedStatus(t *testing.T) {
	e := Counted(NotEnoughLicenses, LicensesNeeded, 3, 1).With("available", "1").With("requested", "3")
	for _, tc := range []struct {
		lang language.Tag
		want string
	}{
		{locale.English, "3 users need a license, but 1 is available."},
		{locale.French, "3 utilisateurs ont besoin d'une licence, mais 1 licence est disponible."},
		{locale.Swedish, "3 användare behöver en licens, men 1 licens är ledig."},
		{locale.Chinese, "3 个用户需要许可证，但只有 1 个可用。"},
	} {
		s := Status(fmt.Errorf("assign: %w", e), "licensing.selfserve", tc.lang)
		if s.Code() != codes.FailedPrecondition || s.Message() != "3 users need a license, but 1 is available." {
			t.Errorf("%s: status %d %q", tc.lang, s.Code(), s.Message())
		}
		info, msg := details(t, s)
		if info.Reason != "NOT_ENOUGH_LICENSES" || info.Metadata["available"] != "1" || info.Metadata["requested"] != "3" || len(info.Metadata) != 2 {
			t.Errorf("%s: info %v", tc.lang, info)
		}
		if msg.Message != tc.want || msg.Locale != locale.Code(tc.lang) {
			t.Errorf("%s: localized %q (%s), want %q", tc.lang, msg.Message, msg.Locale, tc.want)
		}
	}
}
