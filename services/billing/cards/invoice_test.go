package cards

import (
	"errors"
	"strings"
	"testing"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

func TestValidTaxID(t *testing.T) {
	for _, id := range []string{"91350100M000100Y43", "911101080828461726"} {
		if !ValidTaxID(id) {
			t.Errorf("%s refused", id)
		}
	}
	for _, id := range []string{
		"",
		"91350100M000100Y4",   // 17 characters
		"91350100M000100Y430", // 19
		"91350100M000100Y44",  // wrong check character
		"91350100I000100Y43",  // I is not in the alphabet
		"91350100m000100Y43",  // lower case
		"9135010０M000100Y43",  // a full-width digit
	} {
		if ValidTaxID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestValidateInvoice(t *testing.T) {
	got, err := ValidateInvoice(&billingv1.InvoicePayment{CompanyName: "  法布里坎（上海）有限公司 ", TaxId: "91350100 m000100y43"})
	if err != nil || got.GetCompanyName() != "法布里坎（上海）有限公司" || got.GetTaxId() != "91350100M000100Y43" {
		t.Fatalf("ValidateInvoice = %v, %v", got, err)
	}
	for _, tc := range []struct {
		field string
		in    *billingv1.InvoicePayment
	}{
		{"invoice.company_name", &billingv1.InvoicePayment{CompanyName: "  ", TaxId: "91350100M000100Y43"}},
		{"invoice.company_name", &billingv1.InvoicePayment{CompanyName: strings.Repeat("公", MaxHolderName+1), TaxId: "91350100M000100Y43"}},
		{"invoice.company_name", &billingv1.InvoicePayment{CompanyName: "Fabrikam\x07", TaxId: "91350100M000100Y43"}},
		{"invoice.tax_id", &billingv1.InvoicePayment{CompanyName: "Fabrikam", TaxId: "91350100M000100Y44"}},
		{"invoice.tax_id", &billingv1.InvoicePayment{CompanyName: "Fabrikam"}},
	} {
		_, err := ValidateInvoice(tc.in)
		var e *errs.Error
		if !errors.As(err, &e) || e.Reason != errs.InvalidField || e.Metadata["field"] != tc.field {
			t.Errorf("%v: %v, want INVALID_FIELD on %s", tc.in, err, tc.field)
		}
	}
	if err := AllowedIn(licensingv1.Organization_CHINA_21VIANET, MethodInvoice); err != nil {
		t.Errorf("invoice refused in 21Vianet: %v", err)
	}
	if err := AllowedIn(licensingv1.Organization_GLOBAL, MethodInvoice); errs.ReasonOf(err) != errs.PaymentMethodNotSupported.Name {
		t.Errorf("invoice in GLOBAL: %v", err)
	}
}
