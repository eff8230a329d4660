package main

import (
	"strings"
	"testing"
)

// TestEndToEndUpdateMasks: every PATCH of the JSON edge takes its update mask
// in lowerCamelCase or snake_case, in the query or as the body's updateMask
// (a string or an array), not both; with no mask the fields present change;
// {} changes nothing; a nested path changes that part only; name and
// output-only paths are ignored; an unknown path is INVALID_FIELD on
// updateMask, listing the updatable fields in lowerCamelCase.
func TestEndToEndUpdateMasks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir())
	maxTok, ada := r.tokens["contoso/max"], r.tokens["contoso/ada"]
	ok := func(c call) map[string]any {
		t.Helper()
		code, body := r.do(t, c)
		if code != 200 {
			t.Fatalf("%s %s %s: %d %v", c.method, c.path, c.body, code, body)
		}
		return body
	}
	refused := func(c call, field string, contains ...string) {
		t.Helper()
		code, body := r.do(t, c)
		info, _ := errorInfo(body)
		md := metadataOf(info)
		if code != 400 || info["reason"] != "INVALID_FIELD" || md["field"] != field {
			t.Fatalf("%s %s %s: want 400 INVALID_FIELD on %s, got %d %v", c.method, c.path, c.body, field, code, body)
		}
		for _, want := range contains {
			if msg, _ := body["message"].(string); !strings.Contains(msg, want) {
				t.Errorf("%s: message %q lacks %q", c.body, msg, want)
			}
		}
	}

	account := ok(call{method: "POST", path: "/v1/organizations/contoso/billingAccounts", token: maxTok,
		body: `{"displayName":"Masks","soldTo":{"countryCode":"SE","city":"Lund"}}`})["name"].(string)
	card := ok(call{method: "POST", path: "/v1/" + account + "/paymentMethods", token: maxTok, body: cardJSON("4242424242424242", "989")})["name"].(string)
	other := ok(call{method: "POST", path: "/v1/" + account + "/paymentMethods", token: maxTok, body: cardJSON("5555555555554444", "321")})["name"].(string)
	profile := "/v1/" + account + "/billingProfiles/default"
	patch := func(query, body string) call {
		return call{method: "PATCH", path: profile + query, token: maxTok, body: body}
	}
	get := func() map[string]any { return ok(call{method: "GET", path: profile, token: maxTok}) }

	// The query, in lowerCamelCase and in snake_case: only the named field changes.
	got := ok(patch("?updateMask=paymentMethod", `{"paymentMethod":"`+card+`","poNumber":"not named"}`))
	if got["paymentMethod"] != card || got["poNumber"] != "" {
		t.Fatalf("updateMask=paymentMethod: %v", got)
	}
	got = ok(patch("?update_mask=backup_payment_method,po_number", `{"backupPaymentMethod":"`+other+`","poNumber":"PO-1"}`))
	if got["backupPaymentMethod"] != other || got["poNumber"] != "PO-1" || got["paymentMethod"] != card {
		t.Fatalf("update_mask=backup_payment_method,po_number: %v", got)
	}
	// The body's updateMask, as a string and as an array; the other fields keep their values.
	got = ok(patch("", `{"updateMask":"poNumber","poNumber":"PO-2","displayName":"not named"}`))
	if got["poNumber"] != "PO-2" || got["displayName"] == "not named" || got["backupPaymentMethod"] != other {
		t.Fatalf("body updateMask string: %v", got)
	}
	got = ok(patch("", `{"updateMask":["backupPaymentMethod","invoiceEmailEnabled"],"invoiceEmailEnabled":true}`))
	if got["backupPaymentMethod"] != "" || got["invoiceEmailEnabled"] != true || got["poNumber"] != "PO-2" {
		t.Fatalf("body updateMask array (clearing the backup): %v", got)
	}
	// No mask: the fields present change, the others stay.
	got = ok(patch("", `{"billTo":{"countryCode":"SE","city":"Lund","postalCode":"22100","addressLine1":"Stora gatan 1"}}`))
	if bt, _ := got["billTo"].(map[string]any); bt["city"] != "Lund" || got["poNumber"] != "PO-2" || got["paymentMethod"] != card {
		t.Fatalf("no mask: %v", got)
	}
	// A nested path changes that part only.
	got = ok(patch("?updateMask=billTo.city", `{"billTo":{"city":"Malmö","postalCode":"ignored"}}`))
	if bt, _ := got["billTo"].(map[string]any); bt["city"] != "Malmö" || bt["postalCode"] != "22100" || bt["addressLine1"] != "Stora gatan 1" {
		t.Fatalf("billTo.city: %v", got)
	}
	// {} and an empty mask change nothing; name and output-only paths are ignored.
	before := get()
	for _, c := range []call{patch("", `{}`), patch("", `{"updateMask":""}`), patch("", `{"updateMask":[]}`),
		patch("?updateMask=name,createTime,updateTime", `{"createTime":"2020-01-01T00:00:00Z"}`)} {
		got = ok(c)
		if got["poNumber"] != before["poNumber"] || got["paymentMethod"] != before["paymentMethod"] || got["createTime"] != before["createTime"] {
			t.Fatalf("%s %s changed the profile: %v, was %v", c.path, c.body, got, before)
		}
	}
	// Unknown paths, a mask in both places, a mask of the wrong type.
	refused(patch("?updateMask=paymentMethd", `{}`), "updateMask",
		`"paymentMethd" cannot be updated`, "updatable: displayName, paymentMethod, backupPaymentMethod, billTo, poNumber, invoiceEmailEnabled")
	refused(patch("?updateMask=billTo.colour", `{}`), "updateMask", `"billTo.colour"`)
	refused(patch("?update_mask=owner", `{}`), "updateMask", `"owner"`, "updatable: displayName")
	refused(patch("?updateMask=poNumber", `{"updateMask":"poNumber","poNumber":"x"}`), "updateMask", "not both")
	refused(patch("", `{"updateMask":{"paths":["poNumber"]}}`), "updateMask", "comma-separated string or an array of strings")
	refused(patch("", `{"updateMask":"poNumber","update_mask":"poNumber"}`), "updateMask")
	if after := get(); after["poNumber"] != before["poNumber"] || after["updateTime"] != before["updateTime"] {
		t.Fatalf("a refused PATCH changed the profile: %v, was %v", after, before)
	}

	// A card: camelCase nested paths; brand and last4 ignored; the number never changes.
	pm := "/v1/" + card
	got = ok(call{method: "PATCH", path: pm + "?updateMask=card.expMonth,card.securityCode,card.brand,card.last4", token: maxTok,
		body: `{"card":{"expMonth":3,"expYear":2099,"securityCode":"989","brand":"JCB","last4":"0000"}}`})
	c, _ := got["card"].(map[string]any)
	if c["expMonth"] != float64(3) || c["expYear"] == float64(2099) || c["brand"] != "VISA" || c["last4"] != "4242" || hasKey(c, "securityCode") {
		t.Fatalf("card.expMonth: %v", got)
	}
	got = ok(call{method: "PATCH", path: pm, token: maxTok, body: `{"card":{"holderName":"Max Holm-Lind","securityCode":"989"}}`})
	if c, _ := got["card"].(map[string]any); c["holderName"] != "Max Holm-Lind" || c["expMonth"] != float64(3) {
		t.Fatalf("card without a mask: %v", got)
	}
	refused(call{method: "PATCH", path: pm + "?updateMask=alipay", token: maxTok, body: `{}`}, "updateMask", "updatable: card")

	// The organization's policies: one field each.
	policy := "/v1/organizations/contoso/productPolicies/formwise"
	got = ok(call{method: "PATCH", path: policy + "?updateMask=value", token: ada, body: `{"value":"DISABLED"}`})
	if got["value"] != "DISABLED" {
		t.Fatalf("policy: %v", got)
	}
	if got = ok(call{method: "PATCH", path: policy, token: ada, body: `{}`}); got["value"] != "DISABLED" {
		t.Fatalf("{} on a policy changed it: %v", got)
	}
	refused(call{method: "PATCH", path: policy + "?updateMask=displayName", token: ada, body: `{"value":"ENABLED"}`}, "updateMask", "updatable: value")
	settings := "/v1/organizations/contoso/selfServiceSettings"
	got = ok(call{method: "PATCH", path: settings, token: ada, body: `{"updateMask":"defaultPolicy","defaultPolicy":"ONLY_TRIALS_WITHOUT_PAYMENT_METHOD"}`})
	if got["defaultPolicy"] != "ONLY_TRIALS_WITHOUT_PAYMENT_METHOD" {
		t.Fatalf("settings: %v", got)
	}
	refused(call{method: "PATCH", path: settings + "?updateMask=default_policy,value", token: ada, body: `{}`}, "updateMask", `"value"`, "updatable: defaultPolicy")
}
