package terms

import (
	"strings"
	"testing"

	"golang.org/x/text/language"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
)

func TestCatalogIsComplete(t *testing.T) {
	if missing := messages.Missing(); len(missing) > 0 {
		t.Errorf("missing translations: %v", missing)
	}
}

func TestDescribe(t *testing.T) {
	names := func(lang language.Tag) string {
		return map[string]string{"en": "Pro", "fr": "Pro (fr)", "sv": "Pro (sv)", "zh-CN": "专业版"}[locale.Code(lang)]
	}
	cases := []struct {
		line Line
		want map[string]string
	}{
		{Line{Kind: LinePurchase, Quantity: 1, Frequency: commercev1.Product_MONTHLY}, map[string]string{
			"en": "Pro, 1 license, monthly", "fr": "Pro (fr), 1 licence, mensuel", "sv": "Pro (sv), 1 licens, månadsvis", "zh-CN": "专业版，1 个许可证，按月计费"}},
		{Line{Kind: LinePurchase, Quantity: 10, Frequency: commercev1.Product_ANNUAL}, map[string]string{
			"en": "Pro, 10 licenses, annual", "fr": "Pro (fr), 10 licences, annuel", "sv": "Pro (sv), 10 licenser, årsvis", "zh-CN": "专业版，10 个许可证，按年计费"}},
		{Line{Kind: LineAdd, Quantity: 12, Previous: 10}, map[string]string{
			"en": "Pro, 10 → 12 licenses, prorated", "zh-CN": "专业版，10 → 12 个许可证，按比例计费"}},
		{Line{Kind: LineRemove, Quantity: 1, Previous: 3}, map[string]string{
			"en": "Pro, 3 → 1 license, prorated credit", "fr": "Pro (fr), 3 → 1 licence, avoir au prorata"}},
		{Line{Kind: LineCancel, Quantity: 2}, map[string]string{"sv": "Pro (sv), återbetalning av 2 licenser", "zh-CN": "专业版，退还 2 个许可证的费用"}},
		{Line{Kind: LineRenew, Quantity: 5}, map[string]string{"en": "Pro, 5 licenses, renewal", "fr": "Pro (fr), 5 licences, renouvellement"}},
		{Line{Kind: LineReactivate, Quantity: 5}, map[string]string{"sv": "Pro (sv), 5 licenser, återaktiverad"}},
		{Line{Kind: LineTrialConverted, Quantity: 25}, map[string]string{"zh-CN": "专业版，25 个许可证，试用转为付费"}},
		{Line{Kind: LineConvert, Quantity: 25, Frequency: commercev1.Product_MONTHLY}, map[string]string{"en": "Pro, 25 licenses, monthly"}},
	}
	for _, tc := range cases {
		got := Describe(tc.line, names)
		if len(got) != len(locale.Supported) {
			t.Errorf("%+v: %d languages", tc.line, len(got))
		}
		for code, s := range got {
			if strings.Contains(s, "%!") || s == "" {
				t.Errorf("%+v in %s: %q", tc.line, code, s)
			}
		}
		for code, want := range tc.want {
			if got[code] != want {
				t.Errorf("%+v in %s = %q, want %q", tc.line, code, got[code], want)
			}
		}
	}
}
