package main

import (
	"fmt"
	"testing"
	"time"
)

func (s *shop) wantState(name, token, state string) map[string]any {
	s.t.Helper()
	v := s.sub(name, token)
	if v["state"] != state {
		s.t.Fatalf("%s is %v, want %s", name, v["state"], state)
	}
	return v
}

func (s *shop) lastInvoice(account, token string) (string, string, string) {
	s.t.Helper()
	inv := s.invoices(account, token)[0]
	return inv["lineItems"].([]any)[0].(map[string]any)["type"].(string), inv["status"].(string), inv["totalMinor"].(string)
}

// TestEndToEndTakeOverAndAdmins: admins see and take over self-service
// subscriptions; ADMIN-channel ones are the organization's.
func TestEndToEndTakeOverAndAdmins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir(), "--clock", "manual")}
	maxTok, ada, li, bruno := s.r.tokens["contoso/max"], s.r.tokens["contoso/ada"], s.r.tokens["contoso/li"], s.r.tokens["contoso/bruno"]
	plain, _, _, _, _ := s.products(maxTok)
	profile, _ := s.wallet(maxTok, "4242424242424242")
	adaProfile, _ := s.wallet(ada, "5555555555554444")
	mine := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 3, ""))["name"].(string)
	minePool := "/v1/organizations/contoso/licenses/" + mine[len("organizations/contoso/subscriptions/"):]
	s.ok("POST", minePool+":assign", maxTok, `{"users":["organizations/contoso/users/max","organizations/contoso/users/nora"]}`)

	small := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", ada, buy(plain, adaProfile, 1, ""))["name"].(string)
	// Moving needs one free license per user: nothing moves, nothing changes.
	s.fails("POST", "/v1/"+mine+":takeOver", ada, fmt.Sprintf(`{"moveUsersTo":%q}`, small), 400, "NOT_ENOUGH_LICENSES")
	if v := s.wantState(mine, maxTok, "ACTIVE"); v["assignedLicenses"] != float64(2) {
		t.Fatalf("a refused take-over changed the subscription: %v", v)
	}
	s.fails("POST", "/v1/"+mine+":takeOver", li, fmt.Sprintf(`{"moveUsersTo":%q}`, small), 403, "PERMISSION_DENIED")

	// ADMIN channel: any GLOBAL_ADMIN or BILLING_ADMIN manages it, a
	// LICENSE_ADMIN assigns its licenses but does not change its quantity.
	if v := s.ok("POST", "/v1/"+small+":setQuantity", bruno, `{"totalLicenses":4}`); v["quantity"] != float64(4) {
		t.Fatalf("BILLING_ADMIN on an ADMIN subscription: %v", v)
	}
	s.fails("POST", "/v1/"+small+":setQuantity", li, `{"totalLicenses":5}`, 403, "PERMISSION_DENIED")
	smallPool := "/v1/organizations/contoso/licenses/" + small[len("organizations/contoso/subscriptions/"):]
	s.ok("POST", smallPool+":assign", li, `{"users":["organizations/contoso/users/li"]}`)

	// Now there is room: both users move at once and the source is DELETED.
	moved := s.ok("POST", "/v1/"+mine+":takeOver", ada, fmt.Sprintf(`{"moveUsersTo":%q}`, small))
	if moved["state"] != "DELETED" {
		t.Fatalf("take-over: %v", moved)
	}
	if v := s.sub(small, ada); v["assignedLicenses"] != float64(3) {
		t.Fatalf("target after the move: %v", v)
	}
	if st := s.poolState(mine, maxTok); st != "LOCKED_OUT" {
		t.Fatalf("source pool is %s", st)
	}
	// The purchaser still reads it, and sees what happened.
	orders := s.ok("GET", "/v1/"+mine+"/orders", maxTok, "")["orders"].([]any)
	if last := orders[len(orders)-1].(map[string]any); last["type"] != "TAKE_OVER" || last["actor"] != "organizations/contoso/users/ada" {
		t.Fatalf("orders: %v", orders)
	}
	s.fails("POST", "/v1/"+mine+":takeOver", ada, `{"cancel":true}`, 400, "SUBSCRIPTION_NOT_ACTIVE")

	// Taking over by cancelling.
	other := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 1, ""))["name"].(string)
	if v := s.ok("POST", "/v1/"+other+":takeOver", bruno, `{"cancel":true}`); v["state"] != "DELETED" {
		t.Fatalf("take-over by cancel: %v", v)
	}
	feed := s.ok("GET", "/v1/organizations/contoso/events?pageSize=1000", ada, "")["events"].([]any)
	n := 0
	for _, e := range feed {
		if e.(map[string]any)["type"] == "SUBSCRIPTION_TAKEN_OVER" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d take-over events", n)
	}

	// Guests buy nothing; the 21Vianet cloud has its own catalog and currency.
	s.fails("POST", "/v1/organizations/contoso/subscriptions:purchase", s.r.tokens["contoso/gus"], buy(plain, profile, 1, ""), 400, "GUEST_USER")
	wang := s.r.tokens["fabrikam-cn/wang"]
	cn := s.ok("POST", "/v1/organizations/fabrikam-cn/billingAccounts", wang, `{"displayName":"王","soldTo":{"countryCode":"CN"}}`)["name"].(string)
	pm := s.ok("POST", "/v1/"+cn+"/paymentMethods", wang, `{"alipay":{"loginId":"wang@fabrikam.example"}}`)["name"].(string)
	s.ok("PATCH", "/v1/"+cn+"/billingProfiles/default", wang, fmt.Sprintf(`{"paymentMethod":%q}`, pm))
	s.fails("POST", "/v1/organizations/fabrikam-cn/subscriptions:purchase", wang, buy("products/huddle-rooms", cn+"/billingProfiles/default", 1, ""), 400, "PRODUCT_NOT_AVAILABLE")
	if v := s.ok("POST", "/v1/organizations/fabrikam-cn/subscriptions:purchase", wang, buy(plain, cn+"/billingProfiles/default", 2, "")); v["unitPrice"].(map[string]any)["currencyCode"] != "CNY" {
		t.Fatalf("21Vianet price: %v", v["unitPrice"])
	}
}

// TestEndToEndQuantityRenewalAndPayments: reductions credited in grace or
// scheduled to renewal; renewals that cannot be paid disable after 30 days;
// reactivation; trial extension.
func TestEndToEndQuantityRenewalAndPayments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir(), "--clock", "manual")}
	maxTok, nora := s.r.tokens["contoso/max"], s.r.tokens["contoso/nora"]
	plain, _, trialFree, _, _ := s.products(maxTok)
	profile, account := s.wallet(maxTok, "4242424242424242")
	t0 := s.now()
	sub := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 10, ""))
	name := sub["name"].(string)

	// Day 2: a reduction is credited now.
	s.advanceTo(t0.Add(2 * 24 * time.Hour))
	if v := s.ok("POST", "/v1/"+name+":setQuantity", maxTok, `{"totalLicenses":8}`); v["quantity"] != float64(8) {
		t.Fatalf("reduction in grace: %v", v)
	}
	if typ, st, total := s.lastInvoice(account, maxTok); typ != "REMOVE_QUANTITY" || st != "PAID" || total[0] != '-' {
		t.Fatalf("credit: %s %s %s", typ, st, total)
	}
	// Day 9: a reduction waits for renewal.
	s.advanceTo(t0.Add(9 * 24 * time.Hour))
	if v := s.ok("POST", "/v1/"+name+":setQuantity", maxTok, `{"totalLicenses":6}`); v["quantity"] != float64(8) || v["scheduledQuantity"] != float64(6) {
		t.Fatalf("scheduled reduction: %v", v)
	}
	// Renewal at the end: the new term has 6 licenses, charged in full.
	end := stamp(sub, "endTime")
	s.advanceTo(end.Add(time.Minute))
	renewed := s.wantState(name, maxTok, "ACTIVE")
	if renewed["quantity"] != float64(6) || renewed["scheduledQuantity"] != nil || !stamp(renewed, "termStartTime").Equal(end) {
		t.Fatalf("renewal: %v", renewed)
	}
	if typ, st, _ := s.lastInvoice(account, maxTok); typ != "RENEW" || st != "PAID" {
		t.Fatalf("renewal invoice: %s %s", typ, st)
	}

	// A renewal that cannot be paid: PAST_DUE, and after 30 days DISABLED.
	s.ok("POST", "/v1/"+account+"/paymentMethods", maxTok, cardJSON("4000000000009995", "989"))
	methods := s.ok("GET", "/v1/"+account+"/paymentMethods", maxTok, "")["paymentMethods"].([]any)
	var poor string
	for _, m := range methods {
		if m.(map[string]any)["card"].(map[string]any)["last4"] == "9995" {
			poor = m.(map[string]any)["name"].(string)
		}
	}
	s.ok("PATCH", "/v1/"+profile, maxTok, fmt.Sprintf(`{"paymentMethod":%q}`, poor))
	end = stamp(renewed, "endTime")
	s.advanceTo(end.Add(time.Minute))
	if typ, st, _ := s.lastInvoice(account, maxTok); typ != "RENEW" || st != "PAST_DUE" {
		t.Fatalf("failed renewal: %s %s", typ, st)
	}
	s.wantState(name, maxTok, "ACTIVE")
	for d := 3; d <= 30; d += 3 {
		s.advanceTo(end.Add(time.Duration(d)*24*time.Hour + time.Hour))
	}
	s.wantState(name, maxTok, "DISABLED")
	if st := s.poolState(name, maxTok); st != "SUSPENDED" {
		t.Fatalf("unpaid pool is %s", st)
	}
	// Reactivating with a card that pays starts a new term.
	good := s.ok("POST", "/v1/"+account+"/paymentMethods", maxTok, cardJSON("5555555555554444", "989"))["name"].(string)
	s.ok("PATCH", "/v1/"+profile, maxTok, fmt.Sprintf(`{"paymentMethod":%q}`, good))
	back := s.ok("POST", "/v1/"+name+":reactivate", maxTok, `{}`)
	if back["state"] != "ACTIVE" || s.poolState(name, maxTok) != "ENABLED" {
		t.Fatalf("reactivate: %v", back)
	}
	if typ, st, _ := s.lastInvoice(account, maxTok); typ != "REACTIVATE" || st != "PAID" {
		t.Fatalf("reactivation invoice: %s %s", typ, st)
	}
	s.fails("POST", "/v1/"+name+":reactivate", maxTok, `{}`, 400, "SUBSCRIPTION_NOT_REACTIVATABLE")

	// A trial extends once, only in its last 15 days.
	trial := s.ok("POST", "/v1/organizations/contoso/subscriptions:startTrial", nora, fmt.Sprintf(`{"product":%q}`, trialFree))
	tname, tend := trial["name"].(string), stamp(trial, "endTime")
	s.fails("POST", "/v1/"+tname+":extendTrial", nora, `{}`, 400, "TRIAL_EXTENSION_NOT_ALLOWED")
	s.advanceTo(tend.Add(-10 * 24 * time.Hour))
	ext := s.ok("POST", "/v1/"+tname+":extendTrial", nora, `{}`)
	if !stamp(ext, "endTime").Equal(tend.Add(30*24*time.Hour)) || ext["trialExtended"] != true {
		t.Fatalf("extend: %v", ext)
	}
	s.fails("POST", "/v1/"+tname+":extendTrial", nora, `{}`, 400, "TRIAL_EXTENSION_NOT_ALLOWED")
	s.fails("POST", "/v1/"+tname+":setQuantity", nora, `{"totalLicenses":30}`, 400, "SUBSCRIPTION_NOT_ACTIVE")
	s.fails("POST", "/v1/"+tname+":cancel", nora, `{"reason":"BECAUSE"}`, 400, "INVALID_FIELD")
}

// TestEndToEndCancellationReasonsAndClouds: the reasons a cancel form offers,
// labelled in the caller's language; the admin center of each cloud.
func TestEndToEndCancellationReasonsAndClouds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir())
	code, body := r.do(t, call{method: "GET", path: "/v1/cancellationReasons", token: r.tokens["contoso/max"], headers: map[string]string{"Accept-Language": "sv-SE"}})
	list, _ := body["cancellationReasons"].([]any)
	if code != 200 || len(list) != 8 {
		t.Fatalf("reasons: %d %v", code, body)
	}
	first := list[0].(map[string]any)
	if first["reason"] != "NO_LONGER_NEEDED" || first["label"] != "Jag behöver den inte längre" {
		t.Fatalf("first reason in Swedish: %v", first)
	}
	_, global := r.do(t, call{method: "GET", path: "/v1/organizations/contoso", token: r.tokens["contoso/max"]})
	_, china := r.do(t, call{method: "GET", path: "/v1/organizations/fabrikam-cn", token: r.tokens["fabrikam-cn/zhang"]})
	if global["adminCenterUri"] == "" || china["adminCenterUri"] == "" || global["adminCenterUri"] == china["adminCenterUri"] {
		t.Fatalf("admin centers: %v / %v", global["adminCenterUri"], china["adminCenterUri"])
	}
}

// TestEndToEndScheduledReductionKeepsAssignedUsers: users assigned after a
// reduction was scheduled keep their licenses: at renewal the reduction goes
// down to the assigned count, no further (API.md §4: never below it), the
// pool and the charge agree, and the subscription takes changes again.
func TestEndToEndScheduledReductionKeepsAssignedUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir(), "--clock", "manual")}
	maxTok := s.r.tokens["contoso/max"]
	plain, _, _, _, unit := s.products(maxTok)
	profile, account := s.wallet(maxTok, "4242424242424242")
	t0 := s.now()
	sub := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 3, ""))
	name := sub["name"].(string)
	pool := "/v1/organizations/contoso/licenses/" + name[len("organizations/contoso/subscriptions/"):]

	s.advanceTo(t0.Add(9 * 24 * time.Hour))
	if v := s.ok("POST", "/v1/"+name+":setQuantity", maxTok, `{"totalLicenses":1}`); v["quantity"] != float64(3) || v["scheduledQuantity"] != float64(1) {
		t.Fatalf("scheduled reduction: %v", v)
	}
	if p := s.ok("POST", pool+":assign", maxTok, `{"users":["organizations/contoso/users/max","organizations/contoso/users/nora"]}`); p["assignedLicenses"] != float64(2) {
		t.Fatalf("assign after the reduction was scheduled: %v", p)
	}
	s.advanceTo(stamp(sub, "endTime").Add(time.Minute))
	renewed := s.wantState(name, maxTok, "ACTIVE")
	if renewed["quantity"] != float64(2) || renewed["scheduledQuantity"] != nil {
		t.Fatalf("renewal with 2 assigned and 1 scheduled: %v", renewed)
	}
	if p := s.ok("GET", pool, maxTok, ""); p["totalLicenses"] != float64(2) || p["assignedLicenses"] != float64(2) {
		t.Fatalf("pool after the renewal: %v", p)
	}
	typ, st, total := s.lastInvoice(account, maxTok)
	if typ != "RENEW" || st != "PAID" {
		t.Fatalf("renewal invoice: %s %s %s", typ, st, total)
	}
	t.Logf("renewed at 2 licenses of %d minor units each: invoice total %s", unit, total)
	// Nothing is left pending: the next change goes through at once.
	if v := s.ok("POST", "/v1/"+name+":setQuantity", maxTok, `{"totalLicenses":4}`); v["quantity"] != float64(4) {
		t.Fatalf("a change after the renewal: %v", v)
	}
}
