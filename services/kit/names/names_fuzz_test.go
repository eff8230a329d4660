package names

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/selfserve/selfserve/services/kit/errs"
)

// fuzzPatterns are the resource name patterns the services parse.
var fuzzPatterns = []string{
	"organizations/{organization}",
	"organizations/{organization}/users/{user}",
	"organizations/{organization}/subscriptions/{subscription}",
	"organizations/{organization}/licenses/{subscription}",
	"organizations/{organization}/licenseRequests",
	"organizations/{organization}/licenseRequests/{license_request}",
	"organizations/{organization}/productPolicies/{product}",
	"organizations/{organization}/selfServiceSettings",
	"organizations/{organization}/events/{event}",
	"organizations/{organization}/billingAccounts/{billing_account}",
	"organizations/{organization}/billingAccounts/{billing_account}/billingProfiles/{billing_profile}",
	"organizations/{organization}/billingAccounts/{billing_account}/invoices/{invoice}",
	"organizations/{organization}/billingAccounts/{billing_account}/paymentMethods/{payment_method}",
	"products/{product}",
}

// FuzzParse: Parse never panics; an accepted name has only valid ids and
// formats back to itself; a refused one is INVALID_RESOURCE_NAME on its field.
// The name is parsed against every known pattern, and against the fuzzed
// pattern too when it is well formed.
func FuzzParse(f *testing.F) {
	long := strings.Repeat("a", 63)
	for _, seed := range []struct{ name, pattern string }{
		{"organizations/contoso/users/alice-2", ""},
		{"organizations/contoso", ""},
		{"products/p1", ""},
		{"organizations/contoso/billingAccounts/ba1/invoices/inv1", ""},
		{"organizations/contoso/licenseRequests", ""},
		{"organizations/contoso/selfServiceSettings", ""},
		{"organizations/" + long + "/users/" + long, ""},
		{"organizations/" + long + "a/users/a", ""},
		{"", ""},
		{"/", ""},
		{"//", ""},
		{"organizations/", ""},
		{"organizations//users/a", ""},
		{"organizations/contoso/users/", ""},
		{"organizations/contoso/users/a/", ""},
		{"/organizations/contoso", ""},
		{"organizations/Contoso", ""},
		{"organizations/1x", ""},
		{"organizations/-x", ""},
		{"organizations/x-", ""},
		{"organizations/con_toso", ""},
		{"organizations/con.toso", ""},
		{"organizations/..", ""},
		{"organizations/../users/a", ""},
		{"organizations/contoso/users/..%2fadmin", ""},
		{"organizations/%63ontoso", ""},
		{"organizations/con\x00toso", ""},
		{"organizations/contoso\x00", ""},
		{"organizations/\xff\xfe", ""},
		{"organizations/cöntoso", ""},
		{"organizations/ｃontoso", ""},
		{"organizations/contoso\u200b", ""},
		{"organizations/{organization}", ""},
		{"ORGANIZATIONS/contoso", ""},
		{"organizations/contoso/users/alice", "organizations/{organization}/users/{user}"},
		{"a/b/c", "{x}/{y}/{z}"},
		{"x", "{}"},
		{"", "{x}"},
		{"a", ""},
		{"a/b", "a/{b}"},
		{"a/{b", "a/{b"},
		{"v1/organizations/contoso", "v1/organizations/{organization}"},
		{strings.Repeat("organizations/contoso/", 200), strings.Repeat("organizations/{o}/", 200)},
	} {
		f.Add(seed.name, seed.pattern)
	}
	f.Fuzz(func(t *testing.T, name, pattern string) {
		if len(name) > 4096 || len(pattern) > 4096 {
			return
		}
		for _, p := range fuzzPatterns {
			checkParse(t, name, p)
		}
		if wellFormed(pattern) {
			checkParse(t, name, pattern)
		} else {
			// Only the absence of panics can be asked of a malformed pattern.
			_, _ = Parse("name", name, pattern)
			_ = Format(pattern, "a", "b")
		}
	})
}

// wellFormed tells whether every segment of pattern holding a brace is a
// variable {like_this} and nothing else, as every pattern in the code is.
func wellFormed(pattern string) bool {
	for _, s := range strings.Split(pattern, "/") {
		isVar := strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && len(s) >= 2
		if isVar && strings.ContainsAny(s[1:len(s)-1], "{}") {
			return false
		}
		if !isVar && strings.ContainsAny(s, "{}") {
			return false
		}
	}
	return true
}

func checkParse(t *testing.T, name, pattern string) {
	t.Helper()
	ids, err := Parse("the_field", name, pattern)
	mids, ok := Match(name, pattern)
	if (err == nil) != ok {
		t.Fatalf("Parse(%q, %q) err %v but Match ok %v", name, pattern, err, ok)
	}
	if err != nil {
		if ids != nil {
			t.Errorf("Parse(%q, %q) = %q with error %v", name, pattern, ids, err)
		}
		if got := errs.ReasonOf(err); got != errs.InvalidName.Name {
			t.Errorf("Parse(%q, %q) reason %q, want %s", name, pattern, got, errs.InvalidName.Name)
		}
		if e := (*errs.Error)(nil); !errors.As(err, &e) || e.Metadata["field"] != "the_field" {
			t.Errorf("Parse(%q, %q) error %#v lacks field the_field", name, pattern, err)
		}
		return
	}
	if strings.Join(ids, "\x00") != strings.Join(mids, "\x00") {
		t.Errorf("Parse ids %q, Match ids %q", ids, mids)
	}
	vars := 0
	for _, s := range strings.Split(pattern, "/") {
		if strings.HasPrefix(s, "{") {
			vars++
		}
	}
	if len(ids) != vars {
		t.Errorf("Parse(%q, %q) gave %d ids, the pattern has %d variables", name, pattern, len(ids), vars)
	}
	for _, id := range ids {
		if !ValidID(id) {
			t.Errorf("Parse(%q, %q) accepted id %q", name, pattern, id)
		}
	}
	if got := Format(pattern, ids...); got != name {
		t.Errorf("Format(%q, %q) = %q, want %q", pattern, ids, got, name)
	}
	if !utf8.ValidString(name) && utf8.ValidString(pattern) {
		t.Errorf("Parse(%q, %q) accepted invalid UTF-8", name, pattern)
	}
	if strings.ContainsAny(name, "%\x00?#\\") && !strings.ContainsAny(pattern, "%\x00?#\\") {
		t.Errorf("Parse(%q, %q) accepted a character no id may hold", name, pattern)
	}
}

// FuzzValidID: an id is accepted exactly when it is 1 to 63 of [a-z0-9-],
// starting with a letter and not ending with a hyphen.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"a", "contoso", "alice-2", "a-b-c", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"", "-", "a-", "1a", "A", "aB", "a_b", "a.b", "a/b", "..", "é", "a\x00", "\xff", "a b", "%61"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		want := len(id) >= 1 && len(id) <= 63 && id[0] >= 'a' && id[0] <= 'z' && id[len(id)-1] != '-' &&
			strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	})
}
