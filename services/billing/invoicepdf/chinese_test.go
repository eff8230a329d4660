package invoicepdf

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/ledongthuc/pdf"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/selfserve/selfserve/services/kit/locale"
)

var (
	cjkOnce sync.Once
	cjkFont *Font
	cjkErr  error
)

// testCJKFont is the system's Chinese font, or else WenQuanYi Micro Hei from
// the Go module cache (downloaded on first use, as the build downloads its
// dependencies).
func testCJKFont(t *testing.T) *Font {
	t.Helper()
	cjkOnce.Do(func() {
		cjkFont, cjkErr = FindCJKFont()
		if cjkErr != nil {
			cjkFont, cjkErr = ModuleCacheCJKFont(context.Background())
		}
	})
	if cjkErr != nil {
		t.Fatalf("no Chinese font: %v", cjkErr)
	}
	return cjkFont
}

// Chinese line descriptions, as commerce writes them for a zh-CN reader.
const (
	zhPurchase = "Selfserve 专业版，每年 — 10 个许可证"
	zhAdd      = "增加 2 个许可证（按比例计费）"
	zhCredit   = "按比例退款：减少 3 个许可证"
)

func chineseFixture() Document {
	d := fixture("EUR")
	d.Invoice.CurrencyCode = "CNY"
	d.Account.SoldTo.CountryCode = "CN"
	for i, desc := range []string{zhPurchase, zhAdd, zhCredit} {
		d.Invoice.LineItems[i].Description = desc
	}
	return d
}

func TestRenderChineseWithCJKFont(t *testing.T) {
	font := testCJKFont(t)
	d := chineseFixture()
	b, err := Renderer{CJK: font}.Render(d, locale.Chinese)
	if err != nil {
		t.Fatal(err)
	}
	if *writeDir != "" {
		if err := os.WriteFile(filepath.Join(*writeDir, "invoice-zh-CN-cjk.pdf"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The text a reader extracts, through each font's ToUnicode map.
	got := extractText(t, b)
	wantText(t, got,
		"发票", "发票号码", "开票日期", "描述", "总计", "待付款",
		zhPurchase, zhAdd, zhCredit, d.Invoice.InvoiceNumber, "2026-11-21",
		"¥1,614.00",
	)

	// Every character shown has a drawn glyph in the embedded font.
	checkGlyphs(t, b)
}

func TestRenderChineseCJKFontSubset(t *testing.T) {
	font := testCJKFont(t)
	b, err := Renderer{CJK: font}.Render(chineseFixture(), locale.Chinese)
	if err != nil {
		t.Fatal(err)
	}
	// The font is subset to the characters used: the document is far smaller
	// than the font file.
	if len(b) > len(font.ttf)/10 {
		t.Errorf("the document is %d bytes with a font of %d: not subset", len(b), len(font.ttf))
	}
	// Other languages embed nothing.
	en, err := Renderer{CJK: font}.Render(chineseFixture(), locale.English)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(en, []byte("FontFile2")) {
		t.Error("an English document embeds a font")
	}
}

func TestParseCJKFontRefuses(t *testing.T) {
	cases := map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("not a font at all, just some text"),
		"CFF outlines": append([]byte("OTTO"), make([]byte, 60)...),
		"empty collection": func() []byte {
			b := make([]byte, 16)
			copy(b, "ttcf")
			return b
		}(),
		"collection pointing outside": func() []byte {
			b := make([]byte, 16)
			copy(b, "ttcf")
			binary.BigEndian.PutUint32(b[8:], 1)
			binary.BigEndian.PutUint32(b[12:], 1<<30)
			return b
		}(),
	}
	for name, b := range cases {
		if _, err := ParseCJKFont(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	// A real TrueType font without Chinese glyphs is refused too.
	if _, err := ParseCJKFont(goregular.TTF); err == nil || !strings.Contains(err.Error(), "no glyph") {
		t.Errorf("Go Regular: %v, want no glyph", err)
	}
	if _, err := LoadCJKFont(filepath.Join(t.TempDir(), "missing.ttf")); err == nil {
		t.Error("LoadCJKFont(missing) succeeded")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ttf")
	if err := os.WriteFile(bad, []byte("garbage garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCJKFont(bad); err == nil {
		t.Error("LoadCJKFont(garbage) succeeded")
	}
	// The search skips what it cannot use.
	defer func(paths []string) { CJKFontPaths = paths }(CJKFontPaths)
	CJKFontPaths = []string{filepath.Join(dir, "missing.ttf"), bad}
	if _, err := FindCJKFont(); err != ErrNoCJKFont {
		t.Errorf("FindCJKFont() = %v, want ErrNoCJKFont", err)
	}
}

func TestFirstFaceOfCollection(t *testing.T) {
	font := testCJKFont(t)
	// A collection made of the face read back gives the same face.
	ttc := make([]byte, 16)
	copy(ttc, "ttcf")
	binary.BigEndian.PutUint32(ttc[4:], 0x00010000)
	binary.BigEndian.PutUint32(ttc[8:], 1)
	binary.BigEndian.PutUint32(ttc[12:], 16)
	// Table offsets in a collection count from its start: shift them.
	face := append([]byte(nil), font.ttf...)
	n := int(binary.BigEndian.Uint16(face[4:]))
	for i := 0; i < n; i++ {
		rec := face[12+16*i:]
		binary.BigEndian.PutUint32(rec[8:], binary.BigEndian.Uint32(rec[8:])+16)
	}
	ttc = append(ttc, face...)
	got, err := firstFace(ttc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, font.ttf) {
		t.Error("the face read from a collection differs from the font")
	}
}

// extractText returns the text of every page, a line per text operation,
// decoding each string through its font's ToUnicode map as a PDF reader does.
func extractText(t *testing.T, b []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("parse PDF: %v", err)
	}
	var sb strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		page := r.Page(i)
		var cmap *toUnicode
		pdf.Interpret(page.V.Key("Contents"), func(stk *pdf.Stack, op string) {
			args := make([]pdf.Value, stk.Len())
			for j := len(args) - 1; j >= 0; j-- {
				args[j] = stk.Pop()
			}
			switch {
			case op == "Tf" && len(args) == 2:
				cmap = readToUnicode(t, page.Font(args[0].Name()).V)
			case op == "Tj" && len(args) == 1:
				sb.WriteString(cmap.decode(args[0].RawString()))
				sb.WriteString("\n")
			case op == "TJ" && len(args) == 1:
				for k := 0; k < args[0].Len(); k++ {
					if e := args[0].Index(k); e.Kind() == pdf.String {
						sb.WriteString(cmap.decode(e.RawString()))
					}
				}
				sb.WriteString("\n")
			}
		})
	}
	return sb.String()
}

// toUnicode is a font's ToUnicode CMap: 2-byte codes for a composite font,
// bytes read as Latin-1 for a simple one without a map.
type toUnicode struct {
	twoByte bool
	ranges  []bfRange
}

type bfRange struct{ lo, hi, dst rune }

var (
	bfRangeRE = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
	bfBlockRE = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	bfCharRE  = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	bfPairRE  = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
)

func readToUnicode(t *testing.T, font pdf.Value) *toUnicode {
	t.Helper()
	m := &toUnicode{twoByte: font.Key("Subtype").Name() == "Type0"}
	tu := font.Key("ToUnicode")
	if tu.IsNull() {
		return m
	}
	data, err := io.ReadAll(tu.Reader())
	if err != nil {
		t.Fatalf("read ToUnicode: %v", err)
	}
	hexRune := func(s string) rune {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			t.Fatalf("ToUnicode: %q: %v", s, err)
		}
		return rune(v)
	}
	for _, block := range bfBlockRE.FindAllSubmatch(data, -1) {
		for _, r := range bfRangeRE.FindAllSubmatch(block[1], -1) {
			m.ranges = append(m.ranges, bfRange{hexRune(string(r[1])), hexRune(string(r[2])), hexRune(string(r[3]))})
		}
	}
	for _, block := range bfCharRE.FindAllSubmatch(data, -1) {
		for _, p := range bfPairRE.FindAllSubmatch(block[1], -1) {
			c := hexRune(string(p[1]))
			m.ranges = append(m.ranges, bfRange{c, c, hexRune(string(p[2]))})
		}
	}
	if len(m.ranges) == 0 {
		t.Fatalf("ToUnicode without mappings: %s", data)
	}
	return m
}

// decode maps each code to its Unicode value; a range maps consecutive codes
// to consecutive values, as readers (poppler, pdf.js) read fpdf's single
// range over all 2-byte codes.
func (m *toUnicode) decode(raw string) string {
	if m == nil || !m.twoByte {
		var sb strings.Builder
		for i := 0; i < len(raw); i++ {
			sb.WriteRune(rune(raw[i]))
		}
		return sb.String()
	}
	var sb strings.Builder
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

// checkGlyphs checks, for each composite font of the document, that every
// code its pages show maps (through CIDToGIDMap) to a glyph of the embedded
// font file that draws something, spaces excepted.
func checkGlyphs(t *testing.T, b []byte) {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("parse PDF: %v", err)
	}
	checked := 0
	for i := 1; i <= r.NumPage(); i++ {
		page := r.Page(i)
		var font pdf.Value
		pdf.Interpret(page.V.Key("Contents"), func(stk *pdf.Stack, op string) {
			args := make([]pdf.Value, stk.Len())
			for j := len(args) - 1; j >= 0; j-- {
				args[j] = stk.Pop()
			}
			switch {
			case op == "Tf" && len(args) == 2:
				font = page.Font(args[0].Name()).V
			case op == "Tj" && len(args) == 1 && font.Key("Subtype").Name() == "Type0":
				checked += checkString(t, font, args[0].RawString())
			}
		})
	}
	if checked == 0 {
		t.Fatal("no text shown in a composite font")
	}
}

func checkString(t *testing.T, font pdf.Value, raw string) int {
	t.Helper()
	cid := font.Key("DescendantFonts").Index(0)
	gidMap, err := io.ReadAll(cid.Key("CIDToGIDMap").Reader())
	if err != nil {
		t.Fatalf("read CIDToGIDMap: %v", err)
	}
	file, err := io.ReadAll(cid.Key("FontDescriptor").Key("FontFile2").Reader())
	if err != nil {
		t.Fatalf("read FontFile2: %v", err)
	}
	f, err := sfnt.Parse(file)
	if err != nil {
		t.Fatalf("embedded font: %v", err)
	}
	var buf sfnt.Buffer
	n := 0
	for i := 0; i+1 < len(raw); i += 2 {
		code := int(raw[i])<<8 | int(raw[i+1])
		c := rune(code) // fpdf's codes are the characters' code points
		if unicode.IsSpace(c) {
			continue
		}
		if 2*code+1 >= len(gidMap) {
			t.Errorf("%q (%U): outside CIDToGIDMap", c, c)
			continue
		}
		gid := sfnt.GlyphIndex(binary.BigEndian.Uint16(gidMap[2*code:]))
		if gid == 0 {
			t.Errorf("%q (%U): drawn as the missing glyph", c, c)
			continue
		}
		segs, err := f.LoadGlyph(&buf, gid, fixed.I(12), nil)
		if err != nil || len(segs) == 0 {
			t.Errorf("%q (%U): glyph %d draws nothing (%v)", c, c, gid, err)
			continue
		}
		n++
	}
	return n
}
