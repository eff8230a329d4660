package masks

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

var profile = Spec{
	Updatable: []string{"display_name", "payment_method", "backup_payment_method", "bill_to", "po_number", "invoice_email_enabled"},
	Ignored:   []string{"name", "create_time", "update_time"},
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func TestPaths(t *testing.T) {
	in := &billingv1.BillingProfile{Name: "organizations/o/billingAccounts/a/billingProfiles/p", PoNumber: "PO-1",
		BillTo: &billingv1.Address{City: "Lund"}, CreateTime: timestamppb.Now()}
	for _, tc := range []struct {
		name string
		mask *fieldmaskpb.FieldMask
		want []string
	}{
		{"no mask: the populated updatable fields", nil, []string{"bill_to", "po_number"}},
		{"empty mask: nothing", mask(), nil},
		{"an empty path, as an empty body gives: nothing", mask(""), nil},
		{"lowerCamelCase", mask("paymentMethod", "poNumber"), []string{"payment_method", "po_number"}},
		{"snake_case", mask("payment_method"), []string{"payment_method"}},
		{"nested, either case", mask("billTo.postalCode", "bill_to.city"), []string{"bill_to.city", "bill_to.postal_code"}},
		{"name and output-only ignored", mask("name", "createTime", "update_time", "poNumber"), []string{"po_number"}},
		{"repeated paths once", mask("poNumber", "po_number"), []string{"po_number"}},
		{"*: every updatable field", mask("*"), slices.Sorted(slices.Values(profile.Updatable))},
	} {
		got, err := profile.Paths(tc.mask, in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestPathsRefused(t *testing.T) {
	for _, p := range []string{"owner", "billTo.colour", "po_number.x", "displayname", "bill_to..city"} {
		_, err := profile.Paths(mask("poNumber", p), &billingv1.BillingProfile{})
		e, ok := err.(*errs.Error)
		if !ok || e.Reason != errs.InvalidField || e.Metadata["field"] != "update_mask" {
			t.Errorf("%q: %v, want INVALID_FIELD on update_mask", p, err)
			continue
		}
		if msg := e.Error(); !strings.Contains(msg, `"`+p+`"`) || !strings.Contains(msg, "updatable: display_name, payment_method, backup_payment_method, bill_to, po_number, invoice_email_enabled") {
			t.Errorf("%q: message %q names neither the path as written nor the updatable fields", p, msg)
		}
	}
}

func TestApply(t *testing.T) {
	stored := &billingv1.BillingProfile{Name: "n", DisplayName: "Main", PoNumber: "PO-1",
		BillTo: &billingv1.Address{City: "Lund", PostalCode: "22100", CountryCode: "SE"}}
	in := &billingv1.BillingProfile{PoNumber: "", BillTo: &billingv1.Address{City: "Malmö"}}
	before := proto.Clone(in)
	got := Apply([]string{"bill_to.city", "po_number"}, stored, in)
	want := &billingv1.BillingProfile{Name: "n", DisplayName: "Main",
		BillTo: &billingv1.Address{City: "Malmö", PostalCode: "22100", CountryCode: "SE"}}
	if !proto.Equal(got, want) {
		t.Errorf("Apply = %v, want %v", got, want)
	}
	if !proto.Equal(in, before) || stored.GetBillTo().GetCity() != "Lund" {
		t.Error("Apply changed its arguments")
	}
	if got := Apply(nil, stored, in); !proto.Equal(got, stored) || got == stored {
		t.Error("no paths: not an unchanged copy")
	}
	if got := Top([]string{"bill_to.city", "bill_to.address_line1", "po_number"}); !slices.Equal(got, []string{"bill_to", "po_number"}) {
		t.Errorf("Top = %v", got)
	}
	if !Named([]string{"bill_to.city"}, "bill_to") || Named([]string{"bill_to.city"}, "po_number") {
		t.Error("Named")
	}
}
