package billing_test

import (
	"google.golang.org/protobuf/proto"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

func TestAccountsAndProfiles(t *testing.T) {
	e := start(t)
	maxCtx := e.as(t, "contoso", "max")
	a := e.account(t, maxCtx, "SE")
	if a.Owner != "organizations/contoso/users/max" || a.CurrencyCode != "SEK" || a.Name == "" {
		t.Fatalf("account: %v", a)
	}
	cn := e.account(t, e.as(t, "fabrikam-cn", "zhang"), "CN")
	if cn.CurrencyCode != "CNY" {
		t.Fatalf("21Vianet account in %s", cn.CurrencyCode)
	}
	_, err := e.accounts.CreateBillingAccount(e.as(t, "contoso", "gus"), &billingv1.CreateBillingAccountRequest{Parent: "organizations/contoso",
		BillingAccount: &billingv1.BillingAccount{DisplayName: "Guest", SoldTo: &billingv1.Address{CountryCode: "US"}}})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "GUEST_USER", "")
	_, err = e.accounts.CreateBillingAccount(maxCtx, &billingv1.CreateBillingAccountRequest{Parent: "organizations/contoso",
		BillingAccount: &billingv1.BillingAccount{DisplayName: "No country"}})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
	_, err = e.accounts.CreateBillingAccount(e.as(t, "", "op", auth.Operator), &billingv1.CreateBillingAccountRequest{Parent: "organizations/contoso",
		BillingAccount: &billingv1.BillingAccount{DisplayName: "Op", SoldTo: &billingv1.Address{CountryCode: "SE"}}})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// The default profile comes with the account.
	profile := a.Name + "/billingProfiles/default"
	p, err := e.accounts.GetBillingProfile(maxCtx, &billingv1.GetBillingProfileRequest{Name: profile})
	if err != nil || p.BillTo.GetCountryCode() != "SE" {
		t.Fatalf("default profile: %v %v", p, err)
	}

	// Who sees which accounts.
	count := func(sub string, roles ...string) int {
		resp, err := e.accounts.ListBillingAccounts(e.as(t, "contoso", sub, roles...), &billingv1.ListBillingAccountsRequest{Parent: "organizations/contoso"})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.BillingAccounts)
	}
	e.account(t, e.as(t, "contoso", "nora"), "FR")
	if m, ad, r, l, n := count("max"), count("ada", auth.GlobalAdmin), count("rita", auth.GlobalReader), count("li", auth.LicenseAdmin), count("bruno", auth.BillingAdmin); m != 1 || ad != 2 || r != 2 || l != 0 || n != 2 {
		t.Fatalf("visible accounts: max %d ada %d rita %d li %d bruno %d", m, ad, r, l, n)
	}
	_, err = e.accounts.GetBillingAccount(e.as(t, "contoso", "li", auth.LicenseAdmin), &billingv1.GetBillingAccountRequest{Name: a.Name})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = e.accounts.GetBillingAccount(e.as(t, "fabrikam-cn", "wang", auth.GlobalAdmin), &billingv1.GetBillingAccountRequest{Name: a.Name})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")

	// Admins read, only the owner changes.
	upd := &billingv1.UpdateBillingProfileRequest{BillingProfile: &billingv1.BillingProfile{Name: profile, PoNumber: "PO-42"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"po_number"}}}
	_, err = e.accounts.UpdateBillingProfile(e.as(t, "contoso", "ada", auth.GlobalAdmin), upd)
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	if p, err := e.accounts.UpdateBillingProfile(maxCtx, upd); err != nil || p.PoNumber != "PO-42" || p.BillTo.GetCountryCode() != "SE" {
		t.Fatalf("update: %v %v", p, err)
	}
	other := e.addCard(t, e.as(t, "contoso", "nora"), nora(t, e), "4242424242424242", "989")
	upd = &billingv1.UpdateBillingProfileRequest{BillingProfile: &billingv1.BillingProfile{Name: profile, PaymentMethod: other.Name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"payment_method"}}}
	_, err = e.accounts.UpdateBillingProfile(maxCtx, upd)
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
	upd.UpdateMask.Paths = []string{"owner"}
	_, err = e.accounts.UpdateBillingProfile(maxCtx, upd)
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
}

// nora is the name of nora's first billing account.
func nora(t *testing.T, e *env) string {
	resp, err := e.accounts.ListBillingAccounts(e.as(t, "contoso", "nora"), &billingv1.ListBillingAccountsRequest{Parent: "organizations/contoso"})
	if err != nil || len(resp.BillingAccounts) == 0 {
		t.Fatalf("nora has no account: %v", err)
	}
	return resp.BillingAccounts[0].Name
}

func TestPaymentMethods(t *testing.T) {
	e := start(t)
	maxCtx := e.as(t, "contoso", "max")
	a := e.account(t, maxCtx, "SE")
	year := int32(time.Now().Year() + 1)
	visa := e.addCard(t, maxCtx, a.Name, "4242 4242 4242 4242", "989")
	if c := visa.GetCard(); c.Brand != billingv1.Card_VISA || c.Last4 != "4242" || c.Number != nil || c.SecurityCode != nil || c.HolderName != "Max Holm" {
		t.Fatalf("stored card: %v", visa)
	}
	for name, tc := range map[string]struct {
		m   *billingv1.PaymentMethod
		why string
	}{
		"luhn":          {card("4242424242424241", "989", 12, year), "INVALID_CARD"},
		"too short":     {card("42424242424", "989", 12, year), "INVALID_CARD"},
		"expired":       {card("4242424242424242", "989", 1, int32(time.Now().Year()-1)), "INVALID_CARD"},
		"amex 3 digits": {card("378282246310005", "989", 12, year), "INVALID_CARD"},
		"no code":       {card("4242424242424242", "", 12, year), "INVALID_CARD"},
		"declined":      {card("4000000000000002", "989", 12, year), "PAYMENT_DECLINED"},
		"alipay":        {&billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Alipay{Alipay: &billingv1.Alipay{LoginId: proto.String("max@contoso.example")}}}, "PAYMENT_METHOD_NOT_SUPPORTED"},
		"nothing":       {&billingv1.PaymentMethod{}, "INVALID_FIELD"},
	} {
		_, err := e.accounts.CreatePaymentMethod(maxCtx, &billingv1.CreatePaymentMethodRequest{Parent: a.Name, PaymentMethod: tc.m})
		if servetest.Reason(err) != tc.why {
			t.Errorf("%s: %v", name, err)
		}
	}
	amex, err := e.accounts.CreatePaymentMethod(maxCtx, &billingv1.CreatePaymentMethodRequest{Parent: a.Name, PaymentMethod: card("378282246310005", "8989", 12, year)})
	if err != nil || amex.GetCard().Brand != billingv1.Card_AMERICAN_EXPRESS {
		t.Fatalf("amex: %v %v", amex, err)
	}
	// Cards are refused in the 21Vianet cloud; Alipay works there.
	zhang := e.as(t, "fabrikam-cn", "zhang")
	cn := e.account(t, zhang, "CN")
	_, err = e.accounts.CreatePaymentMethod(zhang, &billingv1.CreatePaymentMethodRequest{Parent: cn.Name, PaymentMethod: card("4242424242424242", "989", 12, year)})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "PAYMENT_METHOD_NOT_SUPPORTED", "")
	if _, err := e.accounts.CreatePaymentMethod(zhang, &billingv1.CreatePaymentMethodRequest{Parent: cn.Name,
		PaymentMethod: &billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Alipay{Alipay: &billingv1.Alipay{LoginId: proto.String("zhang@fabrikam.example")}}}}); err != nil {
		t.Fatalf("alipay in 21Vianet: %v", err)
	}
	// Only the owner adds.
	_, err = e.accounts.CreatePaymentMethod(e.as(t, "contoso", "bruno", auth.BillingAdmin), &billingv1.CreatePaymentMethodRequest{Parent: a.Name, PaymentMethod: card("4242424242424242", "989", 12, year)})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// Edits need the security code and never change the number.
	edit := func(c *billingv1.Card) (*billingv1.PaymentMethod, error) {
		return e.accounts.UpdatePaymentMethod(maxCtx, &billingv1.UpdatePaymentMethodRequest{PaymentMethod: &billingv1.PaymentMethod{Name: visa.Name, Details: &billingv1.PaymentMethod_Card{Card: c}}})
	}
	_, err = edit(&billingv1.Card{ExpMonth: 6, ExpYear: year + 1, HolderName: "Max H"})
	servetest.WantStatus(t, err, codes.InvalidArgument, "SECURITY_CODE_REQUIRED", "")
	_, err = edit(&billingv1.Card{Number: proto.String("5555555555554444"), SecurityCode: proto.String("989"), ExpMonth: 6, ExpYear: year + 1})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_CARD", "")
	got, err := edit(&billingv1.Card{SecurityCode: proto.String("989"), ExpMonth: 6, ExpYear: year + 1, HolderName: "Max H"})
	if err != nil || got.GetCard().ExpYear != year+1 || got.GetCard().Last4 != "4242" || got.GetCard().HolderName != "Max H" {
		t.Fatalf("edit: %v %v", got, err)
	}

	// A method in use cannot be deleted.
	profile := a.Name + "/billingProfiles/default"
	e.useMethods(t, maxCtx, profile, visa.Name, amex.Name)
	_, err = e.accounts.DeletePaymentMethod(maxCtx, &billingv1.DeletePaymentMethodRequest{Name: amex.Name})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "PAYMENT_METHOD_IN_USE", "")
	e.useMethods(t, maxCtx, profile, visa.Name, "")
	if _, err := e.accounts.DeletePaymentMethod(maxCtx, &billingv1.DeletePaymentMethodRequest{Name: amex.Name}); err != nil {
		t.Fatalf("delete unused: %v", err)
	}
	_, err = e.accounts.GetPaymentMethod(maxCtx, &billingv1.GetPaymentMethodRequest{Name: amex.Name})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	list, err := e.accounts.ListPaymentMethods(maxCtx, &billingv1.ListPaymentMethodsRequest{Parent: a.Name})
	if err != nil || len(list.PaymentMethods) != 1 {
		t.Fatalf("owner lists methods: %v %v", list, err)
	}
	// Payment methods are the owner's: admins who read the account do not see them.
	_, err = e.accounts.ListPaymentMethods(e.as(t, "contoso", "rita", auth.GlobalReader), &billingv1.ListPaymentMethodsRequest{Parent: a.Name})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	// Adding, editing and deleting reached the audit outbox.
	if n, _ := e.comp.Audit.Pending(); n < 5 {
		t.Fatalf("%d audit events pending", n)
	}
}

func TestPaymentMethodRequestIDs(t *testing.T) {
	e := start(t)
	maxCtx := e.as(t, "contoso", "max")
	a := e.account(t, maxCtx, "SE")
	req := &billingv1.CreatePaymentMethodRequest{Parent: a.Name, PaymentMethod: card("4242424242424242", "989", 12, int32(time.Now().Year()+1)), RequestId: "add-visa"}
	first, err := e.accounts.CreatePaymentMethod(maxCtx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.accounts.CreatePaymentMethod(maxCtx, req)
	if err != nil || again.Name != first.Name {
		t.Fatalf("replay made another method: %v %v", again, err)
	}
	req.PaymentMethod = card("5555555555554444", "989", 12, int32(time.Now().Year()+1))
	_, err = e.accounts.CreatePaymentMethod(maxCtx, req)
	servetest.WantStatus(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "")
}
