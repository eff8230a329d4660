package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/auth"
)

// The callers of the access matrix, in column order: no token, the operator,
// contoso's users of every role, and two users of another organization.
var accessCallers = []struct{ key, short string }{
	{"", "-"},
	{"operator", "op"},
	{"contoso/ada", "ada"},         // GLOBAL_ADMIN
	{"contoso/bruno", "bruno"},     // BILLING_ADMIN
	{"contoso/li", "li"},           // LICENSE_ADMIN
	{"contoso/rita", "rita"},       // GLOBAL_READER
	{"contoso/max", "max"},         // member
	{"contoso/nora", "nora"},       // member
	{"contoso/gus", "gus"},         // GUEST
	{"fabrikam-cn/wang", "wang"},   // GLOBAL_ADMIN of fabrikam-cn
	{"fabrikam-cn/zhang", "zhang"}, // member of fabrikam-cn
}

// Outcome classes of one call. A cell of a row's want may join several with
// "|".
//
//	A  allowed: 2xx
//	D  denied: 403 (PERMISSION_DENIED, ADMIN_READ_ONLY, ...)
//	H  hidden: 404 RESOURCE_NOT_FOUND (another organization's name)
//	U  unauthenticated: 401 TOKEN_MISSING
//	R  refused within the organization, either way: 403, or 404
//	   RESOURCE_NOT_FOUND (a colleague's own resource: API.md says who may
//	   use it, not whether others learn that it exists)
//	G  400 GUEST_USER: API.md §5 answers "a guest as assignee or buyer"
//	   with FAILED_PRECONDITION, and §4 "Guests can buy nothing"
type accessRow struct {
	// rule is the selector in proto/selfserve/http.yaml, without its package.
	rule string
	// variant tells rows of the same rule apart.
	variant string
	method  string
	// want holds one cell per caller of accessCallers.
	want string
	// also is a 400 reason an allowed caller may get instead of 2xx, for a
	// role-independent reason said in a comment at the row.
	also string
	// call gives the path and body for one caller; it may make a fresh
	// fixture so that a 2xx changes nothing later rows read.
	call func(who string) (path, body string)
}

// accessResult is what one call answered.
type accessResult struct {
	code   int
	reason string
}

func (g accessResult) class() string {
	switch {
	case g.code >= 200 && g.code < 300:
		return "A"
	case g.code == 401 && g.reason == "TOKEN_MISSING":
		return "U"
	case g.code == 403:
		return "D"
	case g.code == 404 && g.reason == "RESOURCE_NOT_FOUND":
		return "H"
	case g.code == 400 && g.reason == "GUEST_USER":
		return "G"
	}
	return fmt.Sprintf("%d:%s", g.code, g.reason)
}

// matches tells whether got is one of the classes of a cell.
func (g accessResult) matches(cell, also string) bool {
	for _, c := range strings.Split(cell, "|") {
		switch got := g.class(); {
		case c == got:
			return true
		case c == "R" && (got == "D" || got == "H"):
			return true
		case c == "A" && also != "" && g.code == 400 && g.reason == also:
			return true
		}
	}
	return false
}

// accessSend sends one request with an Authorization header as given (none
// when empty) and returns the status, the ErrorInfo reason and the body. It
// takes any content type: an invoice download answers a PDF.
func accessSend(t *testing.T, r *running, method, path, authorization, body string) (int, string, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	reason := ""
	if resp.StatusCode >= 300 {
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: error not JSON (%d): %q", method, path, resp.StatusCode, raw)
		}
		reason, _ = errorReason(out)
	}
	return resp.StatusCode, reason, raw
}

// httpRules reads proto/selfserve/http.yaml: every selector (Service.Method)
// with its HTTP method.
func httpRules(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "proto", "selfserve", "http.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules := map[string]string{}
	selector := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if s, ok := strings.CutPrefix(line, "- selector:"); ok {
			parts := strings.Split(strings.TrimSpace(s), ".")
			selector = strings.Join(parts[len(parts)-2:], ".")
			continue
		}
		for _, verb := range []string{"get", "post", "patch", "delete", "put"} {
			if strings.HasPrefix(line, verb+":") && selector != "" {
				rules[selector] = strings.ToUpper(verb)
				selector = ""
			}
		}
	}
	if len(rules) < 50 {
		t.Fatalf("read only %d rules from http.yaml", len(rules))
	}
	return rules
}

// TestEndToEndAccessMatrix calls every route of the JSON edge as every kind
// of caller and checks each answer against who API.md §3 lets do what.
func TestEndToEndAccessMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	start := time.Now()
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir(), "--clock", "manual")}
	tok := func(who string) string { return s.r.tokens[who] }
	maxTok, adaTok, noraTok := tok("contoso/max"), tok("contoso/ada"), tok("contoso/nora")
	for _, c := range accessCallers {
		if c.key != "" && tok(c.key) == "" {
			t.Fatalf("no token for %s in the banner", c.key)
		}
	}

	// Fixtures, made once by their rightful owners at t0.
	plain, _, _, trialPaid, _ := s.products(maxTok)
	var trials []string // every trial but max's, for the startTrial row
	for _, p := range s.ok("GET", "/v1/products?pageSize=1000", maxTok, "")["products"].([]any) {
		m := p.(map[string]any)
		if m["trial"] != nil && m["name"] != trialPaid {
			trials = append(trials, m["name"].(string))
		}
	}
	if len(trials) < 2 {
		t.Fatalf("the catalog has too few trials: %v", trials)
	}
	// Every user who may buy gets a wallet of their own: a purchase must be
	// paid from the buyer's own billing profile.
	profiles := map[string]string{}
	for i, who := range []string{"contoso/max", "contoso/ada", "contoso/bruno", "contoso/li", "contoso/rita", "contoso/nora"} {
		profiles[who], _ = s.wallet(tok(who), []string{"4242424242424242", "5555555555554444"}[i%2])
	}
	maxProfile := profiles["contoso/max"]
	maxAccount := strings.TrimSuffix(maxProfile, "/billingProfiles/default")
	maxMethod := s.ok("GET", "/v1/"+maxProfile, maxTok, "")["paymentMethod"].(string)
	profileOf := func(who string) string {
		if p, ok := profiles[who]; ok {
			return p
		}
		return maxProfile
	}
	subID := func(name string) string { return name[strings.LastIndex(name, "/")+1:] }
	pool := func(name string) string { return "organizations/contoso/licenses/" + subID(name) }
	purchase := func(token, profile string, qty int) string {
		return s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", token, buy(plain, profile, qty, ""))["name"].(string)
	}

	// ada's webhook endpoint, for purchases: the first one makes a delivery
	// to redeliver. (No one answers at that address; attempts just fail.)
	hookURL := "https://93.184.215.14/selfserve"
	newHook := func() string {
		return s.ok("POST", "/v1/organizations/contoso/webhooks", adaTok, fmt.Sprintf(`{"url":%q,"eventTypes":["SUBSCRIPTION_PURCHASED"]}`, hookURL))["name"].(string)
	}
	hook := newHook()

	// max's SELF_SERVICE subscription, max assigned; its first invoice.
	mine := purchase(maxTok, maxProfile, 5)
	var delivery string
	for deadline := time.Now().Add(10 * time.Second); delivery == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ds, _ := s.ok("GET", "/v1/"+hook+"/deliveries", adaTok, "")["deliveries"].([]any); len(ds) > 0 {
			delivery = ds[0].(map[string]any)["name"].(string)
		}
	}
	if delivery == "" {
		t.Fatal("the purchase made no webhook delivery in 10 s")
	}
	s.ok("POST", "/v1/"+pool(mine)+":assign", maxTok, `{"users":["organizations/contoso/users/max"]}`)
	invoice := s.invoices(maxAccount, maxTok)[0]["name"].(string)
	// Another of max's, to cancel once its 7 days of grace are over (it then
	// stays ACTIVE, and cancelling again is allowed).
	mineToCancel := purchase(maxTok, maxProfile, 1)
	// max's trial that needs a payment method, to extend and then convert.
	trial := s.ok("POST", "/v1/organizations/contoso/subscriptions:startTrial", maxTok,
		fmt.Sprintf(`{"product":%q,"billingProfile":%q}`, trialPaid, maxProfile))["name"].(string)
	// ada's ADMIN-channel subscriptions: the organization's own.
	corp := purchase(adaTok, profiles["contoso/ada"], 10)
	if v := s.sub(corp, adaTok); v["channel"] != "ADMIN" {
		t.Fatalf("ada's purchase is not the organization's: %v", v)
	}
	s.ok("POST", "/v1/"+pool(corp)+":assign", adaTok, `{"users":["organizations/contoso/users/ada"]}`)
	corpToCancel := purchase(adaTok, profiles["contoso/ada"], 1)
	requestBody := fmt.Sprintf(`{"product":%q,"message":"for the access matrix"}`, plain)
	noraRequest := s.ok("POST", "/v1/organizations/contoso/licenseRequests", noraTok, requestBody)["name"].(string)

	// Past every fixture's 7 days of grace and into the trial's last 15 days,
	// where it may be extended.
	s.advanceTo(s.now().Add(16 * 24 * time.Hour))

	// Fresh fixtures for calls that change what they touch for good.
	freshMine := func() string { return purchase(maxTok, maxProfile, 1) }
	freshDisabled := func(token, profile string) string {
		name := purchase(token, profile, 1)
		if v := s.ok("POST", "/v1/"+name+":cancel", token, `{"reason":"OTHER"}`); v["state"] != "DISABLED" {
			t.Fatalf("a cancel in grace did not disable: %v", v)
		}
		return name
	}
	freshRequest := func() string {
		return s.ok("POST", "/v1/organizations/contoso/licenseRequests", noraTok, requestBody)["name"].(string)
	}
	freshMethod := func() string {
		return s.ok("POST", "/v1/"+maxAccount+"/paymentMethods", maxTok, cardJSON("5555555555554444", "321"))["name"].(string)
	}
	shortOf := map[string]string{}
	for _, c := range accessCallers {
		shortOf[c.key] = c.short
	}
	fixed := func(path, body string) func(string) (string, string) {
		return func(string) (string, string) { return path, body }
	}
	trialCalls := 0

	const (
		// Every user of contoso, the operator reading.
		everyone  = "U A A A A A A A A H H"
		signedIn  = "U A A A A A A A A A A"
		operators = "U A D D D D D D D D D"
		// A self-service resource of max: admins read it, only max changes it.
		maxReads   = "U A A A A A A R R H H"
		maxChanges = "U D D D D D A R R H H"
		// max's billing: API.md says "owner" only for profiles and payment
		// methods; the operator reads org data.
		ownerReads   = "U A R R R R A R R H H"
		ownerChanges = "U D R R R R A R R H H"
		// ada's ADMIN-channel subscription: any GLOBAL_ADMIN or
		// BILLING_ADMIN manages it (§4); admins and readers read it.
		corpReads   = "U A A A A A R R R H H"
		corpChanges = "U D A A D D R R R H H"
	)
	rows := []accessRow{
		// --- Directory.
		{rule: "DirectoryService.CreateOrganization", method: "POST", want: operators, call: func(who string) (string, string) {
			return "/v1/organizations?organizationId=acl-" + strings.Trim(shortOf[who], "-") + "x", `{"displayName":"Access","countryCode":"SE","cloud":"GLOBAL"}`
		}},
		{rule: "DirectoryService.GetOrganization", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso", "")},
		// Not in API.md; the proto: OPERATOR only.
		{rule: "DirectoryService.ListOrganizations", method: "GET", want: operators, call: fixed("/v1/organizations", "")},
		{rule: "DirectoryService.CreateUser", method: "POST", want: "U A A D D D D D D H H", call: func(who string) (string, string) {
			id := "acl-" + strings.Trim(shortOf[who], "-") + "x"
			return "/v1/organizations/contoso/users?userId=" + id,
				fmt.Sprintf(`{"displayName":"Access Test","email":"%s@contoso.example","userType":"MEMBER","usageLocation":"SE"}`, id)
		}},
		{rule: "DirectoryService.ListUsers", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso/users?query=no", "")},
		{rule: "DirectoryService.GetUser", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso/users/nora", "")},
		{rule: "DirectoryService.IssueToken", method: "POST", want: "U A D D D D D D D H H", call: fixed("/v1/organizations/contoso/users/max:issueToken", `{}`)},

		// --- Licenses. Pools: "purchaser (own), admins"; assigning:
		// "purchaser; for ADMIN-channel subscriptions also GLOBAL_ADMIN,
		// LICENSE_ADMIN" and, by §4, the BILLING_ADMIN who manages it.
		{rule: "LicensingService.ListLicenses", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso/licenses", "")},
		{rule: "LicensingService.GetLicense", variant: "self-service", method: "GET", want: maxReads, call: fixed("/v1/"+pool(mine), "")},
		{rule: "LicensingService.GetLicense", variant: "ADMIN", method: "GET", want: corpReads, call: fixed("/v1/"+pool(corp), "")},
		{rule: "LicensingService.ListAssignments", variant: "self-service", method: "GET", want: maxReads, call: fixed("/v1/"+pool(mine)+"/assignments", "")},
		{rule: "LicensingService.ListAssignments", variant: "ADMIN", method: "GET", want: corpReads, call: fixed("/v1/"+pool(corp)+"/assignments", "")},
		// Assigning an assigned user is a no-op; unassigning a user without a
		// license leaves the pool as it is.
		{rule: "LicensingService.AssignLicenses", variant: "self-service", method: "POST", want: maxChanges,
			call: fixed("/v1/"+pool(mine)+":assign", `{"users":["organizations/contoso/users/max"]}`)},
		{rule: "LicensingService.AssignLicenses", variant: "ADMIN", method: "POST", want: "U D A A A D R R R H H",
			call: fixed("/v1/"+pool(corp)+":assign", `{"users":["organizations/contoso/users/ada"]}`)},
		{rule: "LicensingService.UnassignLicenses", variant: "self-service", method: "POST", want: maxChanges,
			call: fixed("/v1/"+pool(mine)+":unassign", `{"users":["organizations/contoso/users/nora"]}`)},
		{rule: "LicensingService.UnassignLicenses", variant: "ADMIN", method: "POST", want: "U D A A A D R R R H H",
			call: fixed("/v1/"+pool(corp)+":unassign", `{"users":["organizations/contoso/users/nora"]}`)},
		// "the user, admins".
		{rule: "LicensingService.ListUserLicenses", method: "GET", want: maxReads, call: fixed("/v1/organizations/contoso/users/max/licenses", "")},

		// --- License requests: "members create; admins decide". A guest's
		// own request names the guest as assignee (§5 GUEST_USER).
		{rule: "LicenseRequestService.CreateLicenseRequest", method: "POST", want: "U D A A A A A A G H H",
			call: fixed("/v1/organizations/contoso/licenseRequests", requestBody)},
		{rule: "LicenseRequestService.ListLicenseRequests", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso/licenseRequests", "")},
		// nora's request: nora and the admins read it.
		{rule: "LicenseRequestService.GetLicenseRequest", method: "GET", want: "U A A A A A R A R H H", call: fixed("/v1/"+noraRequest, "")},
		// Deciding: GLOBAL_READER never changes anything. Each call decides a
		// fresh request of nora's, approved from ada's ADMIN subscription.
		{rule: "LicenseRequestService.ApproveLicenseRequest", method: "POST", want: "U D A A A D R R R H H", call: func(string) (string, string) {
			return "/v1/" + freshRequest() + ":approve", fmt.Sprintf(`{"subscription":%q}`, corp)
		}},
		{rule: "LicenseRequestService.DenyLicenseRequest", method: "POST", want: "U D A A A D R R R H H", call: func(string) (string, string) {
			return "/v1/" + freshRequest() + ":deny", `{"message":"not now"}`
		}},

		// --- Catalog and policies.
		{rule: "CatalogService.ListProducts", method: "GET", want: signedIn, call: fixed("/v1/products", "")},
		{rule: "SubscriptionService.ListCancellationReasons", method: "GET", want: signedIn, call: fixed("/v1/cancellationReasons", "")},
		{rule: "CatalogService.GetProduct", method: "GET", want: signedIn, call: fixed("/v1/"+plain, "")},
		{rule: "CatalogService.ListProductPolicies", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso/productPolicies", "")},
		// ENABLED is what every product has by default: a 2xx changes nothing.
		{rule: "CatalogService.UpdateProductPolicy", method: "PATCH", want: "U D A A D D D D D H H",
			call: fixed("/v1/organizations/contoso/productPolicies/"+subID(plain), `{"value":"ENABLED"}`)},
		// "GLOBAL_ADMIN, BILLING_ADMIN" for GET too; the operator reads org data.
		{rule: "CatalogService.GetSelfServiceSettings", method: "GET", want: "U A A A D D D D D H H",
			call: fixed("/v1/organizations/contoso/selfServiceSettings", "")},
		{rule: "CatalogService.UpdateSelfServiceSettings", method: "PATCH", want: "U D A A D D D D D H H",
			call: fixed("/v1/organizations/contoso/selfServiceSettings", `{"defaultPolicy":"ENABLED"}`)},

		// --- Subscriptions. Every member, whatever roles, may buy for
		// themselves (§2), from their own billing profile; guests buy
		// nothing; the operator is not a user.
		{rule: "SubscriptionService.PurchaseSubscription", method: "POST", want: "U D A A A A A A G H H", call: func(who string) (string, string) {
			return "/v1/organizations/contoso/subscriptions:purchase", buy(plain, profileOf(who), 1, "")
		}},
		// One trial per product per organization (§4): once the few trials
		// of the catalog are used, an allowed caller can only be told
		// TRIAL_ALREADY_USED, which is checked after who may buy.
		{rule: "SubscriptionService.StartTrial", method: "POST", want: "U D A A A A A A G H H", also: "TRIAL_ALREADY_USED", call: func(who string) (string, string) {
			trialCalls++
			return "/v1/organizations/contoso/subscriptions:startTrial",
				fmt.Sprintf(`{"product":%q,"billingProfile":%q}`, trials[trialCalls%len(trials)], profileOf(who))
		}},
		// "purchaser sees own; admins and GLOBAL_READER see all".
		{rule: "SubscriptionService.ListSubscriptions", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso/subscriptions?channel=SELF_SERVICE", "")},
		{rule: "SubscriptionService.GetSubscription", variant: "self-service", method: "GET", want: maxReads, call: fixed("/v1/"+mine, "")},
		{rule: "SubscriptionService.GetSubscription", variant: "ADMIN", method: "GET", want: corpReads, call: fixed("/v1/"+corp, "")},
		{rule: "SubscriptionService.ListOrders", variant: "self-service", method: "GET", want: maxReads, call: fixed("/v1/"+mine+"/orders", "")},
		{rule: "SubscriptionService.ListOrders", variant: "ADMIN", method: "GET", want: corpReads, call: fixed("/v1/"+corp+"/orders", "")},
		// The same total and the same auto-renew: a 2xx changes nothing.
		{rule: "SubscriptionService.SetQuantity", variant: "self-service", method: "POST", want: maxChanges, call: fixed("/v1/"+mine+":setQuantity", `{"totalLicenses":5}`)},
		{rule: "SubscriptionService.SetQuantity", variant: "ADMIN", method: "POST", want: corpChanges, call: fixed("/v1/"+corp+":setQuantity", `{"totalLicenses":10}`)},
		{rule: "SubscriptionService.SetAutoRenew", variant: "self-service", method: "POST", want: maxChanges, call: fixed("/v1/"+mine+":setAutoRenew", `{"autoRenew":true}`)},
		{rule: "SubscriptionService.SetAutoRenew", variant: "ADMIN", method: "POST", want: corpChanges, call: fixed("/v1/"+corp+":setAutoRenew", `{"autoRenew":true}`)},
		// Past its grace a cancelled subscription stays ACTIVE until its end.
		{rule: "SubscriptionService.CancelSubscription", variant: "self-service", method: "POST", want: maxChanges,
			call: fixed("/v1/"+mineToCancel+":cancel", `{"reason":"NO_LONGER_NEEDED","feedback":"access matrix"}`)},
		{rule: "SubscriptionService.CancelSubscription", variant: "ADMIN", method: "POST", want: corpChanges,
			call: fixed("/v1/"+corpToCancel+":cancel", `{"reason":"NO_LONGER_NEEDED"}`)},
		// Each call reactivates a fresh DISABLED subscription.
		{rule: "SubscriptionService.ReactivateSubscription", variant: "self-service", method: "POST", want: maxChanges, call: func(string) (string, string) {
			return "/v1/" + freshDisabled(maxTok, maxProfile) + ":reactivate", `{}`
		}},
		{rule: "SubscriptionService.ReactivateSubscription", variant: "ADMIN", method: "POST", want: corpChanges, call: func(string) (string, string) {
			return "/v1/" + freshDisabled(adaTok, profiles["contoso/ada"]) + ":reactivate", `{}`
		}},
		// Extended first, then converted (rows run in order, allowed callers
		// last).
		{rule: "SubscriptionService.ExtendTrial", method: "POST", want: maxChanges, call: fixed("/v1/"+trial+":extendTrial", `{}`)},
		// Each caller converts with their own billing profile. A guest may be
		// told GUEST_USER first: converting is buying.
		{rule: "SubscriptionService.ConvertTrial", method: "POST", want: "U D D D D D A R R|G H H", call: func(who string) (string, string) {
			return "/v1/" + trial + ":convertTrial", fmt.Sprintf(`{"quantity":2,"billingFrequency":"MONTHLY","billingProfile":%q}`, profileOf(who))
		}},
		// "GLOBAL_ADMIN, BILLING_ADMIN"; each call takes a fresh one of max's
		// over by cancelling it.
		{rule: "SubscriptionService.TakeOverSubscription", method: "POST", want: "U D A A D D D R R H H", call: func(string) (string, string) {
			return "/v1/" + freshMine() + ":takeOver", `{"cancel":true}`
		}},
		// "admins, GLOBAL_READER".
		{rule: "EventService.ListEvents", method: "GET", want: "U A A A A A D D D H H", call: fixed("/v1/organizations/contoso/events", "")},

		// Webhooks: "GLOBAL_ADMIN, BILLING_ADMIN (operators read)". Each
		// allowed delete removes a fresh endpoint.
		{rule: "WebhookService.CreateWebhook", method: "POST", want: "U D A A D D D D D H H",
			call: fixed("/v1/organizations/contoso/webhooks", fmt.Sprintf(`{"url":%q,"eventTypes":["SUBSCRIPTION_RENEWED"]}`, hookURL))},
		{rule: "WebhookService.ListWebhooks", method: "GET", want: "U A A A D D D D D H H", call: fixed("/v1/organizations/contoso/webhooks", "")},
		{rule: "WebhookService.GetWebhook", method: "GET", want: "U A A A D D D D D H H", call: fixed("/v1/"+hook, "")},
		{rule: "WebhookService.ListWebhookDeliveries", method: "GET", want: "U A A A D D D D D H H", call: fixed("/v1/"+hook+"/deliveries", "")},
		{rule: "WebhookService.RedeliverWebhookDelivery", method: "POST", want: "U D A A D D D D D H H", call: fixed("/v1/"+delivery+":redeliver", `{}`)},
		{rule: "WebhookService.DeleteWebhook", method: "DELETE", want: "U D A A D D D D D H H", call: func(who string) (string, string) {
			if who == "contoso/ada" || who == "contoso/bruno" {
				return "/v1/" + newHook(), ""
			}
			return "/v1/" + hook, ""
		}},

		// --- Billing. Accounts: "members (owner = caller)" create; "owner;
		// BILLING_ADMIN, GLOBAL_ADMIN, GLOBAL_READER read-only". A guest's
		// account could pay for nothing (§4, §5 GUEST_USER).
		{rule: "BillingAccountService.CreateBillingAccount", method: "POST", want: "U D A A A A A A G H H",
			call: fixed("/v1/organizations/contoso/billingAccounts", `{"displayName":"Access","soldTo":{"countryCode":"SE"}}`)},
		{rule: "BillingAccountService.ListBillingAccounts", method: "GET", want: everyone, call: fixed("/v1/organizations/contoso/billingAccounts", "")},
		{rule: "BillingAccountService.GetBillingAccount", method: "GET", want: "U A A A R A A R R H H", call: fixed("/v1/"+maxAccount, "")},
		{rule: "BillingAccountService.ListBillingProfiles", method: "GET", want: ownerReads, call: fixed("/v1/"+maxAccount+"/billingProfiles", "")},
		{rule: "BillingAccountService.GetBillingProfile", method: "GET", want: ownerReads, call: fixed("/v1/"+maxProfile, "")},
		// The payment method it has: a 2xx changes nothing.
		{rule: "BillingAccountService.UpdateBillingProfile", method: "PATCH", want: ownerChanges,
			call: fixed("/v1/"+maxProfile, fmt.Sprintf(`{"paymentMethod":%q}`, maxMethod))},
		{rule: "BillingAccountService.CreatePaymentMethod", method: "POST", want: ownerChanges,
			call: fixed("/v1/"+maxAccount+"/paymentMethods", cardJSON("4242424242424242", "123"))},
		{rule: "BillingAccountService.ListPaymentMethods", method: "GET", want: ownerReads, call: fixed("/v1/"+maxAccount+"/paymentMethods", "")},
		{rule: "BillingAccountService.GetPaymentMethod", method: "GET", want: ownerReads, call: fixed("/v1/"+maxMethod, "")},
		{rule: "BillingAccountService.UpdatePaymentMethod", method: "PATCH", want: ownerChanges,
			call: fixed("/v1/"+maxMethod, fmt.Sprintf(`{"card":{"expMonth":12,"expYear":%d,"holderName":"Max Holm","securityCode":"989"}}`, time.Now().Year()+2))},
		// Each call deletes a fresh card of max's that nothing uses.
		{rule: "BillingAccountService.DeletePaymentMethod", method: "DELETE", want: ownerChanges, call: func(string) (string, string) {
			return "/v1/" + freshMethod(), ""
		}},
		// Invoices: "owner, admins read-only"; the four roles of §2 are the
		// admin roles.
		{rule: "InvoiceService.ListInvoices", method: "GET", want: maxReads, call: fixed("/v1/"+maxAccount+"/invoices", "")},
		{rule: "InvoiceService.GetInvoice", method: "GET", want: maxReads, call: fixed("/v1/"+invoice, "")},
		{rule: "InvoiceService.DownloadInvoice", method: "GET", want: maxReads, call: fixed("/v1/"+invoice+":download", "")},
		// The owner is allowed, and told the Fapiao is only for the 21Vianet cloud.
		{rule: "InvoiceService.RequestFapiao", method: "POST", want: maxChanges, also: "FAPIAO_NOT_AVAILABLE", call: fixed("/v1/"+invoice+":requestFapiao", `{}`)},

		// --- Operator.
		{rule: "ClockService.GetClock", method: "GET", want: operators, call: fixed("/v1/clock", "")},
		{rule: "ClockService.AdvanceClock", method: "POST", want: operators, call: fixed("/v1/clock:advance", `{"duration":"1s"}`)},
	}

	// The table covers every rule of http.yaml, with its HTTP method.
	rules := httpRules(t)
	covered := map[string]bool{}
	for _, row := range rows {
		if m, ok := rules[row.rule]; !ok || m != row.method {
			t.Errorf("row %s %s: http.yaml has %q", row.method, row.rule, m)
		}
		if n := len(strings.Fields(row.want)); n != len(accessCallers) {
			t.Fatalf("row %s: %d cells for %d callers", row.rule, n, len(accessCallers))
		}
		covered[row.rule] = true
	}
	for rule := range rules {
		if !covered[rule] {
			t.Errorf("no row for %s", rule)
		}
	}

	type mismatch struct {
		row, caller, method, path string
		got                       accessResult
		want                      string
	}
	var misses []mismatch
	grid := make([][]string, len(rows))
	for i, row := range rows {
		grid[i] = make([]string, len(accessCallers))
		cells := strings.Fields(row.want)
		// Refusals first, so that nothing an allowed call changes is seen
		// by a refused one.
		order := make([]int, len(accessCallers))
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool {
			return !strings.Contains(cells[order[a]], "A") && strings.Contains(cells[order[b]], "A")
		})
		name := row.rule
		if row.variant != "" {
			name += " (" + row.variant + ")"
		}
		for _, j := range order {
			c := accessCallers[j]
			path, body := row.call(c.key)
			authz := ""
			if c.key != "" {
				authz = "Bearer " + tok(c.key)
			}
			code, reason, _ := accessSend(t, s.r, row.method, path, authz, body)
			got := accessResult{code, reason}
			grid[i][j] = got.class()
			if !got.matches(cells[j], row.also) {
				grid[i][j] += ">" + cells[j]
				misses = append(misses, mismatch{name, c.short, row.method, path, got, cells[j]})
			}
		}
	}

	// The matrix: each cell is what the call got; ">X" marks a mismatch
	// with what API.md says.
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-52s", "route \\ caller")
	for _, c := range accessCallers {
		fmt.Fprintf(&b, " %-7s", c.short)
	}
	for i, row := range rows {
		name := row.rule
		if row.variant != "" {
			name += " (" + row.variant + ")"
		}
		fmt.Fprintf(&b, "\n%-52s", name)
		for _, cell := range grid[i] {
			if len(cell) > 7 && !strings.Contains(cell, ">") {
				cell = cell[:7]
			}
			fmt.Fprintf(&b, " %-7s", cell)
		}
	}
	t.Log(b.String())
	t.Logf("%d rows × %d callers in %v", len(rows), len(accessCallers), time.Since(start).Round(time.Millisecond))
	for _, m := range misses {
		t.Errorf("%s as %s (%s %s): got %d %s, want %s", m.row, m.caller, m.method, m.path, m.got.code, m.got.reason, m.want)
	}
}

// TestEndToEndForgedTokens: every service refuses tokens it did not sign,
// that expired, that claim alg none or were changed, and other schemes.
func TestEndToEndForgedTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := t.TempDir()
	r := startDev(t, binary(t), data)
	key, err := auth.LoadKey(filepath.Join(data, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	right, err := auth.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := make([]byte, 32)
	rand.Read(otherKey)
	wrong, _ := auth.NewSigner(otherKey)
	now := time.Now()
	operator := auth.Claims{Subject: "operator", Roles: []string{auth.Operator}, IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix()}
	sign := func(s *auth.Signer, c auth.Claims) string {
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	b64 := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	claims := func(c auth.Claims) string {
		raw, _ := json.Marshal(c)
		return b64(string(raw))
	}

	foreign := sign(wrong, operator)
	expired := operator
	expired.IssuedAt, expired.Expires = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	good := sign(right, operator)
	goodParts := strings.Split(good, ".")
	none := b64(`{"alg":"none","typ":"JWT"}`)
	// max's own token with roles OPERATOR written into it, its signature kept.
	maxParts := strings.Split(r.tokens["contoso/max"], ".")
	var maxClaims auth.Claims
	if raw, err := base64.RawURLEncoding.DecodeString(maxParts[1]); err != nil || json.Unmarshal(raw, &maxClaims) != nil {
		t.Fatalf("max's token: %v", err)
	}
	maxClaims.Roles = []string{auth.Operator}

	cases := []struct {
		name, authorization, reason string
	}{
		{"no header", "", "TOKEN_MISSING"},
		{"signed with another key", "Bearer " + foreign, "TOKEN_INVALID"},
		{"expired", "Bearer " + sign(right, expired), "TOKEN_EXPIRED"},
		{"alg none, no signature", "Bearer " + none + "." + goodParts[1] + ".", "TOKEN_INVALID"},
		{"alg none, the signature kept", "Bearer " + none + "." + goodParts[1] + "." + goodParts[2], "TOKEN_INVALID"},
		{"alg none, two parts", "Bearer " + none + "." + goodParts[1], "TOKEN_INVALID"},
		{"payload changed to OPERATOR", "Bearer " + maxParts[0] + "." + claims(maxClaims) + "." + maxParts[2], "TOKEN_INVALID"},
		{"Basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("max:secret")), "TOKEN_INVALID"},
		{"garbage", "Bearer not-a-token", "TOKEN_INVALID"},
		{"a token without its scheme", good, "TOKEN_INVALID"},
	}
	// One route of each service: each verifies tokens itself.
	routes := []string{"/v1/organizations/contoso", "/v1/products", "/v1/organizations/contoso/billingAccounts", "/v1/clock"}
	for _, path := range routes {
		for _, c := range cases {
			code, reason, raw := accessSend(t, r, "GET", path, c.authorization, "")
			if code != 401 || reason != c.reason {
				t.Errorf("GET %s with %s: got %d %s, want 401 %s: %s", path, c.name, code, reason, c.reason, raw)
			}
		}
		if code, reason, _ := accessSend(t, r, "GET", path, "Bearer "+good, ""); code != 200 {
			t.Errorf("GET %s with a good operator token: %d %s", path, code, reason)
		}
	}
}
