package invoicepdf

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/text/language"

	"github.com/selfserve/selfserve/services/billing/cards"
	"github.com/selfserve/selfserve/services/billing/invoicepdf/pdftext"
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
	// Other languages embed nothing when their text fits in code page 1252…
	en, err := Renderer{CJK: font}.Render(fixture("EUR"), locale.English)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(en, []byte("FontFile2")) {
		t.Error("an English document in Latin letters embeds a font")
	}
}

// An English or French invoice of a Chinese customer, or with Chinese line
// descriptions, is set in the Unicode font too: nothing prints as "?".
func TestRenderOtherScriptsInCodePageLanguages(t *testing.T) {
	font := testCJKFont(t)
	d := chineseFixture()
	d.Account.DisplayName = "王的账户"
	for _, lang := range []language.Tag{locale.English, locale.French} {
		b, err := Renderer{CJK: font}.Render(d, lang)
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, extractText(t, b), "王的账户", zhPurchase, zhAdd, "Contoso Nordic AB")
		checkGlyphs(t, b)
	}
	// Without a CJK font, Go Regular still sets Greek and Cyrillic.
	d = fixture("EUR")
	d.Invoice.LineItems[0].Description = "Лицензии · Άδειες"
	b, err := Render(d, locale.French)
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, extractText(t, b), "Лицензии · Άδειες")
	checkGlyphs(t, b)
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

// extractText is pdftext.Extract, failing the test on an error.
func extractText(t *testing.T, b []byte) string {
	t.Helper()
	s, err := pdftext.Extract(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkGlyphs is pdftext.Glyphs, failing the test on an error.
func checkGlyphs(t *testing.T, b []byte) {
	t.Helper()
	if _, err := pdftext.Glyphs(b); err != nil {
		t.Error(err)
	}
}

func TestChinaSellerTaxID(t *testing.T) {
	if !cards.ValidTaxID(ChinaSeller.VATID) {
		t.Errorf("%s is no unified social credit code", ChinaSeller.VATID)
	}
}

// BenchmarkRender: go test -bench Render -run '^$' ./invoicepdf/
func BenchmarkRender(b *testing.B) {
	font, err := FindCJKFont()
	if err != nil {
		if font, err = ModuleCacheCJKFont(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		lang language.Tag
		d    Document
	}{
		{"en", locale.English, fixture("EUR")},
		{"fr", locale.French, fixture("EUR")},
		{"zh-CN", locale.Chinese, chineseFixture()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := (Renderer{CJK: font}).Render(tc.d, tc.lang); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
