package names

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const p = "organizations/{organization}/users/{user}"
	ids, err := Parse("name", "organizations/contoso/users/alice-2", p)
	if err != nil || ids[0] != "contoso" || ids[1] != "alice-2" {
		t.Fatalf("%v %v", ids, err)
	}
	for _, bad := range []string{
		"", "organizations/contoso", "organizations/contoso/users/", "organizations/Contoso/users/a",
		"organizations/contoso/groups/a", "organizations/contoso/users/a/b", "organizations/1x/users/a",
		"organizations/contoso/users/a-", "organizations/contoso/users/" + strings.Repeat("a", 64),
		"organizations/con\x00toso/users/a",
	} {
		if _, err := Parse("name", bad, p); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := Format(p, "contoso", "bob"); got != "organizations/contoso/users/bob" {
		t.Fatal(got)
	}
}

func TestScanAndParseInto(t *testing.T) {
	var org, acct, profile string
	if !Scan("organizations/contoso/billingAccounts/ba-1/billingProfiles/default", BillingProfile, &org, &acct, &profile) ||
		org != "contoso" || acct != "ba-1" || profile != "default" {
		t.Fatalf("Scan: %q %q %q", org, acct, profile)
	}
	if Scan("organizations/contoso/users/max", BillingProfile, &org, &acct, &profile) || org != "contoso" || acct != "ba-1" {
		t.Fatal("a mismatch matched, or changed the ids")
	}
	if Scan("organizations/contoso", Organization, &org, &acct) {
		t.Fatal("Scan with more ids than the pattern has matched")
	}
	var user string
	if err := ParseInto("actor", "organizations/fabrikam/users/wang", User, &org, &user); err != nil || org != "fabrikam" || user != "wang" {
		t.Fatalf("ParseInto: %v %q %q", err, org, user)
	}
	if err := ParseInto("actor", "users/wang", User, &org, &user); err == nil || !strings.Contains(err.Error(), "actor must look like organizations/{organization}/users/{user}") {
		t.Fatalf("ParseInto of a bad name: %v", err)
	}
	if got := Format(Order, "contoso", "s-1", "o1"); got != "organizations/contoso/subscriptions/s-1/orders/o1" {
		t.Fatalf("Format(Order): %s", got)
	}
}

func TestScanLeadingIDs(t *testing.T) {
	var org string
	if !Scan("organizations/contoso/productPolicies/pro", ProductPolicy, &org) || org != "contoso" {
		t.Fatalf("the organization alone: %q", org)
	}
}
