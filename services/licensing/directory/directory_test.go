package directory

import (
	"strings"
	"testing"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

func TestNormalizeOrganization(t *testing.T) {
	ok := &licensingv1.Organization{DisplayName: "  Contoso ", CountryCode: "SE", Cloud: licensingv1.Organization_GLOBAL, Name: "x"}
	got, err := NormalizeOrganization(ok)
	if err != nil || got.DisplayName != "Contoso" || got.Name != "" {
		t.Fatalf("%v %v", got, err)
	}
	for name, bad := range map[string]*licensingv1.Organization{
		"no name":       {CountryCode: "SE", Cloud: licensingv1.Organization_GLOBAL},
		"lower country": {DisplayName: "C", CountryCode: "se", Cloud: licensingv1.Organization_GLOBAL},
		"not a country": {DisplayName: "C", CountryCode: "XX", Cloud: licensingv1.Organization_GLOBAL},
		"a group":       {DisplayName: "C", CountryCode: "EU", Cloud: licensingv1.Organization_GLOBAL},
		"no cloud":      {DisplayName: "C", CountryCode: "SE"},
		"long name":     {DisplayName: strings.Repeat("é", 257), CountryCode: "SE", Cloud: licensingv1.Organization_GLOBAL},
		"control chars": {DisplayName: "a\nb", CountryCode: "SE", Cloud: licensingv1.Organization_GLOBAL},
		"unknown cloud": {DisplayName: "C", CountryCode: "SE", Cloud: 9},
	} {
		if _, err := NormalizeOrganization(bad); errs.ReasonOf(err) != "INVALID_FIELD" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNormalizeUser(t *testing.T) {
	in := &licensingv1.User{DisplayName: "Ada Lindqvist", Email: "Ada@Contoso.example", UserType: licensingv1.User_MEMBER, UsageLocation: "SE",
		Roles: []licensingv1.User_Role{licensingv1.User_GLOBAL_READER, licensingv1.User_GLOBAL_ADMIN, licensingv1.User_GLOBAL_READER}}
	u, err := NormalizeUser(in)
	if err != nil || u.Email != "ada@contoso.example" || len(u.Roles) != 2 || u.Roles[0] != licensingv1.User_GLOBAL_ADMIN {
		t.Fatalf("%v %v", u, err)
	}
	for name, bad := range map[string]func(*licensingv1.User){
		"bad email":    func(u *licensingv1.User) { u.Email = "not an email" },
		"named email":  func(u *licensingv1.User) { u.Email = "Ada <ada@x.example>" },
		"no type":      func(u *licensingv1.User) { u.UserType = 0 },
		"bad location": func(u *licensingv1.User) { u.UsageLocation = "Sweden" },
		"unknown role": func(u *licensingv1.User) { u.Roles = []licensingv1.User_Role{42} },
		"role zero":    func(u *licensingv1.User) { u.Roles = []licensingv1.User_Role{0} },
	} {
		c := &licensingv1.User{DisplayName: in.DisplayName, Email: in.Email, UserType: in.UserType, UsageLocation: in.UsageLocation}
		bad(c)
		if _, err := NormalizeUser(c); errs.ReasonOf(err) != "INVALID_FIELD" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSearchTerms(t *testing.T) {
	u := &licensingv1.User{DisplayName: "Ada Maria Lindqvist", Email: "ada@contoso.example"}
	terms := SearchTerms(u)
	want := "ada maria lindqvist|ada@contoso.example|lindqvist|maria"
	if strings.Join(terms, "|") != want {
		t.Fatalf("terms %v", terms)
	}
	if first, ok := FirstMatch(terms, "ada"); !ok || first != "ada maria lindqvist" {
		t.Fatalf("first match %q", first)
	}
	if _, ok := FirstMatch(terms, "bob"); ok {
		t.Fatal("bob matched")
	}
	if first, _ := FirstMatch(terms, "lind"); first != "lindqvist" {
		t.Fatal("last name")
	}
}

func TestNewIDIsValid(t *testing.T) {
	for range 100 {
		if id := NewID("u"); !names.ValidID(id) {
			t.Fatalf("generated id %q is not valid", id)
		}
	}
	if _, err := CheckID("user_id", "Bad_ID", "u"); err == nil {
		t.Fatal("bad id accepted")
	}
}
