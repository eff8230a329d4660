package invoicepdf

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// formatDate writes a day the way the language writes it on a business
// document. Times are instants on the business clock, printed in UTC so that
// an invoice reads the same wherever it is rendered. A missing time is "".
func formatDate(ts *timestamppb.Timestamp, lang language.Tag) string {
	if ts == nil {
		return ""
	}
	t := ts.AsTime().UTC()
	if lang == locale.French {
		return t.Format("02/01/2006")
	}
	return t.Format(time.DateOnly)
}

// formatPeriod joins the start and end of a billed period with an en dash.
func formatPeriod(start, end *timestamppb.Timestamp, lang language.Tag) string {
	s, e := formatDate(start, lang), formatDate(end, lang)
	switch {
	case s == "":
		return e
	case e == "":
		return s
	}
	return s + " – " + e
}

// currency is an ISO 4217 code with the number of its minor-unit digits.
//
// currency, lookupCurrency and formatMoney mirror Currency, Lookup and Format
// of services/kit/money, which was not there yet when this package was
// written; they keep the same contract so that switching is a rename.
type currency struct {
	code     string
	exponent int
}

// Currencies whose minor unit is not a hundredth (ISO 4217). Every other
// well-formed code has two decimals.
var exponents = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
	"KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0,
	"XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// lookupCurrency finds a currency by its code: three capital letters.
func lookupCurrency(code string) (currency, error) {
	if len(code) != 3 || strings.IndexFunc(code, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return currency{}, fmt.Errorf("not an ISO 4217 currency code: %q", code)
	}
	exp, ok := exponents[code]
	if !ok {
		exp = 2
	}
	return currency{code: code, exponent: exp}, nil
}

// Separators of the supported languages. French and Swedish group digits with
// a no-break space (CLDR's narrow one, U+202F, is not in the core fonts'
// code page) and put the code after the number.
type numberStyle struct {
	group, decimal string
	codeAfter      bool
}

var numberStyles = map[string]numberStyle{
	"en":    {group: ",", decimal: "."},
	"fr":    {group: "\u00a0", decimal: ",", codeAfter: true},
	"sv":    {group: "\u00a0", decimal: ",", codeAfter: true},
	"zh-CN": {group: ",", decimal: "."},
}

// formatMoney writes an amount of minor units in its currency, for example
// "EUR 1,234.56" in English, "1 234,56 EUR" in French and Swedish and
// "JPY 1,235" in English. A negative amount (a credit) keeps its sign next to
// the digits. The code joins the number with a no-break space so that the two
// never land on different lines.
func formatMoney(minor int64, cur currency, lang language.Tag) string {
	style := numberStyles[locale.Code(lang)]
	neg := minor < 0
	// Through uint64 so that the most negative int64 has an absolute value.
	abs := uint64(minor)
	if neg {
		abs = -abs
	}
	digits := strconv.FormatUint(abs, 10)
	if pad := cur.exponent + 1 - len(digits); pad > 0 {
		digits = strings.Repeat("0", pad) + digits
	}
	whole, frac := digits[:len(digits)-cur.exponent], digits[len(digits)-cur.exponent:]

	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(style.group)
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteString(style.decimal)
		b.WriteString(frac)
	}
	if style.codeAfter {
		return b.String() + "\u00a0" + cur.code
	}
	return cur.code + "\u00a0" + b.String()
}
