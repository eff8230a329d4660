package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/billing/invoicepdf"
	"github.com/selfserve/selfserve/services/billing/invoicepdf/pdftext"
)

// cjkFontPath is a font with Chinese glyphs: the system's, or else the one a
// Go module of the module cache ships.
func cjkFontPath(t *testing.T) string {
	t.Helper()
	f, err := invoicepdf.FindCJKFont()
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if f, err = invoicepdf.ModuleCacheCJKFont(ctx); err != nil {
			t.Fatalf("no Chinese font: %v", err)
		}
	}
	return f.Path
}

// TestEndToEndChineseInvoice: a purchase in the 21Vianet cloud, paid by
// Alipay in CNY, gives an invoice whose lines read in the reader's language,
// and whose zh-CN PDF carries the Chinese text with a glyph for every
// character.
func TestEndToEndChineseInvoice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir(), "--cjk-font", cjkFontPath(t))}
	wang := s.r.tokens["fabrikam-cn/wang"]
	plain, _, _, _, _ := s.products(wang)
	account := s.ok("POST", "/v1/organizations/fabrikam-cn/billingAccounts", wang, `{"displayName":"王","soldTo":{"countryCode":"CN"}}`)["name"].(string)
	pm := s.ok("POST", "/v1/"+account+"/paymentMethods", wang, `{"alipay":{"loginId":"wang@fabrikam.example"}}`)["name"].(string)
	s.ok("PATCH", "/v1/"+account+"/billingProfiles/default", wang, fmt.Sprintf(`{"paymentMethod":%q}`, pm))
	s.ok("POST", "/v1/organizations/fabrikam-cn/subscriptions:purchase", wang, buy(plain, account+"/billingProfiles/default", 3, ""))

	_, zh := s.r.do(t, call{method: "GET", path: "/v1/" + plain, token: wang, headers: map[string]string{"Accept-Language": "zh-Hans"}})
	zhName, _ := zh["displayName"].(string)

	// The line's description, in each reader's language.
	var invoice, zhDesc string
	for lang, want := range map[string]string{"": "3 licenses, monthly", "fr-CA, en;q=0.5": "3 licences, mensuel", "sv": "3 licenser, månadsvis", "zh-Hans": zhName + "，3 个许可证，按月计费"} {
		code, out := s.r.do(t, call{method: "GET", path: "/v1/" + account + "/invoices", token: wang, headers: map[string]string{"Accept-Language": lang}})
		list, _ := out["invoices"].([]any)
		if code != 200 || len(list) != 1 {
			t.Fatalf("invoices in %q: %d %v", lang, code, out)
		}
		inv := list[0].(map[string]any)
		line := inv["lineItems"].([]any)[0].(map[string]any)
		desc, _ := line["description"].(string)
		if !strings.HasSuffix(desc, want) || len(line) != 7 || inv["currencyCode"] != "CNY" {
			t.Errorf("invoice in %q: description %q, want …%q; line %v", lang, desc, want, line)
		}
		invoice = inv["name"].(string)
		if lang == "zh-Hans" {
			zhDesc = desc
		}
	}

	// The PDF in Chinese, issued by the local seller; in English, the
	// customer's Chinese name still prints.
	for lang, wants := range map[string][]string{
		"zh-CN,zh;q=0.9,en;q=0.5": {"发票", "已付款", zhDesc, "¥", invoicepdf.ChinaSeller.Name, "王"},
		"en":                      {"Invoice", "Paid", "licenses, monthly", "CNY", invoicepdf.ChinaSeller.Name, "王"},
	} {
		req, _ := http.NewRequest("GET", s.r.url+"/v1/"+invoice+":download", nil)
		req.Header.Set("Authorization", "Bearer "+wang)
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("download in %s: %d %s", lang, resp.StatusCode, pdf)
		}
		text, err := pdftext.Extract(pdf)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range wants {
			if !strings.Contains(text, want) {
				t.Errorf("the invoice in %s lacks %q:\n%s", lang, want, text)
			}
		}
		if n, err := pdftext.Glyphs(pdf); err != nil {
			t.Errorf("glyphs in %s: %v", lang, err)
		} else {
			t.Logf("%s: %d characters drawn, every one with its glyph", lang, n)
		}
	}

	// Payment by invoice: in the 21Vianet cloud only, for a company with a
	// valid unified social credit code.
	methods := "/v1/" + account + "/paymentMethods"
	s.fails("POST", methods, wang, `{"invoice":{"companyName":"法布里坎","taxId":"91350100M000100Y44"}}`, 400, "INVALID_FIELD")
	byInvoice := s.ok("POST", methods, wang, `{"invoice":{"companyName":"法布里坎（上海）有限公司","taxId":"91350100M000100Y43"}}`)
	if byInvoice["invoice"].(map[string]any)["taxId"] != "91350100M000100Y43" {
		t.Fatalf("invoice method: %v", byInvoice)
	}
	s.ok("PATCH", "/v1/"+account+"/billingProfiles/default", wang, fmt.Sprintf(`{"paymentMethod":%q}`, byInvoice["name"]))
	s.ok("POST", "/v1/organizations/fabrikam-cn/subscriptions:purchase", wang, buy(plain, account+"/billingProfiles/default", 1, ""))
	list := s.ok("GET", "/v1/"+account+"/invoices", wang, "")["invoices"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["status"] != "PAID" {
		t.Fatalf("invoices after paying by invoice: %v", list)
	}
	maxTok := s.r.tokens["contoso/max"]
	global := s.ok("POST", "/v1/organizations/contoso/billingAccounts", maxTok, `{"displayName":"Max","soldTo":{"countryCode":"SE"}}`)["name"].(string)
	s.fails("POST", "/v1/"+global+"/paymentMethods", maxTok, `{"invoice":{"companyName":"Contoso","taxId":"91350100M000100Y43"}}`, 400, "PAYMENT_METHOD_NOT_SUPPORTED")
}
