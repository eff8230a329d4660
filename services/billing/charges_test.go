package billing_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

func line(typ billingv1.LineItem_Type, amount int64) []*billingv1.LineItem {
	return []*billingv1.LineItem{{Type: typ, Description: "Office, 5 licenses", Subscription: "organizations/contoso/subscriptions/s1", Quantity: 5, AmountMinor: amount}}
}

func (e *env) charge(ctx context.Context, profile, key string, amount int64, policy billingv1.ChargeRequest_FailurePolicy) (*billingv1.Invoice, error) {
	return e.charges.Charge(ctx, &billingv1.ChargeRequest{BillingProfile: profile, Key: key, CurrencyCode: "SEK", OnFailure: policy,
		Subscription: "organizations/contoso/subscriptions/s1", Actor: "organizations/contoso/users/max", LineItems: line(billingv1.LineItem_PURCHASE, amount)})
}

// paymentEvents reads what waits in the payment outbox for commerce.
func (e *env) paymentEvents(t *testing.T) []*commercev1.PaymentEvent {
	t.Helper()
	var out []*commercev1.PaymentEvent
	e.comp.Store.DB.View(func(tx kv.Tx) error {
		pending, err := store.PendingPaymentEvents(tx)
		for _, v := range pending {
			pe := &commercev1.PaymentEvent{}
			if err := proto.Unmarshal(v, pe); err != nil {
				t.Fatal(err)
			}
			out = append(out, pe)
		}
		return err
	})
	return out
}

func TestCharges(t *testing.T) {
	e := start(t)
	maxCtx := e.as(t, "contoso", "max")
	a := e.account(t, maxCtx, "SE")
	profile := a.Name + "/billingProfiles/default"
	svc := e.service(t)

	payer, err := e.charges.GetPayer(svc, &billingv1.GetPayerRequest{BillingProfile: profile})
	if err != nil || payer.Owner != "organizations/contoso/users/max" || payer.CurrencyCode != "SEK" || payer.HasPaymentMethod {
		t.Fatalf("payer: %v %v", payer, err)
	}
	_, err = e.charge(maxCtx, profile, "k0", 100, billingv1.ChargeRequest_VOID_AND_FAIL)
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// No payment method: a purchase is declined and leaves a void invoice.
	_, err = e.charge(svc, profile, "k1", 49900, billingv1.ChargeRequest_VOID_AND_FAIL)
	servetest.WantStatus(t, err, codes.FailedPrecondition, "PAYMENT_DECLINED", "")

	visa := e.addCard(t, maxCtx, a.Name, "4242424242424242", "989")
	poor := e.addCard(t, maxCtx, a.Name, "4000000000009995", "989")
	e.useMethods(t, maxCtx, profile, visa.Name, "")
	inv, err := e.charge(svc, profile, "k2", 49900, billingv1.ChargeRequest_VOID_AND_FAIL)
	if err != nil || inv.Status != billingv1.Invoice_PAID || inv.TotalMinor != 49900 || inv.CurrencyCode != "SEK" || inv.PaidTime == nil {
		t.Fatalf("charge: %v %v", inv, err)
	}
	again, err := e.charge(svc, profile, "k2", 49900, billingv1.ChargeRequest_VOID_AND_FAIL)
	if err != nil || again.Name != inv.Name {
		t.Fatalf("the same key made another invoice: %v %v", again, err)
	}
	// A failing primary falls back to the backup.
	e.useMethods(t, maxCtx, profile, poor.Name, visa.Name)
	inv, err = e.charge(svc, profile, "k3", 1000, billingv1.ChargeRequest_VOID_AND_FAIL)
	if err != nil || inv.Status != billingv1.Invoice_PAID {
		t.Fatalf("backup: %v %v", inv, err)
	}
	// Without a working method: VOID for a purchase, PAST_DUE for a renewal.
	e.useMethods(t, maxCtx, profile, poor.Name, "")
	_, err = e.charge(svc, profile, "k4", 1000, billingv1.ChargeRequest_VOID_AND_FAIL)
	servetest.WantStatus(t, err, codes.FailedPrecondition, "PAYMENT_DECLINED", "")
	_, err = e.charge(svc, profile, "k4", 1000, billingv1.ChargeRequest_VOID_AND_FAIL)
	servetest.WantStatus(t, err, codes.FailedPrecondition, "PAYMENT_DECLINED", "")
	due, err := e.charge(svc, profile, "renew-1", 2000, billingv1.ChargeRequest_PAST_DUE)
	if err != nil || due.Status != billingv1.Invoice_PAST_DUE {
		t.Fatalf("renewal: %v %v", due, err)
	}
	stuck, err := e.charge(svc, profile, "renew-2", 3000, billingv1.ChargeRequest_PAST_DUE)
	if err != nil || stuck.Status != billingv1.Invoice_PAST_DUE {
		t.Fatalf("renewal 2: %v %v", stuck, err)
	}
	// A refund (negative total) and a zero total settle at once.
	credit, err := e.charges.Charge(svc, &billingv1.ChargeRequest{BillingProfile: profile, Key: "refund-1", CurrencyCode: "SEK",
		OnFailure: billingv1.ChargeRequest_VOID_AND_FAIL, LineItems: line(billingv1.LineItem_CANCEL, -1500)})
	if err != nil || credit.Status != billingv1.Invoice_PAID || credit.TotalMinor != -1500 {
		t.Fatalf("refund: %v %v", credit, err)
	}
	_, err = e.charges.Charge(svc, &billingv1.ChargeRequest{BillingProfile: profile, Key: "eur", CurrencyCode: "EUR",
		OnFailure: billingv1.ChargeRequest_PAST_DUE, LineItems: line(billingv1.LineItem_PURCHASE, 100)})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")

	// Retries every 3 days: renew-1 is paid once the card is replaced;
	// renew-2 is reported unpaid after 30 days.
	get := func(name string) *billingv1.Invoice {
		inv, err := e.invoices.GetInvoice(maxCtx, &billingv1.GetInvoiceRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	e.advance(t, 3*24*time.Hour)
	if get(due.Name).Status != billingv1.Invoice_PAST_DUE {
		t.Fatal("paid by a card that always fails")
	}
	// The owner replaces the card; the next retry pays both renewals.
	e.useMethods(t, maxCtx, profile, visa.Name, "")
	e.advance(t, 3*24*time.Hour)
	if s := get(due.Name).Status; s != billingv1.Invoice_PAID {
		t.Fatalf("renewal not paid on retry: %s", s)
	}
	if s := get(stuck.Name).Status; s != billingv1.Invoice_PAID {
		t.Fatalf("second renewal not paid on retry: %s", s)
	}
	events := e.paymentEvents(t)
	if len(events) != 2 || events[0].Type != commercev1.PaymentEvent_INVOICE_PAID {
		t.Fatalf("payment events: %v", events)
	}

	// One that never pays: reported unpaid on day 30, then left alone.
	e.useMethods(t, maxCtx, profile, poor.Name, "")
	never, err := e.charge(svc, profile, "renew-3", 4000, billingv1.ChargeRequest_PAST_DUE)
	if err != nil || never.Status != billingv1.Invoice_PAST_DUE {
		t.Fatal(never, err)
	}
	for range 10 {
		e.advance(t, 3*24*time.Hour)
	}
	events = e.paymentEvents(t)
	if last := events[len(events)-1]; last.Type != commercev1.PaymentEvent_INVOICE_UNPAID || last.Invoice != never.Name {
		t.Fatalf("unpaid not reported: %v", events)
	}
	e.advance(t, 30*24*time.Hour)
	if n := len(e.paymentEvents(t)); n != len(events) {
		t.Fatal("retried after being reported unpaid")
	}
}

func TestInvoiceListsAndDownload(t *testing.T) {
	e := start(t)
	maxCtx := e.as(t, "contoso", "max")
	a := e.account(t, maxCtx, "SE")
	profile := a.Name + "/billingProfiles/default"
	e.useMethods(t, maxCtx, profile, e.addCard(t, maxCtx, a.Name, "4242424242424242", "989").Name, "")
	svc := e.service(t)
	var made []string
	for i, month := range []int{0, 2, 4, 5, 7} {
		if i > 0 {
			e.advance(t, time.Duration(month-[]int{0, 2, 4, 5, 7}[i-1])*30*24*time.Hour)
		}
		inv, err := e.charge(svc, profile, "m"+string(rune('a'+i)), int64(100*(i+1)), billingv1.ChargeRequest_VOID_AND_FAIL)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, inv.Name)
	}
	list := func(req *billingv1.ListInvoicesRequest) []string {
		req.Parent = a.Name
		var out []string
		for range 10 {
			resp, err := e.invoices.ListInvoices(e.as(t, "contoso", "rita", auth.GlobalReader), req)
			if err != nil {
				t.Fatal(err)
			}
			for _, inv := range resp.Invoices {
				out = append(out, inv.Name)
			}
			if req.PageToken = resp.NextPageToken; req.PageToken == "" {
				return out
			}
		}
		t.Fatal("paging never ended")
		return nil
	}
	// Issued on days 0, 60, 120, 150 and 210; now is day 210, so the past 3
	// calendar months reach back to day 118 and the past 6 to day 27.
	if got := list(&billingv1.ListInvoicesRequest{PageSize: 1}); strings.Join(got, ",") != strings.Join([]string{made[4], made[3], made[2]}, ",") {
		t.Fatalf("past 3 months: %v", got)
	}
	if got := list(&billingv1.ListInvoicesRequest{Period: billingv1.ListInvoicesRequest_PAST_6_MONTHS, PageSize: 2}); strings.Join(got, ",") != strings.Join([]string{made[4], made[3], made[2], made[1]}, ",") {
		t.Fatalf("past 6 months: %v", got)
	}
	first, _ := e.invoices.GetInvoice(maxCtx, &billingv1.GetInvoiceRequest{Name: made[0]})
	third, _ := e.invoices.GetInvoice(maxCtx, &billingv1.GetInvoiceRequest{Name: made[2]})
	custom := &billingv1.ListInvoicesRequest{Period: billingv1.ListInvoicesRequest_CUSTOM, StartTime: first.IssueTime, EndTime: third.IssueTime}
	if got := list(custom); strings.Join(got, ",") != strings.Join([]string{made[1], made[0]}, ",") {
		t.Fatalf("custom range: %v", got)
	}
	_, err := e.invoices.ListInvoices(maxCtx, &billingv1.ListInvoicesRequest{Parent: a.Name, Period: billingv1.ListInvoicesRequest_CUSTOM, StartTime: third.IssueTime, EndTime: first.IssueTime})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
	_, err = e.invoices.ListInvoices(e.as(t, "contoso", "nora"), &billingv1.ListInvoicesRequest{Parent: a.Name})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	if first.InvoiceNumber == "" || !strings.HasSuffix(first.InvoiceNumber, "-000001") || !strings.HasSuffix(third.InvoiceNumber, "-000003") {
		t.Fatalf("invoice numbers %s %s", first.InvoiceNumber, third.InvoiceNumber)
	}
	doc, err := e.invoices.DownloadInvoice(maxCtx, &billingv1.DownloadInvoiceRequest{Name: made[4]})
	if err != nil || doc.ContentType != "application/pdf" || !bytes.HasPrefix(doc.Data, []byte("%PDF-")) {
		t.Fatalf("download: %v", err)
	}
}

// TestNoCardDataAtRest adds cards and charges them, then looks for every
// full number and security code in the store file and in the logs.
func TestNoCardDataAtRest(t *testing.T) {
	e := start(t)
	maxCtx := e.as(t, "contoso", "max")
	a := e.account(t, maxCtx, "SE")
	profile := a.Name + "/billingProfiles/default"
	secrets := map[string]string{"4242424242424242": "989", "5555555555554444": "898", "378282246310005": "8989", "4000000000009995": "989"}
	var methods []string
	for number, code := range secrets {
		methods = append(methods, e.addCard(t, maxCtx, a.Name, number, code).Name)
	}
	// A declined card, an edit and charges too.
	e.accounts.CreatePaymentMethod(maxCtx, &billingv1.CreatePaymentMethodRequest{Parent: a.Name, PaymentMethod: card("4000000000000002", "989", 12, int32(time.Now().Year()+1))})
	secrets["4000000000000002"] = "989"
	e.accounts.UpdatePaymentMethod(maxCtx, &billingv1.UpdatePaymentMethodRequest{PaymentMethod: &billingv1.PaymentMethod{Name: methods[0], Details: &billingv1.PaymentMethod_Card{Card: &billingv1.Card{SecurityCode: proto.String("898"), ExpMonth: 11, ExpYear: int32(time.Now().Year() + 3)}}}})
	for i, m := range methods {
		e.useMethods(t, maxCtx, profile, m, "")
		e.charge(e.service(t), profile, "charge-"+string(rune('a'+i)), 1000, billingv1.ChargeRequest_PAST_DUE)
	}
	e.stop()
	db, err := os.ReadFile(filepath.Join(e.dataDir, "billing.db"))
	if err != nil {
		t.Fatal(err)
	}
	logs := e.logs.Bytes()
	if len(logs) == 0 {
		t.Fatal("no logs were written; the check would prove nothing")
	}
	// A 3-digit code can stand inside any number: durations and times in
	// the log lines are left out of the search for codes (not for numbers).
	numeric := regexp.MustCompile(`(ms|time)=\S+`)
	codeLogs := numeric.ReplaceAll(logs, nil)
	for number, code := range secrets {
		for where, data := range map[string][]byte{"billing.db": db, "logs": logs} {
			if bytes.Contains(data, []byte(number)) {
				t.Errorf("%s holds a full card number", where)
			}
			if bytes.Contains(data, []byte(number[:12])) {
				t.Errorf("%s holds the first 12 digits of a card", where)
			}
			if where == "logs" {
				data = codeLogs
			}
			// In the store, anywhere; in the logs, as a value of its own,
			// not a run of digits inside an id or a hex trace id.
			found := bytes.Contains(data, []byte(code))
			if where == "logs" {
				found = regexp.MustCompile(`(^|[^0-9A-Za-z])` + code + `([^0-9A-Za-z]|$)`).Match(data)
			}
			if found {
				t.Errorf("%s holds a security code %q", where, code)
			}
		}
	}
}

func TestFapiao(t *testing.T) {
	e := start(t)
	zhang := e.as(t, "fabrikam-cn", "zhang")
	cn := e.account(t, zhang, "CN")
	pm, err := e.accounts.CreatePaymentMethod(zhang, &billingv1.CreatePaymentMethodRequest{Parent: cn.Name,
		PaymentMethod: &billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Alipay{Alipay: &billingv1.Alipay{LoginId: proto.String("zhang@fabrikam.example")}}}})
	if err != nil {
		t.Fatal(err)
	}
	profile := cn.Name + "/billingProfiles/default"
	e.useMethods(t, zhang, profile, pm.Name, "")
	inv, err := e.charges.Charge(e.service(t), &billingv1.ChargeRequest{BillingProfile: profile, Key: "cn-1", CurrencyCode: "CNY",
		OnFailure: billingv1.ChargeRequest_VOID_AND_FAIL, LineItems: line(billingv1.LineItem_PURCHASE, 12800)})
	if err != nil || inv.Status != billingv1.Invoice_PAID {
		t.Fatalf("charge: %v %v", inv, err)
	}
	got, err := e.invoices.RequestFapiao(zhang, &billingv1.RequestFapiaoRequest{Name: inv.Name})
	if err != nil || got.Fapiao.GetState() != billingv1.Fapiao_REQUESTED || got.Fapiao.GetFapiaoNumber() != "" {
		t.Fatalf("request: %v %v", got, err)
	}
	e.advance(t, 3*24*time.Hour-time.Minute)
	if got, _ := e.invoices.GetInvoice(zhang, &billingv1.GetInvoiceRequest{Name: inv.Name}); got.Fapiao.GetState() != billingv1.Fapiao_REQUESTED {
		t.Fatal("ready early")
	}
	e.advance(t, 2*time.Minute)
	got, err = e.invoices.GetInvoice(zhang, &billingv1.GetInvoiceRequest{Name: inv.Name})
	if err != nil || got.Fapiao.GetState() != billingv1.Fapiao_READY || got.Fapiao.GetFapiaoNumber() == "" {
		t.Fatalf("after 3 days: %v %v", got.GetFapiao(), err)
	}
	// Only in the 21Vianet cloud, only for a paid invoice.
	maxCtx := e.as(t, "contoso", "max")
	a := e.account(t, maxCtx, "SE")
	e.useMethods(t, maxCtx, a.Name+"/billingProfiles/default", e.addCard(t, maxCtx, a.Name, "4242424242424242", "989").Name, "")
	global, err := e.charge(e.service(t), a.Name+"/billingProfiles/default", "se-1", 100, billingv1.ChargeRequest_VOID_AND_FAIL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.invoices.RequestFapiao(maxCtx, &billingv1.RequestFapiaoRequest{Name: global.Name})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "FAPIAO_NOT_AVAILABLE", "")
	e.useMethods(t, zhang, profile, "", "")
	_, err = e.charges.Charge(e.service(t), &billingv1.ChargeRequest{BillingProfile: profile, Key: "cn-2", CurrencyCode: "CNY",
		OnFailure: billingv1.ChargeRequest_VOID_AND_FAIL, LineItems: line(billingv1.LineItem_PURCHASE, 12800)})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "PAYMENT_DECLINED", "")
	list, _ := e.invoices.ListInvoices(zhang, &billingv1.ListInvoicesRequest{Parent: cn.Name})
	_, err = e.invoices.RequestFapiao(zhang, &billingv1.RequestFapiaoRequest{Name: list.Invoices[0].Name})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "FAPIAO_NOT_AVAILABLE", "")
}
