package invoicepdf

import (
	"testing"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// Labels that are rightly spelled the same as in English.
var sameAsEnglish = map[string]map[label]bool{
	"fr": {labelTotal: true},
	"sv": {labelStatus: true, labelPeriod: true},
}

func TestCatalogTranslatesEveryLabel(t *testing.T) {
	if missing := messages.Missing(); len(missing) > 0 {
		t.Errorf("missing translations: %v", missing)
	}
	if len(catalog) != len(locale.Supported) {
		t.Errorf("catalog has %d languages, locale.Supported %d", len(catalog), len(locale.Supported))
	}
	for _, lang := range locale.Supported {
		code := locale.Code(lang)
		if _, ok := catalog[code]; !ok {
			t.Errorf("catalog has no %s", code)
			continue
		}
		for l := range numLabels {
			got, en := text(lang, l), text(locale.English, l)
			switch {
			case got == "":
				t.Errorf("label %d (%q) has no %s text", l, en, code)
			case lang != locale.English && got == en && !sameAsEnglish[code][l]:
				t.Errorf("label %d (%q) is not translated to %s", l, en, code)
			}
		}
	}
}

// An allowance for a word spelled as in English must not hide a label that
// stopped being so.
func TestSameAsEnglishIsTrue(t *testing.T) {
	for code, labels := range sameAsEnglish {
		for l := range labels {
			if catalog[code][l] != catalog["en"][l] {
				t.Errorf("%s label %d is %q, English %q: drop it from sameAsEnglish", code, l, catalog[code][l], catalog["en"][l])
			}
		}
	}
}
