package catalog

import (
	"errors"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

// DefaultPolicy is an organization's default policy until an admin sets one:
// members may buy and try everything.
const DefaultPolicy = commercev1.ProductPolicy_ENABLED

// Metadata keys of a SELF_SERVICE_DISABLED refusal.
const (
	MetaPolicy = "policy" // the effective policy that refused, e.g. DISABLED
	// MetaAlternative says what the member can do instead: always
	// LICENSE_REQUEST, ask an admin for a license.
	MetaAlternative = "alternative"
	// MetaLicenseRequests is the collection to file that request in,
	// organizations/{org}/licenseRequests (see WithLicenseRequests).
	MetaLicenseRequests = "license_requests"
)

// LicenseRequestsPattern is the collection members file license requests in.
const LicenseRequestsPattern = names.LicenseRequests

// Settable tells whether v is a policy an admin can set: ENABLED,
// ONLY_TRIALS_WITHOUT_PAYMENT_METHOD or DISABLED.
func Settable(v commercev1.ProductPolicy_Value) bool {
	switch v {
	case commercev1.ProductPolicy_ENABLED, commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD, commercev1.ProductPolicy_DISABLED:
		return true
	}
	return false
}

// Effective is the policy that applies to a product: its own when it has one
// (own not nil and set), else the organization's default, else
// DefaultPolicy. inherited tells that it came from the default.
func Effective(own *commercev1.ProductPolicy_Value, orgDefault commercev1.ProductPolicy_Value) (v commercev1.ProductPolicy_Value, inherited bool) {
	if own != nil && Settable(*own) {
		return *own, false
	}
	if Settable(orgDefault) {
		return orgDefault, true
	}
	return DefaultPolicy, true
}

// CheckPurchase tells whether the effective policy v lets a member buy the
// product: only ENABLED does. ONLY_TRIALS_WITHOUT_PAYMENT_METHOD refuses
// every purchase, converting a trial to paid included. Purchases by a
// GLOBAL_ADMIN or BILLING_ADMIN are the organization's own and are not
// checked (API.md §4).
func CheckPurchase(v commercev1.ProductPolicy_Value) error {
	switch v {
	case commercev1.ProductPolicy_DISABLED:
		return refuse(v, "self-service purchases of this product are disabled in this organization")
	case commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD:
		return refuse(v, "this organization allows only trials that need no payment method for this product, and no purchase")
	}
	return nil
}

// CheckTrial tells whether the effective policy v lets a member start a trial
// that does or does not need a payment method.
func CheckTrial(v commercev1.ProductPolicy_Value, requiresPaymentMethod bool) error {
	switch {
	case v == commercev1.ProductPolicy_DISABLED:
		return refuse(v, "self-service trials of this product are disabled in this organization")
	case v == commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD && requiresPaymentMethod:
		return refuse(v, "this organization allows only trials that need no payment method, and this one needs one")
	}
	return nil
}

func refuse(v commercev1.ProductPolicy_Value, msg string) error {
	return errs.New(errs.SelfServiceDisabled, "%s; a license request can be filed instead", msg).
		With(MetaPolicy, v.String()).
		With(MetaAlternative, "LICENSE_REQUEST")
}

// WithLicenseRequests adds to a SELF_SERVICE_DISABLED refusal the collection
// in org where the member can file a license request instead. Any other
// error, and nil, pass through unchanged.
func WithLicenseRequests(err error, org string) error {
	var e *errs.Error
	if !errors.As(err, &e) || e.Reason != errs.SelfServiceDisabled {
		return err
	}
	return e.With(MetaLicenseRequests, names.Format(LicenseRequestsPattern, org))
}
