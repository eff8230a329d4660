// Package directory holds the rules of organizations and users: what a valid
// organization or user is, and which terms a user is found by in type-ahead.
package directory

import (
	"crypto/rand"
	"encoding/base32"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Resource name patterns.
const (
	OrganizationPattern = names.Organization
	UserPattern         = names.User
)

// Limits.
const (
	MaxDisplayName = 256
	MaxEmail       = 254
	MaxQuery       = 256
)

// NewID returns a random resource id with a prefix letter, valid under AIP-122.
func NewID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + "-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// CheckID checks a caller-chosen id, or makes one when it is empty.
func CheckID(field, id, prefix string) (string, error) {
	if id == "" {
		return NewID(prefix), nil
	}
	if !names.ValidID(id) {
		return "", errs.Field(field, "%s must be 1 to 63 lowercase letters, digits or hyphens, starting with a letter", field)
	}
	return id, nil
}

// displayName trims and checks a display name.
func displayName(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errs.Field(field, "%s is required", field)
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDisplayName:
		return "", errs.Field(field, "%s must be valid text of at most %d characters", field, MaxDisplayName)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", errs.Field(field, "%s must not hold control characters", field)
	}
	return s, nil
}

// Country checks an ISO 3166-1 alpha-2 country code.
func Country(field, code string) (string, error) {
	if len(code) != 2 || strings.ToUpper(code) != code {
		return "", errs.Field(field, "%s must be an ISO 3166-1 alpha-2 code such as SE", field)
	}
	r, err := language.ParseRegion(code)
	if err != nil || !r.IsCountry() || r.String() != code {
		return "", errs.Field(field, "%s %q is not an ISO 3166-1 country", field, code)
	}
	return code, nil
}

// NormalizeOrganization checks a new organization and returns it cleaned,
// with output-only fields cleared.
func NormalizeOrganization(in *licensingv1.Organization) (*licensingv1.Organization, error) {
	if in == nil {
		return nil, errs.Field("organization", "organization is required")
	}
	dn, err := displayName("organization.display_name", in.GetDisplayName())
	if err != nil {
		return nil, err
	}
	cc, err := Country("organization.country_code", in.GetCountryCode())
	if err != nil {
		return nil, err
	}
	switch in.GetCloud() {
	case licensingv1.Organization_GLOBAL, licensingv1.Organization_CHINA_21VIANET:
	default:
		return nil, errs.Field("organization.cloud", "cloud must be GLOBAL or CHINA_21VIANET")
	}
	return &licensingv1.Organization{DisplayName: dn, CountryCode: cc, Cloud: in.GetCloud()}, nil
}

// NormalizeUser checks a new user and returns it cleaned: e-mail lowercased,
// roles deduplicated and sorted, output-only fields cleared.
func NormalizeUser(in *licensingv1.User) (*licensingv1.User, error) {
	if in == nil {
		return nil, errs.Field("user", "user is required")
	}
	dn, err := displayName("user.display_name", in.GetDisplayName())
	if err != nil {
		return nil, err
	}
	email, err := Email(in.GetEmail())
	if err != nil {
		return nil, err
	}
	switch in.GetUserType() {
	case licensingv1.User_MEMBER, licensingv1.User_GUEST:
	default:
		return nil, errs.Field("user.user_type", "user_type must be MEMBER or GUEST")
	}
	loc, err := Country("user.usage_location", in.GetUsageLocation())
	if err != nil {
		return nil, err
	}
	var roles []licensingv1.User_Role
	for _, r := range in.GetRoles() {
		if _, known := licensingv1.User_Role_name[int32(r)]; !known || r == licensingv1.User_ROLE_UNSPECIFIED {
			return nil, errs.Field("user.roles", "roles may hold GLOBAL_ADMIN, BILLING_ADMIN, LICENSE_ADMIN and GLOBAL_READER")
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	slices.Sort(roles)
	return &licensingv1.User{DisplayName: dn, Email: email, UserType: in.GetUserType(), UsageLocation: loc, Roles: roles}, nil
}

// Email checks an e-mail address and returns it lowercased.
func Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if s == "" || err != nil || a.Address != s || len(s) > MaxEmail || a.Name != "" {
		return "", errs.Field("user.email", "email must be a plain address such as ada@example.com")
	}
	return strings.ToLower(s), nil
}

// RoleNames are a user's roles as token claims.
func RoleNames(u *licensingv1.User) []string {
	out := make([]string, 0, len(u.GetRoles()))
	for _, r := range u.GetRoles() {
		out = append(out, r.String())
	}
	return out
}

// Fold is the case-insensitive form of text for search.
func Fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// SearchTerms are the terms a user is found by: the whole display name, each
// later word of it, and the e-mail address, all folded and deduplicated. A
// query matches a user when it is a prefix of one of them.
func SearchTerms(u *licensingv1.User) []string {
	dn := Fold(u.GetDisplayName())
	terms := []string{dn}
	words := strings.Fields(dn)
	if len(words) > 1 {
		terms = append(terms, words[1:]...)
	}
	terms = append(terms, Fold(u.GetEmail()))
	slices.Sort(terms)
	return slices.Compact(terms)
}

// FirstMatch is the smallest of a user's terms that query is a prefix of: a
// user is listed once, at that term, however many of its terms match.
func FirstMatch(terms []string, query string) (string, bool) {
	for _, t := range terms { // sorted
		if strings.HasPrefix(t, query) {
			return t, true
		}
	}
	return "", false
}

// Query checks and folds a type-ahead query.
func Query(q string) (string, error) {
	q = Fold(q)
	if utf8.RuneCountInString(q) > MaxQuery || !utf8.ValidString(q) || strings.ContainsRune(q, 0) {
		return "", errs.Field("query", "query must be text of at most %d characters", MaxQuery)
	}
	return q, nil
}

// AdminCenter is the address of the admin center of a cloud.
func AdminCenter(cloud licensingv1.Organization_Cloud) string {
	if cloud == licensingv1.Organization_CHINA_21VIANET {
		return "https://portal.partner.microsoftonline.cn"
	}
	return "https://admin.microsoft.com"
}
