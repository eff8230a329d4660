package money

import (
	"strings"

	"golang.org/x/text/language"
)

// style is how one language writes an amount on an invoice.
type style struct {
	group, decimal string            // thousands and decimal separators
	symbols        map[string]string // currencies with a local symbol; others show their code
	after          bool              // symbol or code after the number
	symbolSep      string            // between number and symbol
	codeSep        string            // between number and code
}

// styles covers the languages of kit/locale. Only symbols a reader of that
// language cannot mistake are used (a bare "$" or "kr" would be ambiguous in
// English); everything else keeps its ISO code.
//
// French and Swedish put the sign after the number with a no-break space, so
// a line break never strands it; French groups with a narrow no-break space
// (U+202F), Swedish with a no-break space (U+00A0), as CLDR does.
var styles = map[string]style{
	"en": {group: ",", decimal: ".", codeSep: " "},
	"fr": {group: "\u202f", decimal: ",", after: true, symbolSep: "\u00a0", codeSep: "\u00a0",
		symbols: map[string]string{"EUR": "€"}},
	"sv": {group: "\u00a0", decimal: ",", after: true, symbolSep: "\u00a0", codeSep: "\u00a0",
		symbols: map[string]string{"EUR": "€", "SEK": "kr"}},
	"zh": {group: ",", decimal: ".", symbolSep: "", codeSep: " ",
		symbols: map[string]string{"CNY": "¥", "EUR": "€", "USD": "US$"}},
}

// Format writes minor units of cur for an invoice in lang, with exactly
// cur.Exponent decimals (none for JPY, three for KWD):
//
//	en     EUR 1,234.50   JPY 1,234     (always the code, before)
//	fr     1 234,50 €     1 234,50 SEK  (€ symbol, other codes after)
//	sv     1 234,50 kr    1 234,50 €    (kr and € symbols, other codes after)
//	zh-CN  ¥1,234.50      US$1,234.50   €1,234.50   SEK 1,234.50
//
// Languages are matched on their base, so fr-CA formats as fr and any
// Chinese as zh-CN; anything else formats as English. A negative amount
// starts with an ASCII minus sign: "-EUR 3.00", "-3,00 €".
func Format(minor int64, cur Currency, lang language.Tag) string {
	base, _ := lang.Base()
	st, ok := styles[base.String()]
	if !ok {
		st = styles["en"]
	}

	neg, intPart, frac := digits(minor, cur.Exponent)
	var num strings.Builder
	for i, d := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			num.WriteString(st.group)
		}
		num.WriteRune(d)
	}
	if frac != "" {
		num.WriteString(st.decimal)
		num.WriteString(frac)
	}

	unit, sep := cur.Code, st.codeSep
	if sym, ok := st.symbols[cur.Code]; ok {
		unit, sep = sym, st.symbolSep
	}
	var out strings.Builder
	if neg {
		out.WriteByte('-')
	}
	if st.after {
		out.WriteString(num.String())
		out.WriteString(sep)
		out.WriteString(unit)
	} else {
		out.WriteString(unit)
		out.WriteString(sep)
		out.WriteString(num.String())
	}
	return out.String()
}
