package names

import "github.com/selfserve/selfserve/services/kit/errs"

// The resource name patterns of the product (docs/API.md §3), each written
// once: services refer to these, never to a copy.
const (
	Organization   = "organizations/{organization}"
	User           = "organizations/{organization}/users/{user}"
	License        = "organizations/{organization}/licenses/{license}"
	LicenseRequest = "organizations/{organization}/licenseRequests/{license_request}"
	// LicenseRequests is the collection members file license requests in.
	LicenseRequests = "organizations/{organization}/licenseRequests"
	Product         = "products/{product}"
	ProductPolicy   = "organizations/{organization}/productPolicies/{product}"
	Settings        = "organizations/{organization}/selfServiceSettings"
	Subscription    = "organizations/{organization}/subscriptions/{subscription}"
	Order           = "organizations/{organization}/subscriptions/{subscription}/orders/{order}"
	Event           = "organizations/{organization}/events/{event}"
	Webhook         = "organizations/{organization}/webhooks/{webhook}"
	Delivery        = "organizations/{organization}/webhooks/{webhook}/deliveries/{delivery}"
	BillingAccount  = "organizations/{organization}/billingAccounts/{billing_account}"
	BillingProfile  = "organizations/{organization}/billingAccounts/{billing_account}/billingProfiles/{billing_profile}"
	PaymentMethod   = "organizations/{organization}/billingAccounts/{billing_account}/paymentMethods/{payment_method}"
	Invoice         = "organizations/{organization}/billingAccounts/{billing_account}/invoices/{invoice}"
)

// Scan matches name against pattern and stores its ids, in order, in ids:
// Sscan for resource names. Fewer ids than the pattern has take the leading
// ones (the organization alone, say). It reports whether name matched; on a
// mismatch the ids are left alone.
func Scan(name, pattern string, ids ...*string) bool {
	got, ok := Match(name, pattern)
	if !ok || len(got) < len(ids) {
		return false
	}
	for i, p := range ids {
		*p = got[i]
	}
	return true
}

// ParseInto is Parse storing the ids in ids, as Scan does; the error is
// Parse's, naming field.
func ParseInto(field, name, pattern string, ids ...*string) error {
	got, err := Parse(field, name, pattern)
	if err != nil {
		return err
	}
	if len(got) < len(ids) {
		return errs.New(errs.InvalidName, "%s must look like %s", field, pattern).With("field", field)
	}
	for i, p := range ids {
		*p = got[i]
	}
	return nil
}
