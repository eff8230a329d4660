// Package pdftext reads back what a PDF shows, as a reader does, to test the
// invoices billing renders: the text of every page through each font's
// ToUnicode map, and whether every character shown has a glyph that draws.
package pdftext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/ledongthuc/pdf"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// Extract returns the text of every page, a line per text operation,
// decoding each string through its font's ToUnicode map.
func Extract(b []byte) (string, error) {
	var sb strings.Builder
	err := walk(b, func(font pdf.Value, raw string) error {
		m, err := readToUnicode(font)
		if err != nil {
			return err
		}
		sb.WriteString(m.decode(raw))
		sb.WriteString("\n")
		return nil
	})
	return sb.String(), err
}

// Glyphs checks that every character shown in a composite (Type0) font maps,
// through its CIDToGIDMap, to a glyph of the embedded font file that draws
// something, spaces excepted. It returns the characters shown so, and an
// error naming those that are not.
func Glyphs(b []byte) (int, error) {
	n := 0
	var bad []string
	err := walk(b, func(font pdf.Value, raw string) error {
		if font.Key("Subtype").Name() != "Type0" {
			return nil
		}
		ok, missing, err := checkString(font, raw)
		n += ok
		bad = append(bad, missing...)
		return err
	})
	if err != nil {
		return n, err
	}
	if len(bad) > 0 {
		return n, fmt.Errorf("pdftext: characters without a glyph: %s", strings.Join(bad, ", "))
	}
	if n == 0 {
		return 0, errors.New("pdftext: no text shown in a composite font")
	}
	return n, nil
}

// walk calls show for every string a page shows (Tj, and the strings of TJ),
// with the font it is shown in.
func walk(b []byte, show func(font pdf.Value, raw string) error) (err error) {
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("pdftext: %w", err)
	}
	defer func() {
		// The parser panics on malformed content streams.
		if p := recover(); p != nil {
			err = fmt.Errorf("pdftext: %v", p)
		}
	}()
	for i := 1; i <= r.NumPage() && err == nil; i++ {
		page := r.Page(i)
		var font pdf.Value
		pdf.Interpret(page.V.Key("Contents"), func(stk *pdf.Stack, op string) {
			args := make([]pdf.Value, stk.Len())
			for j := len(args) - 1; j >= 0; j-- {
				args[j] = stk.Pop()
			}
			if err != nil {
				return
			}
			switch {
			case op == "Tf" && len(args) == 2:
				font = page.Font(args[0].Name()).V
			case op == "Tj" && len(args) == 1:
				err = show(font, args[0].RawString())
			case op == "TJ" && len(args) == 1:
				var sb strings.Builder
				for k := 0; k < args[0].Len(); k++ {
					if e := args[0].Index(k); e.Kind() == pdf.String {
						sb.WriteString(e.RawString())
					}
				}
				err = show(font, sb.String())
			}
		})
	}
	return err
}

// toUnicode is a font's ToUnicode CMap: 2-byte codes for a composite font,
// bytes read as Latin-1 for a simple one without a map.
type toUnicode struct {
	twoByte bool
	ranges  []bfRange
}

type bfRange struct{ lo, hi, dst rune }

var (
	bfBlockRE = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	bfRangeRE = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
	bfCharRE  = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	bfPairRE  = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
)

func readToUnicode(font pdf.Value) (*toUnicode, error) {
	m := &toUnicode{twoByte: font.Key("Subtype").Name() == "Type0"}
	tu := font.Key("ToUnicode")
	if tu.IsNull() {
		return m, nil
	}
	data, err := io.ReadAll(tu.Reader())
	if err != nil {
		return nil, fmt.Errorf("pdftext: ToUnicode: %w", err)
	}
	hexRune := func(s []byte) rune {
		v, _ := strconv.ParseUint(string(s), 16, 32) // the expressions match hex digits only
		return rune(v)
	}
	for _, block := range bfBlockRE.FindAllSubmatch(data, -1) {
		for _, r := range bfRangeRE.FindAllSubmatch(block[1], -1) {
			m.ranges = append(m.ranges, bfRange{hexRune(r[1]), hexRune(r[2]), hexRune(r[3])})
		}
	}
	for _, block := range bfCharRE.FindAllSubmatch(data, -1) {
		for _, p := range bfPairRE.FindAllSubmatch(block[1], -1) {
			c := hexRune(p[1])
			m.ranges = append(m.ranges, bfRange{c, c, hexRune(p[2])})
		}
	}
	if len(m.ranges) == 0 {
		return nil, fmt.Errorf("pdftext: a ToUnicode map without mappings")
	}
	return m, nil
}

// decode maps each code to its Unicode value. A range maps consecutive codes
// to consecutive values, as poppler and pdf.js read fpdf's single range over
// every 2-byte code.
func (m *toUnicode) decode(raw string) string {
	var sb strings.Builder
	if !m.twoByte {
		for i := 0; i < len(raw); i++ {
			sb.WriteRune(rune(raw[i]))
		}
		return sb.String()
	}
	for i := 0; i+1 < len(raw); i += 2 {
		code := rune(raw[i])<<8 | rune(raw[i+1])
		out := unicode.ReplacementChar
		for _, r := range m.ranges {
			if code >= r.lo && code <= r.hi {
				out = r.dst + code - r.lo
				break
			}
		}
		sb.WriteRune(out)
	}
	return sb.String()
}

// checkString checks the characters of one string of a composite font whose
// codes are the characters' code points, as fpdf writes them.
func checkString(font pdf.Value, raw string) (int, []string, error) {
	cid := font.Key("DescendantFonts").Index(0)
	gidMap, err := io.ReadAll(cid.Key("CIDToGIDMap").Reader())
	if err != nil {
		return 0, nil, fmt.Errorf("pdftext: CIDToGIDMap: %w", err)
	}
	file, err := io.ReadAll(cid.Key("FontDescriptor").Key("FontFile2").Reader())
	if err != nil {
		return 0, nil, fmt.Errorf("pdftext: FontFile2: %w", err)
	}
	f, err := sfnt.Parse(file)
	if err != nil {
		return 0, nil, fmt.Errorf("pdftext: embedded font: %w", err)
	}
	var buf sfnt.Buffer
	n := 0
	var bad []string
	for i := 0; i+1 < len(raw); i += 2 {
		code := int(raw[i])<<8 | int(raw[i+1])
		c := rune(code)
		if unicode.IsSpace(c) {
			continue
		}
		if 2*code+1 >= len(gidMap) {
			bad = append(bad, fmt.Sprintf("%q (outside CIDToGIDMap)", c))
			continue
		}
		gid := sfnt.GlyphIndex(binary.BigEndian.Uint16(gidMap[2*code:]))
		if gid == 0 {
			bad = append(bad, fmt.Sprintf("%q (the missing glyph)", c))
			continue
		}
		if segs, err := f.LoadGlyph(&buf, gid, fixed.I(12), nil); err != nil || len(segs) == 0 {
			bad = append(bad, fmt.Sprintf("%q (glyph %d draws nothing)", c, gid))
			continue
		}
		n++
	}
	return n, bad, nil
}
