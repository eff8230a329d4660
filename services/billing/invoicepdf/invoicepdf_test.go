package invoicepdf

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"
	"golang.org/x/text/language"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/money"
)

// -write keeps every rendered test invoice in a folder, to look at.
var writeDir = flag.String("write", "", "write the rendered PDFs into this folder")

func ts(s string) *timestamppb.Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

// Line descriptions, with letters from each code page language and a euro
// sign so that the cp1252 path is exercised.
const (
	descPurchase = "Selfserve Pro, annual — 10 licences"
	descAdd      = "Ajout de 2 licences · Växjö kontor"
	descCredit   = "Crédit au prorata (geste 5 €)"
)

// amounts per currency: three lines (the last a credit), tax, and the
// total as a reader of each language sees it. French groups digits with a
// narrow no-break space, which the core fonts print as a no-break space.
var amounts = map[string]struct {
	lines    [3]int64
	tax      int64
	subtotal int64
	total    int64
	printed  map[string]string
}{
	"EUR": {
		lines: [3]int64{120000, 30000, -15500}, subtotal: 134500, tax: 26900, total: 161400,
		printed: map[string]string{"en": "EUR 1,614.00", "fr": "1\u00a0614,00\u00a0€", "sv": "1\u00a0614,00\u00a0€"},
	},
	"JPY": {
		lines: [3]int64{180000, 45000, -20000}, subtotal: 205000, tax: 20500, total: 225500,
		printed: map[string]string{"en": "JPY 225,500", "fr": "225\u00a0500\u00a0JPY", "sv": "225\u00a0500\u00a0JPY"},
	},
	"KWD": {
		lines: [3]int64{125000, 31250, -18750}, subtotal: 137500, tax: 0, total: 137500,
		printed: map[string]string{"en": "KWD 137.500", "fr": "137,500\u00a0KWD", "sv": "137,500\u00a0KWD"},
	},
}

func fixture(code string) Document {
	a := amounts[code]
	return Document{
		Invoice: &billingv1.Invoice{
			Name:          "organizations/contoso/billingAccounts/ba1/invoices/inv-7",
			InvoiceNumber: "INV-2026-000417",
			Status:        billingv1.Invoice_OPEN,
			LineItems: []*billingv1.LineItem{
				{
					Type: billingv1.LineItem_PURCHASE, Description: descPurchase, Quantity: 10,
					Subscription: "organizations/contoso/subscriptions/s1",
					PeriodStart:  ts("2026-11-21T00:00:00Z"), PeriodEnd: ts("2027-11-21T00:00:00Z"),
					AmountMinor: a.lines[0],
				},
				{
					Type: billingv1.LineItem_ADD_QUANTITY, Description: descAdd, Quantity: 2,
					Subscription: "organizations/contoso/subscriptions/s1",
					PeriodStart:  ts("2026-11-25T00:00:00Z"), PeriodEnd: ts("2027-11-21T00:00:00Z"),
					AmountMinor: a.lines[1],
				},
				{
					Type: billingv1.LineItem_CREDIT, Description: descCredit, Quantity: 1,
					PeriodStart: ts("2026-11-25T00:00:00Z"), PeriodEnd: ts("2026-12-21T00:00:00Z"),
					AmountMinor: a.lines[2],
				},
			},
			SubtotalMinor:  a.subtotal,
			TaxMinor:       a.tax,
			TotalMinor:     a.total,
			CurrencyCode:   code,
			IssueTime:      ts("2026-11-21T09:30:00Z"),
			DueTime:        ts("2026-12-21T09:30:00Z"),
			BillingProfile: "organizations/contoso/billingAccounts/ba1/billingProfiles/default",
		},
		Account: &billingv1.BillingAccount{
			DisplayName: "Contoso Nordic",
			SoldTo: &billingv1.Address{
				CountryCode: "SE", City: "Göteborg", PostalCode: "411 04",
				AddressLine1: "Kungsportsavenyen 1", Organization: "Contoso Nordic AB",
			},
			CurrencyCode: code,
		},
		Profile: &billingv1.BillingProfile{PoNumber: "PO-4471"},
	}
}

// render renders and checks the envelope of a PDF file, keeping it under
// -write when asked.
func render(t *testing.T, d Document, lang language.Tag) []byte {
	t.Helper()
	b, err := Render(d, lang)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("output starts with %q, want %%PDF-", b[:min(len(b), 8)])
	}
	if !bytes.HasSuffix(bytes.TrimRight(b, "\r\n"), []byte("%%EOF")) {
		t.Fatalf("output ends with %q, want %%%%EOF", b[max(0, len(b)-8):])
	}
	if *writeDir != "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".pdf"
		if err := os.WriteFile(filepath.Join(*writeDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// extract reads a PDF back with a PDF parser and returns the text of each
// page, one line of text per row.
func extract(t *testing.T, b []byte) []string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("parse PDF: %v", err)
	}
	pages := make([]string, 0, r.NumPage())
	for i := 1; i <= r.NumPage(); i++ {
		rows, err := r.Page(i).GetTextByRow()
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		var sb strings.Builder
		for _, row := range rows {
			for j, w := range row.Content {
				if j > 0 {
					sb.WriteString(" | ")
				}
				sb.WriteString(w.S)
			}
			sb.WriteString("\n")
		}
		pages = append(pages, sb.String())
	}
	return pages
}

func wantText(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("text has no %q; text:\n%s", w, got)
		}
	}
}

func TestRenderCodePageLanguages(t *testing.T) {
	titles := map[string]string{"en": "Invoice", "fr": "Facture", "sv": "Faktura"}
	issued := map[string]string{"en": "2026-11-21", "fr": "21/11/2026", "sv": "2026-11-21"}
	for _, code := range []string{"EUR", "JPY", "KWD"} {
		for _, lang := range []language.Tag{locale.English, locale.French, locale.Swedish} {
			l := locale.Code(lang)
			t.Run(code+"/"+l, func(t *testing.T) {
				d := fixture(code)
				pages := extract(t, render(t, d, lang))
				if len(pages) != 1 {
					t.Fatalf("%d pages, want 1", len(pages))
				}
				a := amounts[code]
				wantText(t, pages[0],
					d.Invoice.InvoiceNumber, titles[l], issued[l],
					descPurchase, descAdd, descCredit,
					a.printed[l],
					printed(t, a.subtotal, code, lang),
					printed(t, a.lines[2], code, lang),
					text(lang, labelTotal), text(lang, labelStatusOpen), text(lang, labelBillTo),
					"Contoso Nordic AB", "Göteborg", "PO-4471", DefaultSeller.VATID,
				)
			})
		}
	}
}

// printed is an amount as the code page fonts show it.
func printed(t *testing.T, minor int64, code string, lang language.Tag) string {
	t.Helper()
	cur, err := money.Lookup(code)
	if err != nil {
		t.Fatal(err)
	}
	return codePageSafe(money.Format(minor, cur, lang))
}

func TestRenderChinese(t *testing.T) {
	d := fixture("EUR")
	b := render(t, d, locale.Chinese)

	// The parser reads fpdf's one-range ToUnicode map strictly (its last
	// byte wraps), so its text extraction garbles code points above U+00FF;
	// what is in Latin-1 reads back.
	wantText(t, extract(t, b)[0], d.Invoice.InvoiceNumber, "2026-11-21", descAdd)

	// All the text, Chinese labels included, reads back through the
	// ToUnicode map. Without a CJK font the Chinese characters have no glyphs
	// (see setTypeface and TestRenderChineseWithCJKFont).
	wantText(t, extractText(t, b),
		"发票", "发票号码", "开票日期", "收票方", "瑞典", "描述", "总计", "待付款",
		d.Invoice.InvoiceNumber, "2026-11-21", descPurchase, descAdd, descCredit, "€1,614.00",
	)
}

func TestRenderIsDeterministic(t *testing.T) {
	for _, lang := range locale.Supported {
		t.Run(locale.Code(lang), func(t *testing.T) {
			first := render(t, fixture("EUR"), lang)
			for range 3 {
				if again := render(t, fixture("EUR"), lang); !bytes.Equal(first, again) {
					t.Fatal("two renderings of the same invoice differ")
				}
			}
		})
	}
}

func TestRenderBillTo(t *testing.T) {
	billTo := &billingv1.Address{
		CountryCode: "FR", City: "Lyon", PostalCode: "69002",
		AddressLine1: "12 rue de la République", Recipient: "Service comptabilité",
	}
	for _, c := range []struct {
		name      string
		edit      func(*Document)
		want, not []string
	}{
		{
			name: "profile bill-to over sold-to",
			edit: func(d *Document) { d.Profile.BillTo = billTo },
			want: []string{"Service comptabilité", "12 rue de la République", "69002 Lyon", "France", "Contoso Nordic", "PO-4471"},
			not:  []string{"Göteborg", "Sweden"},
		},
		{
			name: "sold-to without a profile",
			edit: func(d *Document) { d.Profile = nil },
			want: []string{"Contoso Nordic AB", "411 04 Göteborg", "Sweden"},
			not:  []string{"PO number", "PO-4471"},
		},
		{
			name: "no account, no profile",
			edit: func(d *Document) { d.Account, d.Profile = nil, nil },
			want: []string{"Bill to", "INV-2026-000417"},
			not:  []string{"Billing account", "Göteborg"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := fixture("EUR")
			c.edit(&d)
			page := extract(t, render(t, d, locale.English))[0]
			wantText(t, page, c.want...)
			for _, n := range c.not {
				if strings.Contains(page, n) {
					t.Errorf("text has %q; text:\n%s", n, page)
				}
			}
		})
	}
}

func TestRenderSellerAndPayment(t *testing.T) {
	d := fixture("EUR")
	d.Seller = Seller{Name: "Selfserve AB", AddressLines: []string{"Drottninggatan 5", "111 51 Stockholm"}, VATID: "SE556000000001"}
	d.Invoice.Status = billingv1.Invoice_PAID
	d.Invoice.PaidTime = ts("2026-11-23T08:00:00Z")
	page := extract(t, render(t, d, locale.Swedish))[0]
	wantText(t, page, "Selfserve AB", "Drottninggatan 5", "Momsreg.nr: SE556000000001", "Betald", "Betalningsdatum", "2026-11-23")
	if strings.Contains(page, DefaultSeller.Name) {
		t.Errorf("a document's own seller still prints %q", DefaultSeller.Name)
	}
}

func TestRenderMatchesLanguage(t *testing.T) {
	for tag, title := range map[string]string{"de": "Invoice", "fr-CA": "Facture", "sv-FI": "Faktura", "und": "Invoice"} {
		page := extract(t, render(t, fixture("EUR"), language.Make(tag)))[0]
		wantText(t, page, title)
	}
}

func TestRenderRefuses(t *testing.T) {
	if _, err := Render(Document{}, locale.English); err == nil {
		t.Error("Render without an invoice succeeded")
	}
	for _, code := range []string{"", "eur", "ABC"} {
		d := fixture("EUR")
		d.Invoice.CurrencyCode = code
		if _, err := Render(d, locale.English); err == nil {
			t.Errorf("Render with currency %q succeeded", code)
		}
	}
}

func TestRenderBreaksLongInvoicesIntoPages(t *testing.T) {
	d := fixture("EUR")
	item := d.Invoice.LineItems[0]
	d.Invoice.LineItems = nil
	for i := range 60 {
		li := proto.CloneOf(item)
		li.Description = "Line " + strconv.Itoa(i+1) + ": a description long enough to take two lines in the description column"
		d.Invoice.LineItems = append(d.Invoice.LineItems, li)
	}
	pages := extract(t, render(t, d, locale.English))
	if len(pages) < 2 {
		t.Fatalf("%d pages for 60 two-line items, want more than one", len(pages))
	}
	for i, p := range pages {
		wantText(t, p, "Description", "Amount", strconv.Itoa(i+1)+" / "+strconv.Itoa(len(pages)))
	}
	last := pages[len(pages)-1]
	wantText(t, last, "Line 60:", "Total", "EUR 1,614.00")
}

func TestWrap(t *testing.T) {
	r := newRenderer(fixture("EUR"), locale.English, money.Currency{Code: "EUR", Exponent: 2}, nil)
	r.font("", 9)
	const w = 40.0
	for _, s := range []string{
		"Selfserve Pro, annual subscription for ten licences, prorated from the day of purchase",
		"Averyveryveryveryveryveryveryverylongwordwithoutanyspaceinsideit",
		"short",
		"",
	} {
		lines := r.wrap(s, w)
		for _, l := range lines {
			if r.width(l) > w {
				t.Errorf("wrap(%q): line %q is %.1f mm wide, more than %.0f", s, l, r.width(l), w)
			}
		}
		if got := strings.ReplaceAll(strings.Join(lines, " "), " ", ""); got != strings.ReplaceAll(s, " ", "") {
			t.Errorf("wrap(%q) lost text: %q", s, lines)
		}
	}
}
