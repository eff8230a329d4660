package accounts

import (
	"testing"
	"time"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

func TestCurrency(t *testing.T) {
	for _, tc := range []struct {
		country string
		cloud   licensingv1.Organization_Cloud
		want    string
	}{
		{"SE", licensingv1.Organization_GLOBAL, "SEK"},
		{"FR", licensingv1.Organization_GLOBAL, "EUR"},
		{"JP", licensingv1.Organization_GLOBAL, "JPY"},
		{"BR", licensingv1.Organization_GLOBAL, "BRL"},
		{"PE", licensingv1.Organization_GLOBAL, "USD"},
		{"SE", licensingv1.Organization_CHINA_21VIANET, "CNY"},
	} {
		if got := Currency(tc.country, tc.cloud); got != tc.want {
			t.Errorf("%s in %s: %s", tc.country, tc.cloud, got)
		}
	}
}

func TestUpdateProfile(t *testing.T) {
	const acct = "organizations/o/billingAccounts/ba-1"
	stored := &billingv1.BillingProfile{Name: acct + "/billingProfiles/default", DisplayName: "Default", PoNumber: "PO-1"}
	exists := func(name string) bool {
		return name == acct+"/paymentMethods/pm-1" || name == acct+"/paymentMethods/pm-2"
	}
	in := &billingv1.BillingProfile{PaymentMethod: acct + "/paymentMethods/pm-1", PoNumber: "ignored"}
	p, err := UpdateProfile(stored, in, []string{"payment_method"}, acct, exists)
	if err != nil || p.PaymentMethod != in.PaymentMethod || p.PoNumber != "PO-1" {
		t.Fatalf("%v %v", p, err)
	}
	for name, tc := range map[string]struct {
		in    *billingv1.BillingProfile
		paths []string
	}{
		"foreign method": {&billingv1.BillingProfile{PaymentMethod: "organizations/o/billingAccounts/ba-2/paymentMethods/pm-1"}, []string{"payment_method"}},
		"unknown method": {&billingv1.BillingProfile{PaymentMethod: acct + "/paymentMethods/pm-9"}, []string{"payment_method"}},
		"same backup":    {&billingv1.BillingProfile{PaymentMethod: acct + "/paymentMethods/pm-1", BackupPaymentMethod: acct + "/paymentMethods/pm-1"}, []string{"payment_method", "backup_payment_method"}},
		"backup alone":   {&billingv1.BillingProfile{BackupPaymentMethod: acct + "/paymentMethods/pm-2"}, []string{"backup_payment_method"}},
		"bad country":    {&billingv1.BillingProfile{BillTo: &billingv1.Address{CountryCode: "XX"}}, []string{"bill_to"}},
		"long po":        {&billingv1.BillingProfile{PoNumber: string(make([]byte, 65))}, []string{"po_number"}},
		"output field":   {&billingv1.BillingProfile{}, []string{"create_time"}},
	} {
		if _, err := UpdateProfile(stored, tc.in, tc.paths, acct, exists); errs.ReasonOf(err) != "INVALID_FIELD" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNextRetry(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	if got := NextRetry(issued, issued); !got.Equal(issued.Add(3 * day)) {
		t.Fatalf("first retry %v", got)
	}
	if got := NextRetry(issued, issued.Add(28*day)); !got.Equal(issued.Add(30 * day)) {
		t.Fatalf("the last try is on day 30: %v", got)
	}
	if got := NextRetry(issued, issued.Add(30*day)); !got.IsZero() {
		t.Fatalf("retried after 30 days: %v", got)
	}
}

func TestLines(t *testing.T) {
	lines, total, err := Lines([]*billingv1.LineItem{
		{Type: billingv1.LineItem_PURCHASE, Description: "a", AmountMinor: 1000},
		{Type: billingv1.LineItem_CREDIT, Description: "b", AmountMinor: -250},
	}, "EUR")
	if err != nil || len(lines) != 2 || total != 750 {
		t.Fatalf("%v %d %v", lines, total, err)
	}
	for name, in := range map[string][]*billingv1.LineItem{
		"no type":     {{Description: "a", AmountMinor: 1}},
		"no text":     {{Type: billingv1.LineItem_PURCHASE, AmountMinor: 1}},
		"overflow":    {{Type: billingv1.LineItem_PURCHASE, Description: "a", AmountMinor: 1 << 62}, {Type: billingv1.LineItem_PURCHASE, Description: "b", AmountMinor: 1 << 62}},
		"no lines":    nil,
		"negative qt": {{Type: billingv1.LineItem_PURCHASE, Description: "a", Quantity: -1}},
	} {
		if _, _, err := Lines(in, "EUR"); errs.ReasonOf(err) != "INVALID_FIELD" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := Lines([]*billingv1.LineItem{{Type: 1, Description: "a"}}, "XYZ"); err == nil {
		t.Error("unknown currency")
	}
}

func TestLineTexts(t *testing.T) {
	ok := []*billingv1.LocalizedText{{Text: map[string]string{"en": " Pro, 2 licenses ", "zh-CN": "专业版，2 个许可证"}}}
	got, err := LineTexts(ok, 1)
	if err != nil || got[0]["en"] != "Pro, 2 licenses" || got[0]["zh-CN"] != "专业版，2 个许可证" {
		t.Fatalf("LineTexts = %v, %v", got, err)
	}
	if got, err := LineTexts(nil, 3); got != nil || err != nil {
		t.Errorf("no texts: %v, %v", got, err)
	}
	for name, in := range map[string][]*billingv1.LocalizedText{
		"count":    {ok[0], ok[0]},
		"language": {{Text: map[string]string{"de": "Pro"}}},
		"variant":  {{Text: map[string]string{"fr-CA": "Pro"}}},
		"empty":    {{Text: map[string]string{"en": " "}}},
		"control":  {{Text: map[string]string{"en": "Pro\x00"}}},
	} {
		if _, err := LineTexts(in, 1); errs.ReasonOf(err) != errs.InvalidField.Name {
			t.Errorf("%s: %v", name, err)
		}
	}
}
