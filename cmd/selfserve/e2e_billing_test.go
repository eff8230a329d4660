package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/serve"
)

func cardJSON(number, code string) string {
	return fmt.Sprintf(`{"card":{"number":%q,"securityCode":%q,"expMonth":12,"expYear":%d,"holderName":"Max Holm"}}`, number, code, time.Now().Year()+2)
}

// TestEndToEndBilling goes through billing over the JSON edge: every reason
// of API.md §5 that billing raises, a charge and the invoice PDF.
func TestEndToEndBilling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir())
	maxTok := r.tokens["contoso/max"]
	code, body := r.do(t, call{method: "POST", path: "/v1/organizations/contoso/billingAccounts", token: maxTok,
		body: `{"displayName":"Max's account","soldTo":{"countryCode":"SE","city":"Stockholm"}}`})
	account, _ := body["name"].(string)
	if code != 200 || body["currencyCode"] != "SEK" || account == "" {
		t.Fatalf("billing account: %d %v", code, body)
	}
	methods := "/v1/" + account + "/paymentMethods"
	wantReason := func(c call, status int, why string) {
		t.Helper()
		code, body := r.do(t, c)
		if got, _ := errorReason(body); code != status || got != why {
			t.Fatalf("want %d %s, got %d %v", status, why, code, body)
		}
	}
	wantReason(call{method: "POST", path: methods, token: maxTok, body: cardJSON("4242424242424241", "989")}, 400, "INVALID_CARD")
	wantReason(call{method: "POST", path: methods, token: maxTok, body: cardJSON("4000000000000002", "989")}, 400, "PAYMENT_DECLINED")
	c := call{method: "POST", path: methods, token: maxTok, body: cardJSON("4242424242424242", "989"), headers: map[string]string{"Idempotency-Key": "visa-1"}}
	code, body = r.do(t, c)
	pm, _ := body["name"].(string)
	cardBody, _ := body["card"].(map[string]any)
	if code != 200 || cardBody["last4"] != "4242" || cardBody["brand"] != "VISA" || hasKey(cardBody, "number") || hasKey(cardBody, "securityCode") {
		t.Fatalf("add card: %d %v", code, body)
	}
	c.body = cardJSON("5555555555554444", "989")
	wantReason(c, 400, "REQUEST_ID_REUSED")
	code, body = r.do(t, call{method: "PATCH", path: "/v1/" + account + "/billingProfiles/default", token: maxTok, body: fmt.Sprintf(`{"paymentMethod":%q}`, pm)})
	if code != 200 || body["paymentMethod"] != pm {
		t.Fatalf("profile: %d %v", code, body)
	}
	wantReason(call{method: "PATCH", path: "/v1/" + pm, token: maxTok, body: `{"card":{"expMonth":6,"expYear":2031}}`}, 400, "SECURITY_CODE_REQUIRED")
	wantReason(call{method: "DELETE", path: "/v1/" + pm, token: maxTok}, 400, "PAYMENT_METHOD_IN_USE")
	wantReason(call{method: "POST", path: methods, token: r.tokens["contoso/ada"], body: cardJSON("4242424242424242", "989")}, 403, "PERMISSION_DENIED")

	// The 21Vianet cloud takes no cards.
	zhang := r.tokens["fabrikam-cn/zhang"]
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations/fabrikam-cn/billingAccounts", token: zhang, body: `{"displayName":"张","soldTo":{"countryCode":"CN"}}`})
	cn, _ := body["name"].(string)
	if code != 200 || body["currencyCode"] != "CNY" {
		t.Fatalf("CN account: %d %v", code, body)
	}
	wantReason(call{method: "POST", path: "/v1/" + cn + "/paymentMethods", token: zhang, body: cardJSON("4242424242424242", "989")}, 400, "PAYMENT_METHOD_NOT_SUPPORTED")

	// Commerce's part, a charge, played by the operator over gRPC.
	conn, err := serve.Dial(r.grpc["billing"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+r.tokens["operator"])
	inv, err := billingv1.NewChargeServiceClient(conn).Charge(ctx, &billingv1.ChargeRequest{BillingProfile: account + "/billingProfiles/default",
		Key: "e2e-1", CurrencyCode: "SEK", OnFailure: billingv1.ChargeRequest_VOID_AND_FAIL,
		LineItems: []*billingv1.LineItem{{Type: billingv1.LineItem_PURCHASE, Description: "Office, 3 licenses", Quantity: 3, AmountMinor: 29700}}})
	if err != nil || inv.Status != billingv1.Invoice_PAID {
		t.Fatalf("charge: %v %v", inv, err)
	}
	code, body = r.do(t, call{method: "GET", path: "/v1/" + account + "/invoices", token: r.tokens["contoso/rita"]})
	if list, _ := body["invoices"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["totalMinor"] != "29700" {
		t.Fatalf("invoices: %d %v", code, body)
	}
	req, _ := http.NewRequest("GET", r.url+"/v1/"+inv.Name+":download", nil)
	req.Header.Set("Authorization", "Bearer "+maxTok)
	req.Header.Set("Accept-Language", "sv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatalf("download: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), pdf[:min(len(pdf), 20)])
	}

	// Adding the card reached the audit feed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body = r.do(t, call{method: "GET", path: "/v1/organizations/contoso/events", token: r.tokens["contoso/ada"]})
		found := false
		for _, e := range body["events"].([]any) {
			if e.(map[string]any)["type"] == "PAYMENT_METHOD_ADDED" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no PAYMENT_METHOD_ADDED in the feed: %d %v", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hasKey reports whether a decoded JSON object carries the key at all.
func hasKey(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}
