package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// localized is the LocalizedMessage of an error body: its locale and text.
func localized(body map[string]any) (locale, text string) {
	details, _ := body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/google.rpc.LocalizedMessage" {
			locale, _ = m["locale"].(string)
			text, _ = m["message"].(string)
		}
	}
	return locale, text
}

// TestEndToEndMessages checks issue 13's message items through the JSON edge:
// counted error messages take the singular or the plural as each language's
// rules say, in the status message (English) and in the LocalizedMessage
// (the caller's language); and the audit feed names people and products by
// display name, never by a bare id beside a name.
func TestEndToEndMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir())}
	maxTok, ada := s.r.tokens["contoso/max"], s.r.tokens["contoso/ada"]
	plain, other, _, _, _ := s.products(maxTok)
	profile, _ := s.wallet(maxTok, "4242424242424242")
	sub := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 2, ""))
	name := sub["name"].(string)
	product, _ := sub["productDisplayName"].(string)
	if product == "" {
		t.Fatalf("purchase: %v", sub)
	}
	pool := "/v1/organizations/contoso/licenses/" + strings.TrimPrefix(name, "organizations/contoso/subscriptions/")
	users := func(ids ...string) string {
		for i, id := range ids {
			ids[i] = fmt.Sprintf("%q", "organizations/contoso/users/"+id)
		}
		return `{"users":[` + strings.Join(ids, ",") + `]}`
	}
	s.ok("POST", pool+":assign", maxTok, users("max"))

	// fails calls and checks the error's reason, English message and
	// localized message in each language.
	fails := func(method, path, body, reason, english string, want map[string]string) {
		t.Helper()
		for lang, text := range want {
			code, out := s.r.do(t, call{method: method, path: path, token: maxTok, body: body, headers: map[string]string{"Accept-Language": lang}})
			why, _ := errorReason(out)
			loc, got := localized(out)
			if code != 400 || why != reason || out["message"] != english {
				t.Errorf("%s %s in %s: %d %s %q, want %s %q", method, path, lang, code, why, out["message"], reason, english)
			}
			if loc != lang || got != text {
				t.Errorf("%s %s in %s: localized %s %q, want %q", method, path, lang, loc, got, text)
			}
		}
	}
	// One license left: the singular.
	fails("POST", pool+":assign", users("nora", "li"), "NOT_ENOUGH_LICENSES", "2 users need a license, but 1 is available.", map[string]string{
		"en":    "2 users need a license, but 1 is available.",
		"fr":    "2 utilisateurs ont besoin d'une licence, mais 1 licence est disponible.",
		"sv":    "2 användare behöver en licens, men 1 licens är ledig.",
		"zh-CN": "2 个用户需要许可证，但只有 1 个可用。",
	})
	// Several left: the plural.
	s.ok("POST", "/v1/"+name+":setQuantity", maxTok, `{"totalLicenses":4}`)
	fails("POST", pool+":assign", users("nora", "li", "ada", "bruno"), "NOT_ENOUGH_LICENSES", "4 users need a license, but 3 are available.", map[string]string{
		"en":    "4 users need a license, but 3 are available.",
		"fr":    "4 utilisateurs ont besoin d'une licence, mais 3 licences sont disponibles.",
		"sv":    "4 användare behöver en licens, men 3 licenser är lediga.",
		"zh-CN": "4 个用户需要许可证，但只有 3 个可用。",
	})
	s.ok("POST", pool+":assign", maxTok, users("nora"))
	fails("POST", "/v1/"+name+":setQuantity", `{"totalLicenses":1}`, "BELOW_ASSIGNED_LICENSES", "2 licenses are assigned, so the total cannot be 1.", map[string]string{
		"en": "2 licenses are assigned, so the total cannot be 1.",
		"fr": "2 licences sont attribuées, le total ne peut donc pas être de 1.",
		"sv": "2 licenser är tilldelade, så totalen kan inte vara 1.",
	})
	s.ok("POST", pool+":unassign", maxTok, users("nora"))
	// An admin's change: the policy of another product.
	otherID := strings.TrimPrefix(other, "products/")
	s.ok("PATCH", "/v1/organizations/contoso/productPolicies/"+otherID, ada, `{"value":"DISABLED"}`)

	// The feed: every kind of source names people by display name. The
	// assignments come from licensing through an outbox: wait for them.
	wantTypes := []string{"SUBSCRIPTION_PURCHASED", "QUANTITY_CHANGED", "LICENSES_ASSIGNED", "LICENSES_UNASSIGNED", "POLICY_CHANGED", "PAYMENT_METHOD_ADDED"}
	bareID := regexp.MustCompile(`\b(max|nora|li|ada|bruno|rita)\b|organizations/|products/|users/`)
	for _, lang := range []string{"en", "fr", "sv", "zh-CN"} {
		var events []map[string]any
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, body := s.r.do(t, call{method: "GET", path: "/v1/organizations/contoso/events?pageSize=100", token: ada, headers: map[string]string{"Accept-Language": lang}})
			if code != 200 {
				t.Fatalf("events: %d %v", code, body)
			}
			events = events[:0]
			seen := map[string]int{}
			list, _ := body["events"].([]any)
			for _, x := range list {
				e := x.(map[string]any)
				events = append(events, e)
				seen[e["type"].(string)]++
			}
			all := true
			for _, typ := range wantTypes {
				all = all && seen[typ] > 0
			}
			if all && seen["LICENSES_ASSIGNED"] >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("feed in %s lacks events: %v", lang, seen)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, e := range events {
			d, _ := e["description"].(string)
			typ := e["type"].(string)
			if m := bareID.FindString(d); m != "" {
				t.Errorf("%s %s: %q names %q by id", lang, typ, d, m)
			}
			actor := "Max Holm"
			if typ == "POLICY_CHANGED" {
				actor = "Ada Lindqvist"
			}
			if !strings.HasPrefix(d, actor) {
				t.Errorf("%s %s: %q does not start with %s", lang, typ, d, actor)
			}
			if e["actorDisplayName"] != actor {
				t.Errorf("%s %s: actorDisplayName %v, want %s", lang, typ, e["actorDisplayName"], actor)
			}
			t.Logf("%s %s: %s", lang, typ, d)
		}
		if lang != "en" {
			continue
		}
		for _, want := range []string{
			"Max Holm assigned 1 license of " + product + " to Nora Dubois.",
			"Max Holm assigned 1 license of " + product + " to Max Holm.",
			"Max Holm unassigned 1 license of " + product + " from Nora Dubois.",
			"Max Holm changed the number of licenses of " + product + " from 2 to 4.",
			"Max Holm bought 2 licenses of " + product + ".",
		} {
			found := false
			for _, e := range events {
				found = found || e["description"] == want
			}
			if !found {
				t.Errorf("no event says %q", want)
			}
		}
	}
}
