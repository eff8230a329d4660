// Package accounts holds the rules of billing accounts and profiles: who owns
// and who reads them, which currency an account bills in, and what a valid
// address, profile change or charge is.
package accounts

import (
	"strings"
	"unicode"
	"unicode/utf8"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/masks"
	"github.com/selfserve/selfserve/services/kit/names"
	"golang.org/x/text/language"
)

// Resource name patterns.
const (
	OrganizationPattern  = names.Organization
	UserPattern          = names.User
	AccountPattern       = names.BillingAccount
	ProfilePattern       = names.BillingProfile
	PaymentMethodPattern = names.PaymentMethod
	InvoicePattern       = names.Invoice
	SubscriptionPattern  = names.Subscription
)

// DefaultProfile is the id of the profile every account is created with.
const DefaultProfile = "default"

// Limits.
const (
	MaxText     = 256
	MaxPONumber = 64
)

// currencies maps sold-to countries to the currency they are billed in;
// every other country is billed in USD.
var currencies = map[string]string{
	"AT": "EUR", "BE": "EUR", "CY": "EUR", "DE": "EUR", "EE": "EUR", "ES": "EUR", "FI": "EUR", "FR": "EUR",
	"GR": "EUR", "HR": "EUR", "IE": "EUR", "IT": "EUR", "LT": "EUR", "LU": "EUR", "LV": "EUR", "MT": "EUR",
	"NL": "EUR", "PT": "EUR", "SI": "EUR", "SK": "EUR",
	"SE": "SEK", "NO": "NOK", "DK": "DKK", "IS": "ISK", "GB": "GBP", "CH": "CHF", "PL": "PLN", "CZ": "CZK",
	"HU": "HUF", "RO": "RON", "BG": "BGN", "US": "USD", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "JP": "JPY",
	"CN": "CNY", "HK": "HKD", "SG": "SGD", "IN": "INR", "KR": "KRW", "BR": "BRL", "MX": "MXN", "ZA": "ZAR",
	"AE": "AED", "SA": "SAR", "KW": "KWD", "BH": "BHD", "OM": "OMR", "JO": "JOD", "TN": "TND",
}

// Currency is the currency an account sold to country bills in. The
// 21Vianet cloud bills in CNY wherever the buyer is.
func Currency(country string, cloud licensingv1.Organization_Cloud) string {
	if cloud == licensingv1.Organization_CHINA_21VIANET {
		return "CNY"
	}
	if c, ok := currencies[country]; ok {
		return c
	}
	return "USD"
}

func text(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", errs.Field(field, "%s is required", field)
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > max:
		return "", errs.Field(field, "%s must be text of at most %d characters", field, max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", errs.Field(field, "%s must not hold control characters", field)
	}
	return s, nil
}

// Country checks an ISO 3166-1 alpha-2 country code.
func Country(field, code string) error {
	r, err := language.ParseRegion(code)
	if len(code) != 2 || err != nil || !r.IsCountry() || r.String() != code {
		return errs.Field(field, "%s must be an ISO 3166-1 alpha-2 country code such as SE", field)
	}
	return nil
}

// Address checks and trims an address; country is required when required is
// true.
func Address(field string, a *billingv1.Address, required bool) (*billingv1.Address, error) {
	if a == nil {
		if required {
			return nil, errs.Field(field+".country_code", "%s.country_code is required", field)
		}
		return nil, nil
	}
	out := &billingv1.Address{}
	var err error
	for _, f := range []struct {
		name string
		in   string
		out  *string
	}{
		{"region", a.GetRegion(), &out.Region}, {"city", a.GetCity(), &out.City}, {"postal_code", a.GetPostalCode(), &out.PostalCode},
		{"address_line1", a.GetAddressLine1(), &out.AddressLine1}, {"address_line2", a.GetAddressLine2(), &out.AddressLine2},
		{"organization", a.GetOrganization(), &out.Organization}, {"recipient", a.GetRecipient(), &out.Recipient},
	} {
		if *f.out, err = text(field+"."+f.name, f.in, MaxText, false); err != nil {
			return nil, err
		}
	}
	if a.GetCountryCode() != "" || required {
		if err := Country(field+".country_code", a.GetCountryCode()); err != nil {
			return nil, err
		}
		out.CountryCode = a.GetCountryCode()
	}
	return out, nil
}

// NewAccount checks a new billing account.
func NewAccount(in *billingv1.BillingAccount) (*billingv1.BillingAccount, error) {
	if in == nil {
		return nil, errs.Field("billing_account", "billing_account is required")
	}
	dn, err := text("billing_account.display_name", in.GetDisplayName(), MaxText, true)
	if err != nil {
		return nil, err
	}
	soldTo, err := Address("billing_account.sold_to", in.GetSoldTo(), true)
	if err != nil {
		return nil, err
	}
	return &billingv1.BillingAccount{DisplayName: dn, SoldTo: soldTo}, nil
}

// Readers are the roles that read every billing account of their
// organization without changing any.
var Readers = []string{auth.GlobalAdmin, auth.BillingAdmin, auth.GlobalReader}

// Sees tells whether the caller may read an account: its owner, the readers,
// operators and services.
func Sees(id *auth.Identity, account *billingv1.BillingAccount) bool {
	return id.IsInternal() || id.UserName() == account.GetOwner() || id.HasRole(Readers...)
}

// SeesDetails checks that the caller may read an account's profiles and
// payment methods: its owner (and operators, services). Admins who read the
// account are refused; everyone else was answered NOT_FOUND already.
func SeesDetails(id *auth.Identity, account *billingv1.BillingAccount) error {
	if id.IsInternal() || (id.UserName() != "" && id.UserName() == account.GetOwner()) {
		return nil
	}
	return errs.Denied("billing profiles and payment methods are their owner's to see")
}

// SeesInvoices tells whether the caller may read an account's invoices: its
// owner, every admin role of the organization (read-only), operators.
func SeesInvoices(id *auth.Identity, account *billingv1.BillingAccount) bool {
	return id.IsInternal() || id.UserName() == account.GetOwner() || id.IsAdmin()
}

// MayChange checks that the caller owns an account: only owners change
// accounts, profiles and payment methods.
func MayChange(id *auth.Identity, account *billingv1.BillingAccount) error {
	if id.UserName() != "" && id.UserName() == account.GetOwner() {
		return nil
	}
	return errs.Denied("only the owner of a billing account may change it; admins read it")
}

// ProfileFields are the fields an update of a billing profile may change.
var ProfileFields = []string{"display_name", "payment_method", "backup_payment_method", "bill_to", "po_number", "invoice_email_enabled"}

// ProfileMask is what an update mask of a billing profile may name.
var ProfileMask = masks.Spec{Updatable: ProfileFields, Ignored: []string{"name", "create_time", "update_time"}}

// PaymentMethodMask is what an update mask of a payment method may name: a
// card's editable fields (its number and security code are checked, never
// changed or kept).
var PaymentMethodMask = masks.Spec{Updatable: []string{"card"},
	Ignored: []string{"name", "create_time", "update_time", "card.brand", "card.last4"}}

// UpdateProfile applies the fields of in named by paths to a copy of
// stored. accountName is the profile's account: payment methods must be of
// it; exists tells whether one is.
func UpdateProfile(stored, in *billingv1.BillingProfile, paths []string, accountName string, exists func(name string) bool) (*billingv1.BillingProfile, error) {
	out := &billingv1.BillingProfile{
		Name: stored.GetName(), DisplayName: stored.GetDisplayName(), PaymentMethod: stored.GetPaymentMethod(),
		BackupPaymentMethod: stored.GetBackupPaymentMethod(), BillTo: stored.GetBillTo(), PoNumber: stored.GetPoNumber(),
		InvoiceEmailEnabled: stored.GetInvoiceEmailEnabled(), CreateTime: stored.GetCreateTime(), UpdateTime: stored.GetUpdateTime(),
	}
	method := func(field, name string) (string, error) {
		if name == "" {
			return "", nil
		}
		if !strings.HasPrefix(name, accountName+"/paymentMethods/") || !exists(name) {
			return "", errs.Field("billing_profile."+field, "%s is not a payment method of this billing account", name)
		}
		return name, nil
	}
	var err error
	for _, p := range paths {
		switch p {
		case "display_name":
			out.DisplayName, err = text("billing_profile.display_name", in.GetDisplayName(), MaxText, true)
		case "payment_method":
			out.PaymentMethod, err = method("payment_method", in.GetPaymentMethod())
		case "backup_payment_method":
			out.BackupPaymentMethod, err = method("backup_payment_method", in.GetBackupPaymentMethod())
		case "bill_to":
			out.BillTo, err = Address("billing_profile.bill_to", in.GetBillTo(), false)
		case "po_number":
			out.PoNumber, err = text("billing_profile.po_number", in.GetPoNumber(), MaxPONumber, false)
		case "invoice_email_enabled":
			out.InvoiceEmailEnabled = in.GetInvoiceEmailEnabled()
		default:
			err = errs.Field("update_mask", "%q cannot be updated; updatable: %s", p, strings.Join(ProfileFields, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	if out.BackupPaymentMethod != "" && out.BackupPaymentMethod == out.PaymentMethod {
		return nil, errs.Field("billing_profile.backup_payment_method", "the backup payment method must differ from the payment method")
	}
	if out.BackupPaymentMethod != "" && out.PaymentMethod == "" {
		return nil, errs.Field("billing_profile.payment_method", "set a payment method before a backup")
	}
	return out, nil
}
