package invoicepdf

import (
	"strings"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/language"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// typeface is the font family a document is set in, with the function that
// turns UTF-8 text into what that font's encoding expects.
type typeface struct {
	family    string
	encode    func(string) string
	oneWeight bool // bold is set in the regular weight
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

// setTypeface picks the document's font.
//
// A document in English, French or Swedish whose every text fits in code page
// 1252 uses the PDF core font Helvetica: nothing is embedded and every reader
// has it.
//
// Chinese does not fit in any core font, nor does a name in another script
// on an English invoice (a 21Vianet customer's, say). Such a document is set
// in an embedded TrueType font written as Unicode (Identity-H with a ToUnicode
// map), so it carries the text itself: it can be searched, copied and read by
// a screen reader. The font is cjk, subset to the characters used; it has one
// weight, which headings use too. Without it the document is set in Go
// Regular and Go Bold, which have the Latin, Greek and Cyrillic scripts and
// no Chinese glyphs: a reader then draws its missing-glyph box for each
// Chinese character, and the text stays searchable.
func setTypeface(pdf *fpdf.Fpdf, lang language.Tag, cjk *Font, texts []string) typeface {
	if lang != locale.Chinese && fitCodePage(texts) {
		toCP1252 := pdf.UnicodeTranslatorFromDescriptor("cp1252")
		return typeface{family: "Helvetica", encode: func(s string) string { return toCP1252(codePageSafe(s)) }}
	}
	if cjk != nil {
		// Registered once: the PDF writer reads the whole font file for each
		// registration, which costs more than the rest of the document.
		pdf.AddUTF8FontFromBytes(unicodeFamily, "", cjk.ttf)
		return typeface{family: unicodeFamily, encode: func(s string) string { return s }, oneWeight: true}
	}
	pdf.AddUTF8FontFromBytes(unicodeFamily, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(unicodeFamily, "B", gobold.TTF)
	return typeface{family: unicodeFamily, encode: func(s string) string { return s }}
}

// fitCodePage tells whether every text can be written in code page 1252,
// after codePageSafe.
func fitCodePage(texts []string) bool {
	enc := charmap.Windows1252.NewEncoder()
	for _, s := range texts {
		if _, err := enc.String(codePageSafe(s)); err != nil {
			return false
		}
	}
	return true
}

// documentTexts are every text a document prints from its data: the seller,
// and every string of the invoice, account and profile.
func documentTexts(d Document) []string {
	texts := append([]string{d.Seller.Name, d.Seller.VATID}, d.Seller.AddressLines...)
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.IsList() && fd.Kind() == protoreflect.StringKind:
				for i := 0; i < v.List().Len(); i++ {
					texts = append(texts, v.List().Get(i).String())
				}
			case fd.IsMap():
			case fd.Kind() == protoreflect.MessageKind:
				walk(v.Message())
			case fd.Kind() == protoreflect.StringKind:
				texts = append(texts, v.String())
			}
			return true
		})
	}
	for _, m := range []proto.Message{d.Invoice, d.Account, d.Profile} {
		if m != nil && m.ProtoReflect().IsValid() {
			walk(m.ProtoReflect())
		}
	}
	return texts
}
