package terms

import (
	"golang.org/x/text/language"
	"golang.org/x/text/message/catalog"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
)

// LineKind is what an invoice line bills, as its description says it.
type LineKind int

const (
	LinePurchase       LineKind = iota // a purchase, for a term of its frequency
	LineConvert                        // a trial converted to paid by its owner
	LineTrialConverted                 // a trial converted at its end
	LineAdd                            // licenses added, charged prorated
	LineRemove                         // licenses removed, credited prorated
	LineCancel                         // a cancellation's prorated refund
	LineReactivate                     // a new term after EXPIRED or DISABLED
	LineRenew                          // the next term
)

// Line is what an invoice line's description names.
type Line struct {
	Kind      LineKind
	Quantity  int32                               // licenses billed, or after the change
	Previous  int32                               // licenses before a change (LineAdd, LineRemove)
	Frequency commercev1.Product_BillingFrequency // LinePurchase, LineConvert
}

// lineKey is a line's message in the catalog.
func lineKey(l Line) string {
	switch l.Kind {
	case LinePurchase, LineConvert:
		if l.Frequency == commercev1.Product_ANNUAL {
			return "line term annual"
		}
		return "line term monthly"
	case LineTrialConverted:
		return "line trial converted"
	case LineAdd:
		return "line add"
	case LineRemove:
		return "line remove"
	case LineCancel:
		return "line cancel"
	case LineReactivate:
		return "line reactivate"
	default:
		return "line renew"
	}
}

// The descriptions take the product's name, the licenses billed and, for a
// change, the licenses before it: %[1]s, %[2]d, %[3]d. The number of
// licenses picks the plural form.
func setLineFormats(c *locale.Catalog) {
	plurals := func(key string, en, fr, sv [2]string, zh string) {
		c.SetMessages(key, [4]catalog.Message{
			locale.Plural(2, en[0], en[1]),
			locale.Plural(2, fr[0], fr[1]),
			locale.Plural(2, sv[0], sv[1]),
			catalog.String(zh), // Chinese has no plural forms
		})
	}
	plurals("line term monthly",
		[2]string{"%[1]s, %[2]d license, monthly", "%[1]s, %[2]d licenses, monthly"},
		[2]string{"%[1]s, %[2]d licence, mensuel", "%[1]s, %[2]d licences, mensuel"},
		[2]string{"%[1]s, %[2]d licens, månadsvis", "%[1]s, %[2]d licenser, månadsvis"},
		"%[1]s，%[2]d 个许可证，按月计费")
	plurals("line term annual",
		[2]string{"%[1]s, %[2]d license, annual", "%[1]s, %[2]d licenses, annual"},
		[2]string{"%[1]s, %[2]d licence, annuel", "%[1]s, %[2]d licences, annuel"},
		[2]string{"%[1]s, %[2]d licens, årsvis", "%[1]s, %[2]d licenser, årsvis"},
		"%[1]s，%[2]d 个许可证，按年计费")
	plurals("line trial converted",
		[2]string{"%[1]s, %[2]d license, trial converted", "%[1]s, %[2]d licenses, trial converted"},
		[2]string{"%[1]s, %[2]d licence, essai converti", "%[1]s, %[2]d licences, essai converti"},
		[2]string{"%[1]s, %[2]d licens, provperiod omvandlad", "%[1]s, %[2]d licenser, provperiod omvandlad"},
		"%[1]s，%[2]d 个许可证，试用转为付费")
	plurals("line add",
		[2]string{"%[1]s, %[3]d → %[2]d license, prorated", "%[1]s, %[3]d → %[2]d licenses, prorated"},
		[2]string{"%[1]s, %[3]d → %[2]d licence, au prorata", "%[1]s, %[3]d → %[2]d licences, au prorata"},
		[2]string{"%[1]s, %[3]d → %[2]d licens, proportionellt", "%[1]s, %[3]d → %[2]d licenser, proportionellt"},
		"%[1]s，%[3]d → %[2]d 个许可证，按比例计费")
	plurals("line remove",
		[2]string{"%[1]s, %[3]d → %[2]d license, prorated credit", "%[1]s, %[3]d → %[2]d licenses, prorated credit"},
		[2]string{"%[1]s, %[3]d → %[2]d licence, avoir au prorata", "%[1]s, %[3]d → %[2]d licences, avoir au prorata"},
		[2]string{"%[1]s, %[3]d → %[2]d licens, proportionell kredit", "%[1]s, %[3]d → %[2]d licenser, proportionell kredit"},
		"%[1]s，%[3]d → %[2]d 个许可证，按比例退款")
	plurals("line cancel",
		[2]string{"%[1]s, refund of %[2]d license", "%[1]s, refund of %[2]d licenses"},
		[2]string{"%[1]s, remboursement de %[2]d licence", "%[1]s, remboursement de %[2]d licences"},
		[2]string{"%[1]s, återbetalning av %[2]d licens", "%[1]s, återbetalning av %[2]d licenser"},
		"%[1]s，退还 %[2]d 个许可证的费用")
	plurals("line reactivate",
		[2]string{"%[1]s, %[2]d license, reactivated", "%[1]s, %[2]d licenses, reactivated"},
		[2]string{"%[1]s, %[2]d licence, réactivé", "%[1]s, %[2]d licences, réactivé"},
		[2]string{"%[1]s, %[2]d licens, återaktiverad", "%[1]s, %[2]d licenser, återaktiverad"},
		"%[1]s，%[2]d 个许可证，重新激活")
	plurals("line renew",
		[2]string{"%[1]s, %[2]d license, renewal", "%[1]s, %[2]d licenses, renewal"},
		[2]string{"%[1]s, %[2]d licence, renouvellement", "%[1]s, %[2]d licences, renouvellement"},
		[2]string{"%[1]s, %[2]d licens, förnyelse", "%[1]s, %[2]d licenser, förnyelse"},
		"%[1]s，%[2]d 个许可证，续订")
}

// Describe gives a line's description in every supported language, keyed by
// locale.Code, with the product named as productName gives it in each.
func Describe(l Line, productName func(language.Tag) string) map[string]string {
	key := lineKey(l)
	out := make(map[string]string, len(locale.Supported))
	for _, lang := range locale.Supported {
		out[locale.Code(lang)] = messages.Sprintf(lang, key, productName(lang), l.Quantity, l.Previous)
	}
	return out
}
