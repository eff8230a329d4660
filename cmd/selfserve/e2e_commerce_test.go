package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/money"
)

// shop is a selfserve dev under the manual clock, seen through the JSON edge.
type shop struct {
	t *testing.T
	r *running
}

func (s *shop) call(method, path, token, body string) (int, map[string]any) {
	s.t.Helper()
	return s.r.do(s.t, call{method: method, path: path, token: token, body: body})
}

func (s *shop) ok(method, path, token, body string) map[string]any {
	s.t.Helper()
	code, out := s.call(method, path, token, body)
	if code != 200 {
		s.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

func (s *shop) fails(method, path, token, body string, status int, why string) {
	s.t.Helper()
	code, out := s.call(method, path, token, body)
	if got, _ := errorReason(out); code != status || got != why {
		s.t.Fatalf("%s %s: want %d %s, got %d %v", method, path, status, why, code, out)
	}
}

func (s *shop) now() time.Time {
	s.t.Helper()
	out := s.ok("GET", "/v1/clock", s.r.tokens["operator"], "")
	t, err := time.Parse(time.RFC3339Nano, out["now"].(string))
	if err != nil {
		s.t.Fatal(err)
	}
	return t
}

// advanceTo moves every clock to t and runs what came due.
func (s *shop) advanceTo(t time.Time) {
	s.t.Helper()
	d := t.Sub(s.now())
	if d <= 0 {
		s.t.Fatalf("advanceTo %v: already past", t)
	}
	s.ok("POST", "/v1/clock:advance", s.r.tokens["operator"], fmt.Sprintf(`{"duration":"%.9fs"}`, d.Seconds()))
}

// wallet makes a billing account for a user with one card and returns its
// default profile and account.
func (s *shop) wallet(token, number string) (profile, account string) {
	s.t.Helper()
	a := s.ok("POST", "/v1/organizations/contoso/billingAccounts", token, `{"displayName":"Mine","soldTo":{"countryCode":"SE"}}`)
	account = a["name"].(string)
	pm := s.ok("POST", "/v1/"+account+"/paymentMethods", token, cardJSON(number, "989"))
	profile = account + "/billingProfiles/default"
	s.ok("PATCH", "/v1/"+profile, token, fmt.Sprintf(`{"paymentMethod":%q}`, pm["name"]))
	return profile, account
}

func (s *shop) sub(name, token string) map[string]any { return s.ok("GET", "/v1/"+name, token, "") }

func (s *shop) poolState(name, token string) string {
	l := s.ok("GET", "/v1/organizations/contoso/licenses/"+name[len("organizations/contoso/subscriptions/"):], token, "")
	return l["state"].(string)
}

func stamp(m map[string]any, field string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, m[field].(string))
	return t
}

// invoices lists an account's invoices of the past 6 months, newest first.
func (s *shop) invoices(account, token string) []map[string]any {
	out := s.ok("GET", "/v1/"+account+"/invoices?period=PAST_6_MONTHS&pageSize=1000", token, "")
	var list []map[string]any
	for _, i := range out["invoices"].([]any) {
		list = append(list, i.(map[string]any))
	}
	return list
}

// products picks seeded products by kind.
func (s *shop) products(token string) (plain, other, trialFree, trialPaid string, unit int64) {
	out := s.ok("GET", "/v1/products?pageSize=1000", token, "")
	for _, p := range out["products"].([]any) {
		m := p.(map[string]any)
		name := m["name"].(string)
		trial, _ := m["trial"].(map[string]any)
		switch {
		case m["trialOnly"] == true:
		case trial != nil && trial["requiresPaymentMethod"] == true && trialPaid == "":
			trialPaid = name
		case trial != nil && trialFree == "":
			trialFree = name
		case trial == nil && plain == "":
			plain = name
			for _, pr := range m["prices"].([]any) {
				pm := pr.(map[string]any)
				if pm["currencyCode"] == "SEK" && pm["billingFrequency"] == "MONTHLY" {
					unit, _ = strconv.ParseInt(pm["unitAmountMinor"].(string), 10, 64)
				}
			}
		case trial == nil && other == "":
			other = name
		}
	}
	if plain == "" || other == "" || trialFree == "" || trialPaid == "" || unit == 0 {
		s.t.Fatalf("the seeded catalog lacks a kind of product: %q %q %q %q %d", plain, other, trialFree, trialPaid, unit)
	}
	return
}

func buy(product, profile string, qty int, extra string) string {
	return fmt.Sprintf(`{"product":%q,"quantity":%d,"billingFrequency":"MONTHLY","billingProfile":%q%s}`, product, qty, profile, extra)
}

// TestEndToEndSubscriptionLife walks whole lives of subscriptions under the
// manual clock through the JSON edge (the commerce issue's acceptance walk).
func TestEndToEndSubscriptionLife(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir(), "--clock", "manual")}
	maxTok, nora, ada := s.r.tokens["contoso/max"], s.r.tokens["contoso/nora"], s.r.tokens["contoso/ada"]
	plain, other, trialFree, trialPaid, unit := s.products(maxTok)
	profile, account := s.wallet(maxTok, "4242424242424242")

	// Buy 5 with a card; assign 3.
	s1 := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 5, ""))
	if s1["state"] != "ACTIVE" || s1["quantity"] != float64(5) || s1["channel"] != "SELF_SERVICE" {
		t.Fatalf("purchase: %v", s1)
	}
	name1 := s1["name"].(string)
	pool1 := "/v1/organizations/contoso/licenses/" + name1[len("organizations/contoso/subscriptions/"):]
	s.ok("POST", pool1+":assign", maxTok, `{"users":["organizations/contoso/users/max","organizations/contoso/users/nora","organizations/contoso/users/li"]}`)
	if v := s.sub(name1, maxTok); v["assignedLicenses"] != float64(3) {
		t.Fatalf("assigned: %v", v)
	}
	// The admin's read-only view lists the assigned users.
	list := s.ok("GET", "/v1/organizations/contoso/subscriptions?channel=SELF_SERVICE", ada, "")
	found := false
	for _, x := range list["subscriptions"].([]any) {
		v := x.(map[string]any)
		if v["name"] == name1 {
			found = len(v["assignedUsers"].([]any)) == 3 && v["purchaser"] == "organizations/contoso/users/max"
		}
	}
	if !found {
		t.Fatalf("admin view: %v", list)
	}
	s.fails("POST", "/v1/"+name1+":setQuantity", ada, `{"totalLicenses":6}`, 403, "ADMIN_READ_ONLY")

	// Another subscription left to expire, and two trials, all bought at t0.
	t0 := s.now()
	s2 := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 2, ""))
	name2 := s2["name"].(string)
	s.ok("POST", "/v1/"+name2+":setAutoRenew", maxTok, `{"autoRenew":false}`)
	t1 := s.ok("POST", "/v1/organizations/contoso/subscriptions:startTrial", maxTok, fmt.Sprintf(`{"product":%q}`, trialFree))
	t2 := s.ok("POST", "/v1/organizations/contoso/subscriptions:startTrial", maxTok, fmt.Sprintf(`{"product":%q,"billingProfile":%q}`, trialPaid, profile))
	if t1["isTrial"] != true || t1["quantity"] != float64(25) || t2["isTrial"] != true {
		t.Fatalf("trials: %v %v", t1, t2)
	}
	s.fails("POST", "/v1/organizations/contoso/subscriptions:startTrial", nora, fmt.Sprintf(`{"product":%q}`, trialFree), 400, "TRIAL_ALREADY_USED")

	// Day 1: raise to 10, charged prorated; 2 is below the 3 assigned.
	s.advanceTo(t0.Add(24 * time.Hour))
	raised := s.ok("POST", "/v1/"+name1+":setQuantity", maxTok, `{"totalLicenses":10}`)
	if raised["quantity"] != float64(10) {
		t.Fatalf("raise: %v", raised)
	}
	start, end := stamp(s1, "termStartTime"), stamp(s1, "endTime")
	want, _ := money.Prorate(5*unit, end.Sub(t0.Add(24*time.Hour)).Truncate(time.Second), end.Sub(start).Truncate(time.Second))
	inv := s.invoices(account, maxTok)[0]
	line := inv["lineItems"].([]any)[0].(map[string]any)
	if line["type"] != "ADD_QUANTITY" || inv["totalMinor"] != strconv.FormatInt(want, 10) || inv["status"] != "PAID" {
		t.Fatalf("prorated invoice: want %d, got %v", want, inv)
	}
	s.fails("POST", "/v1/"+name1+":setQuantity", maxTok, `{"totalLicenses":2}`, 400, "BELOW_ASSIGNED_LICENSES")

	// Day 3: cancel: refunded, DISABLED at once, its pool suspended.
	s.advanceTo(t0.Add(3 * 24 * time.Hour))
	cancelled := s.ok("POST", "/v1/"+name1+":cancel", maxTok, `{"reason":"TOO_EXPENSIVE","feedback":"Cheaper elsewhere."}`)
	if cancelled["state"] != "DISABLED" || cancelled["cancellation"].(map[string]any)["reason"] != "TOO_EXPENSIVE" {
		t.Fatalf("cancel: %v", cancelled)
	}
	refund := s.invoices(account, maxTok)[0]
	if refund["lineItems"].([]any)[0].(map[string]any)["type"] != "CANCEL" || refund["totalMinor"].(string)[0] != '-' {
		t.Fatalf("refund: %v", refund)
	}
	if st := s.poolState(name1, maxTok); st != "SUSPENDED" {
		t.Fatalf("cancelled pool is %s", st)
	}

	// The end of the term: s2 expires, the free trial expires, the paid
	// trial converts.
	end2 := stamp(s2, "endTime")
	trialEnd := stamp(t1, "endTime")
	first := end2
	if trialEnd.Before(first) {
		first = trialEnd
	}
	s.advanceTo(first.Add(-time.Hour))
	if v := s.sub(name2, maxTok); v["state"] != "ACTIVE" {
		t.Fatalf("expired early: %v", v["state"])
	}
	last := end2
	if trialEnd.After(last) {
		last = trialEnd
	}
	s.advanceTo(last.Add(time.Minute))
	if v := s.sub(name2, maxTok); v["state"] != "EXPIRED" || s.poolState(name2, maxTok) != "WARNING" {
		t.Fatalf("at its end s2 is %v", v["state"])
	}
	if v := s.sub(t1["name"].(string), maxTok); v["state"] != "EXPIRED" || v["isTrial"] != true {
		t.Fatalf("the free trial: %v %v", v["state"], v["isTrial"])
	}
	converted := s.sub(t2["name"].(string), maxTok)
	if converted["state"] != "ACTIVE" || converted["isTrial"] != false {
		t.Fatalf("the paid trial did not convert: %v", converted)
	}
	convertedInvoice := false
	for _, i := range s.invoices(account, maxTok) {
		if i["lineItems"].([]any)[0].(map[string]any)["type"] == "CONVERT" && i["status"] == "PAID" {
			convertedInvoice = true
		}
	}
	if !convertedInvoice {
		t.Fatal("no CONVERT invoice")
	}

	// 30 days expired → DISABLED; 90 days disabled → DELETED.
	s.advanceTo(end2.Add(30*24*time.Hour - time.Hour))
	if v := s.sub(name2, maxTok); v["state"] != "EXPIRED" {
		t.Fatalf("disabled early: %v", v["state"])
	}
	s.advanceTo(end2.Add(30*24*time.Hour + time.Minute))
	if v := s.sub(name2, maxTok); v["state"] != "DISABLED" || s.poolState(name2, maxTok) != "SUSPENDED" {
		t.Fatalf("30 days after expiry s2 is %v", v["state"])
	}
	disabledAt := end2.Add(30 * 24 * time.Hour)
	s.advanceTo(disabledAt.Add(90*24*time.Hour - time.Hour))
	if v := s.sub(name2, maxTok); v["state"] != "DISABLED" {
		t.Fatalf("deleted early: %v", v["state"])
	}
	s.advanceTo(disabledAt.Add(90*24*time.Hour + time.Minute))
	if v := s.sub(name2, maxTok); v["state"] != "DELETED" || s.poolState(name2, maxTok) != "LOCKED_OUT" {
		t.Fatalf("90 days after disabling s2 is %v", v["state"])
	}
	if v := s.sub(name1, maxTok); v["state"] != "DELETED" {
		t.Fatalf("the cancelled subscription, 90 days on: %v", v["state"])
	}

	// A declining card: nothing left but billing's void invoice.
	noraProfile, noraAccount := s.wallet(nora, "4000000000000341")
	s.fails("POST", "/v1/organizations/contoso/subscriptions:purchase", nora, buy(plain, noraProfile, 1, ""), 400, "PAYMENT_DECLINED")
	if l := s.ok("GET", "/v1/organizations/contoso/subscriptions", nora, ""); len(l["subscriptions"].([]any)) != 0 {
		t.Fatalf("a declined purchase left a subscription: %v", l)
	}
	if invs := s.invoices(noraAccount, nora); len(invs) != 1 || invs[0]["status"] != "VOID" {
		t.Fatalf("declined record: %v", invs)
	}

	// Policy DISABLED refuses a purchase; the admin's own purchase is not bound.
	s.ok("PATCH", "/v1/organizations/contoso/productPolicies/"+other[len("products/"):], ada, `{"value":"DISABLED"}`)
	s.fails("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(other, profile, 1, ""), 403, "SELF_SERVICE_DISABLED")
	adaProfile, _ := s.wallet(ada, "5555555555554444")
	if corp := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", ada, buy(other, adaProfile, 3, "")); corp["channel"] != "ADMIN" {
		t.Fatalf("admin purchase: %v", corp)
	}

	// The order history and the feed tell the story.
	orders := s.ok("GET", "/v1/"+name1+"/orders", maxTok, "")["orders"].([]any)
	var types []string
	for _, o := range orders {
		types = append(types, o.(map[string]any)["type"].(string))
	}
	if fmt.Sprint(types) != "[PURCHASE ADD_QUANTITY CANCEL]" {
		t.Fatalf("orders: %v", types)
	}
	feed := s.ok("GET", "/v1/organizations/contoso/events?pageSize=1000", ada, "")["events"].([]any)
	kinds := map[string]bool{}
	for _, e := range feed {
		kinds[e.(map[string]any)["type"].(string)] = true
	}
	for _, k := range []string{"SUBSCRIPTION_PURCHASED", "TRIAL_STARTED", "QUANTITY_CHANGED", "SUBSCRIPTION_CANCELLED", "TRIAL_CONVERTED", "SUBSCRIPTION_STATE_CHANGED", "POLICY_CHANGED"} {
		if !kinds[k] {
			t.Errorf("no %s in the feed", k)
		}
	}
}
