// Package invoicepdf renders an invoice as a PDF document in the reader's
// language: what GET …/invoices/{inv}:download answers.
//
// The output depends on nothing but its input: the document's dates come from
// the invoice's issue time and its internal catalogs are written in a fixed
// order, so rendering the same invoice twice gives the same bytes.
package invoicepdf

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-pdf/fpdf"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/money"
)

// Seller is who issues the invoice.
type Seller struct {
	Name         string
	AddressLines []string
	VATID        string // VAT or company registration number
}

// DefaultSeller is the selfserve company, printed when a Document names no
// seller.
var DefaultSeller = Seller{
	Name:         "Selfserve Ltd",
	AddressLines: []string{"1 Harbour Square", "Dublin D02 X285", "Ireland"},
	VATID:        "IE3851204QH",
}

// ChinaSeller issues the invoices of the 21Vianet cloud, where a local
// operator sells the service in CNY.
var ChinaSeller = Seller{
	Name:         "Selfserve（上海）信息技术有限公司",
	AddressLines: []string{"上海市浦东新区世纪大道 100 号", "200120", "中国"},
	VATID:        "91310115MA1K4RLF0P",
}

// Document is everything printed on an invoice. Account and Profile may be
// nil; the bill-to address is the profile's, or else the account's sold-to.
type Document struct {
	Invoice *billingv1.Invoice
	Account *billingv1.BillingAccount
	Profile *billingv1.BillingProfile
	Seller  Seller // DefaultSeller when zero
}

// Renderer renders invoices with the fonts it holds.
type Renderer struct {
	// CJK sets Chinese documents. Without it their Chinese characters have
	// no glyphs (see setTypeface).
	CJK *Font
}

// Render is Renderer{}.Render: Chinese documents without Chinese glyphs.
func Render(d Document, lang language.Tag) ([]byte, error) {
	return Renderer{}.Render(d, lang)
}

// Render writes the document as a PDF with its labels, dates and amounts in
// lang, or in the supported language nearest to it (see locale.Match).
func (rr Renderer) Render(d Document, lang language.Tag) ([]byte, error) {
	inv := d.Invoice
	if inv == nil {
		return nil, errors.New("invoicepdf: no invoice")
	}
	cur, err := money.Lookup(inv.GetCurrencyCode())
	if err != nil {
		return nil, fmt.Errorf("invoicepdf: invoice %s: %w", inv.GetInvoiceNumber(), err)
	}
	if d.Seller.Name == "" && len(d.Seller.AddressLines) == 0 && d.Seller.VATID == "" {
		d.Seller = DefaultSeller
	}
	lang = locale.Match(lang.String())

	r := newRenderer(d, lang, cur, rr.CJK)
	r.pdf.AddPage()
	r.header()
	r.billTo()
	r.lineItems()
	r.totals()

	var buf bytes.Buffer
	if err := r.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("invoicepdf: invoice %s: %w", inv.GetInvoiceNumber(), err)
	}
	return buf.Bytes(), nil
}

// Page geometry, in millimetres on A4.
const (
	margin       = 18.0
	pageWidth    = 210.0
	pageHeight   = 297.0
	contentWidth = pageWidth - 2*margin
	bottomLimit  = pageHeight - 24 // leaves room for the footer
	lineHeight   = 4.6
)

// Columns of the line-item table.
const (
	colDescription = 82.0
	colPeriod      = 46.0
	colQuantity    = 16.0
	colAmount      = contentWidth - colDescription - colPeriod - colQuantity
	cellPadding    = 1.5
)

// Colours, as grey levels.
const (
	greyText   = 90
	greyRule   = 190
	greyHeader = 236
)

type renderer struct {
	pdf  *fpdf.Fpdf
	face typeface
	doc  Document
	inv  *billingv1.Invoice
	lang language.Tag
	cur  money.Currency
}

func newRenderer(d Document, lang language.Tag, cur money.Currency, cjk *Font) *renderer {
	pdf := fpdf.New("P", "mm", "A4", "")
	r := &renderer{pdf: pdf, doc: d, inv: d.Invoice, lang: lang, cur: cur}
	r.face = setTypeface(pdf, lang, cjk, documentTexts(d))

	// Reproducible output: dates from the invoice, catalogs in a fixed order.
	issued := time.Unix(0, 0).UTC()
	if t := r.inv.GetIssueTime(); t != nil {
		issued = t.AsTime().UTC()
	}
	pdf.SetCreationDate(issued)
	pdf.SetModificationDate(issued)
	pdf.SetCatalogSort(true)

	title := text(lang, labelInvoice) + " " + r.inv.GetInvoiceNumber()
	pdf.SetTitle(title, true)
	pdf.SetAuthor(d.Seller.Name, true)
	pdf.SetCreator("selfserve", false)
	pdf.SetProducer("selfserve", false)
	pdf.SetLang(locale.Code(lang))

	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(false, 0) // rows break pages themselves, header included
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(r.footer)
	return r
}

func (r *renderer) font(style string, size float64) {
	if r.face.oneWeight {
		style = ""
	}
	r.pdf.SetFont(r.face.family, style, size)
}

// cell prints one line of text at the current position and moves right.
func (r *renderer) cell(w, h float64, s, align string) {
	r.pdf.CellFormat(w, h, r.face.encode(s), "", 0, align, false, 0, "")
}

// line prints one line of text at x and moves down.
func (r *renderer) line(x, w float64, s, align string) {
	r.pdf.SetX(x)
	r.pdf.CellFormat(w, lineHeight, r.face.encode(s), "", 1, align, false, 0, "")
}

func (r *renderer) width(s string) float64 {
	return r.pdf.GetStringWidth(r.face.encode(s))
}

// header prints the seller on the left and the title block on the right.
func (r *renderer) header() {
	pdf, seller := r.pdf, r.doc.Seller

	pdf.SetXY(margin, margin)
	r.font("B", 12)
	pdf.SetTextColor(0, 0, 0)
	r.line(margin, 95, seller.Name, "L")
	r.font("", 9)
	for _, l := range seller.AddressLines {
		r.line(margin, 95, l, "L")
	}
	if seller.VATID != "" {
		r.line(margin, 95, text(r.lang, labelVATID)+": "+seller.VATID, "L")
	}
	leftBottom := pdf.GetY()

	const x, labelW, valueW = 112.0, 40.0, pageWidth - margin - 112.0 - 40.0
	pdf.SetXY(x, margin-2)
	r.font("B", 22)
	pdf.CellFormat(labelW+valueW, 11, r.face.encode(text(r.lang, labelInvoice)), "", 1, "R", false, 0, "")
	pdf.Ln(1)

	rows := [][2]string{
		{text(r.lang, labelInvoiceNumber), r.inv.GetInvoiceNumber()},
		{text(r.lang, labelStatus), r.status()},
		{text(r.lang, labelIssueDate), formatDate(r.inv.GetIssueTime(), r.lang)},
		{text(r.lang, labelDueDate), formatDate(r.inv.GetDueTime(), r.lang)},
	}
	if r.inv.GetPaidTime() != nil {
		rows = append(rows, [2]string{text(r.lang, labelPaidDate), formatDate(r.inv.GetPaidTime(), r.lang)})
	}
	for _, row := range rows {
		if row[1] == "" {
			continue
		}
		pdf.SetX(x)
		r.font("", 9)
		pdf.SetTextColor(greyText, greyText, greyText)
		r.cell(labelW, lineHeight, row[0], "L")
		r.font("B", 9)
		pdf.SetTextColor(0, 0, 0)
		r.cell(valueW, lineHeight, row[1], "R")
		pdf.Ln(lineHeight)
	}
	pdf.SetY(max(leftBottom, pdf.GetY()) + 10)
}

func (r *renderer) status() string {
	switch r.inv.GetStatus() {
	case billingv1.Invoice_OPEN:
		return text(r.lang, labelStatusOpen)
	case billingv1.Invoice_PAID:
		return text(r.lang, labelStatusPaid)
	case billingv1.Invoice_PAST_DUE:
		return text(r.lang, labelStatusPastDue)
	case billingv1.Invoice_VOID:
		return text(r.lang, labelStatusVoid)
	}
	return ""
}

// billTo prints the customer: the bill-to address, the account's name and the
// purchase order number when there is one.
func (r *renderer) billTo() {
	pdf := r.pdf
	addr := r.doc.Profile.GetBillTo()
	if addressLines(addr, r.lang) == nil {
		addr = r.doc.Account.GetSoldTo()
	}

	r.font("B", 9)
	pdf.SetTextColor(greyText, greyText, greyText)
	r.line(margin, 95, text(r.lang, labelBillTo), "L")
	pdf.SetTextColor(0, 0, 0)
	r.font("", 9)
	for _, l := range addressLines(addr, r.lang) {
		r.line(margin, 95, l, "L")
	}
	pdf.Ln(2)
	if name := r.doc.Account.GetDisplayName(); name != "" {
		r.line(margin, contentWidth, text(r.lang, labelBillingAccount)+": "+name, "L")
	}
	if po := r.doc.Profile.GetPoNumber(); po != "" {
		r.line(margin, contentWidth, text(r.lang, labelPONumber)+": "+po, "L")
	}
	pdf.Ln(8)
}

// addressLines lays an address out as it goes on an envelope, the country
// named in the reader's language; nil when it has nothing to print.
func addressLines(a *billingv1.Address, lang language.Tag) []string {
	if a == nil {
		return nil
	}
	var lines []string
	add := func(parts ...string) {
		if s := strings.TrimSpace(strings.Join(parts, " ")); s != "" {
			lines = append(lines, s)
		}
	}
	add(a.GetOrganization())
	add(a.GetRecipient())
	add(a.GetAddressLine1())
	add(a.GetAddressLine2())
	add(a.GetPostalCode(), a.GetCity())
	add(a.GetRegion())
	if len(lines) == 0 && a.GetCountryCode() == "" {
		return nil
	}
	add(countryName(a.GetCountryCode(), lang))
	return lines
}

func countryName(code string, lang language.Tag) string {
	region, err := language.ParseRegion(code)
	if err != nil {
		return code
	}
	if name := display.Regions(lang).Name(region); name != "" {
		return name
	}
	return code
}

// lineItems prints the table of lines, starting it again on each new page.
func (r *renderer) lineItems() {
	pdf := r.pdf
	r.tableHeader()
	r.font("", 9)
	for _, item := range r.inv.GetLineItems() {
		desc := r.wrap(item.GetDescription(), colDescription-2*cellPadding)
		if len(desc) == 0 {
			desc = []string{""}
		}
		h := float64(len(desc))*lineHeight + 2*cellPadding
		if pdf.GetY()+h > bottomLimit {
			pdf.AddPage()
			r.tableHeader()
			r.font("", 9)
		}
		y := pdf.GetY()
		qty := ""
		if q := item.GetQuantity(); q != 0 {
			qty = strconv.Itoa(int(q))
		}
		pdf.SetXY(margin, y+cellPadding)
		for _, l := range desc {
			pdf.SetX(margin + cellPadding)
			r.cell(colDescription-2*cellPadding, lineHeight, l, "L")
			pdf.Ln(lineHeight)
		}
		pdf.SetXY(margin+colDescription, y+cellPadding)
		r.cell(colPeriod, lineHeight, formatPeriod(item.GetPeriodStart(), item.GetPeriodEnd(), r.lang), "L")
		r.cell(colQuantity, lineHeight, qty, "R")
		r.cell(colAmount-cellPadding, lineHeight, money.Format(item.GetAmountMinor(), r.cur, r.lang), "R")

		pdf.SetDrawColor(greyRule, greyRule, greyRule)
		pdf.Line(margin, y+h, margin+contentWidth, y+h)
		pdf.SetY(y + h)
	}
	pdf.Ln(4)
}

func (r *renderer) tableHeader() {
	pdf := r.pdf
	r.font("B", 9)
	pdf.SetFillColor(greyHeader, greyHeader, greyHeader)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetX(margin)
	h := lineHeight + 2*cellPadding
	pdf.Rect(margin, pdf.GetY(), contentWidth, h, "F")
	pdf.SetX(margin + cellPadding)
	r.cell(colDescription-cellPadding, h, text(r.lang, labelDescription), "L")
	r.cell(colPeriod, h, text(r.lang, labelPeriod), "L")
	r.cell(colQuantity, h, text(r.lang, labelQuantity), "R")
	r.cell(colAmount-cellPadding, h, text(r.lang, labelAmount), "R")
	pdf.Ln(h)
}

// totals prints subtotal, tax and total under the amount column, and the
// currency they are in.
func (r *renderer) totals() {
	pdf := r.pdf
	const blockHeight = 4*lineHeight + 8
	if pdf.GetY()+blockHeight > bottomLimit {
		pdf.AddPage()
	}
	const valueW = 42.0
	const labelW = 50.0
	x := margin + contentWidth - labelW - valueW

	row := func(l label, minor int64, style string) {
		pdf.SetX(x)
		r.font(style, 9)
		r.cell(labelW, lineHeight+1, text(r.lang, l), "L")
		r.cell(valueW-cellPadding, lineHeight+1, money.Format(minor, r.cur, r.lang), "R")
		pdf.Ln(lineHeight + 1)
	}
	row(labelSubtotal, r.inv.GetSubtotalMinor(), "")
	row(labelTax, r.inv.GetTaxMinor(), "")
	pdf.SetDrawColor(0, 0, 0)
	pdf.Line(x, pdf.GetY()+0.5, margin+contentWidth, pdf.GetY()+0.5)
	pdf.Ln(1)
	row(labelTotal, r.inv.GetTotalMinor(), "B")

	pdf.Ln(2)
	pdf.SetX(x)
	r.font("", 8)
	pdf.SetTextColor(greyText, greyText, greyText)
	r.cell(labelW+valueW-cellPadding, lineHeight, text(r.lang, labelCurrency)+": "+r.cur.Code, "L")
	pdf.SetTextColor(0, 0, 0)
}

// footer prints the seller, the invoice number and the page on every page.
func (r *renderer) footer() {
	pdf := r.pdf
	pdf.SetY(pageHeight - 14)
	r.font("", 8)
	pdf.SetTextColor(greyText, greyText, greyText)
	left := r.doc.Seller.Name + " · " + text(r.lang, labelInvoice) + " " + r.inv.GetInvoiceNumber()
	pdf.SetX(margin)
	r.cell(contentWidth-20, lineHeight, left, "L")
	r.cell(20, lineHeight, strconv.Itoa(pdf.PageNo())+" / {nb}", "R")
	pdf.SetTextColor(0, 0, 0)
}

// wrap breaks text into lines no wider than w in the current font: between
// words, between CJK characters, and inside a word only when the word alone
// is wider than a line.
func (r *renderer) wrap(s string, w float64) []string {
	var lines []string
	for _, para := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		cur := ""
		for _, tok := range tokens(para) {
			next := cur + tok
			if cur == "" {
				next = strings.TrimLeft(tok, " ")
			}
			if r.width(next) <= w {
				cur = next
				continue
			}
			if cur != "" {
				lines = append(lines, strings.TrimRight(cur, " "))
			}
			cur = strings.TrimLeft(tok, " ")
			for r.width(cur) > w && len([]rune(cur)) > 1 {
				head := []rune(cur)
				n := len(head) - 1
				for n > 1 && r.width(string(head[:n])) > w {
					n--
				}
				lines = append(lines, string(head[:n]))
				cur = string(head[n:])
			}
		}
		lines = append(lines, strings.TrimRight(cur, " "))
	}
	return lines
}

// tokens splits text into words that keep their leading space, with each
// CJK character a word of its own.
func tokens(s string) []string {
	var toks []string
	start := 0
	for i, c := range s {
		cjk := unicode.In(c, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
		if (c == ' ' || cjk) && i > start {
			toks = append(toks, s[start:i])
			start = i
		}
		if cjk {
			toks = append(toks, s[i:i+len(string(c))])
			start = i + len(string(c))
		}
	}
	if start < len(s) {
		toks = append(toks, s[start:])
	}
	return toks
}
