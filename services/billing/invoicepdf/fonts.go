package invoicepdf

import (
	"strings"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/text/language"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// typeface is the font family a document is set in, with the function that
// turns UTF-8 text into what that font's encoding expects.
type typeface struct {
	family string
	encode func(string) string
}

// Characters of CLDR-style formatting that code page 1252 lacks, with the
// nearest one it has. French groups digits with a narrow no-break space.
var codePageSubstitutes = strings.NewReplacer(
	"\u202f", "\u00a0", // narrow no-break space
	"\u2009", " ", // thin space
	"\u2212", "-", // minus sign
)

// codePageSafe swaps characters that code page 1252 lacks for close ones it
// has; the translator to the code page would print a dot for them.
func codePageSafe(s string) string {
	return codePageSubstitutes.Replace(s)
}

// unicodeFamily is the name the embedded TrueType font is registered under.
const unicodeFamily = "unicode"

// setTypeface picks the document's font for a language.
//
// English, French and Swedish fit in code page 1252, so they use the PDF core
// font Helvetica: nothing is embedded and every reader has it.
//
// Chinese does not fit in any core font. It is set in an embedded TrueType
// font written as Unicode (Identity-H with a ToUnicode map), so the document
// carries the Chinese text itself: it can be searched, copied and read by a
// screen reader. The font is cjk, subset to the characters used; it has one
// weight, which headings use too. Without it the document is set in Go
// Regular and Go Bold, which have no Chinese glyphs: a reader then draws its
// missing-glyph box for each Chinese character, and the text stays
// searchable.
func setTypeface(pdf *fpdf.Fpdf, lang language.Tag, cjk *Font) typeface {
	if lang != locale.Chinese {
		toCP1252 := pdf.UnicodeTranslatorFromDescriptor("cp1252")
		return typeface{family: "Helvetica", encode: func(s string) string { return toCP1252(codePageSafe(s)) }}
	}
	if cjk != nil {
		pdf.AddUTF8FontFromBytes(unicodeFamily, "", cjk.ttf)
		pdf.AddUTF8FontFromBytes(unicodeFamily, "B", cjk.ttf)
	} else {
		pdf.AddUTF8FontFromBytes(unicodeFamily, "", goregular.TTF)
		pdf.AddUTF8FontFromBytes(unicodeFamily, "B", gobold.TTF)
	}
	return typeface{family: unicodeFamily, encode: func(s string) string { return s }}
}
