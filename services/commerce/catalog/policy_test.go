package catalog_test

import (
	"errors"
	"testing"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/kit/errs"
)

const (
	unset       = commercev1.ProductPolicy_VALUE_UNSPECIFIED
	enabled     = commercev1.ProductPolicy_ENABLED
	trialsNoPay = commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD
	disabled    = commercev1.ProductPolicy_DISABLED
)

func ptr(v commercev1.ProductPolicy_Value) *commercev1.ProductPolicy_Value { return &v }

func TestEffective(t *testing.T) {
	for _, tc := range []struct {
		name          string
		own           *commercev1.ProductPolicy_Value
		orgDefault    commercev1.ProductPolicy_Value
		want          commercev1.ProductPolicy_Value
		wantInherited bool
	}{
		{"nothing set", nil, unset, enabled, true},
		{"own unset", ptr(unset), unset, enabled, true},
		{"default only", nil, disabled, disabled, true},
		{"own unset, default set", ptr(unset), trialsNoPay, trialsNoPay, true},
		{"own wins over default", ptr(disabled), enabled, disabled, false},
		{"own enabled under a disabled default", ptr(enabled), disabled, enabled, false},
		{"own trials only", ptr(trialsNoPay), unset, trialsNoPay, false},
		{"unknown own value is ignored", ptr(42), disabled, disabled, true},
	} {
		got, inherited := catalog.Effective(tc.own, tc.orgDefault)
		if got != tc.want || inherited != tc.wantInherited {
			t.Errorf("%s: got %v inherited=%v, want %v inherited=%v", tc.name, got, inherited, tc.want, tc.wantInherited)
		}
	}
}

func TestPolicyChecks(t *testing.T) {
	type check struct {
		name string
		err  error
		ok   bool
	}
	checks := []check{
		{"enabled purchase", catalog.CheckPurchase(enabled), true},
		{"default purchase", catalog.CheckPurchase(unset), true},
		{"enabled trial with payment method", catalog.CheckTrial(enabled, true), true},
		{"enabled trial without payment method", catalog.CheckTrial(enabled, false), true},
		{"trials-only purchase", catalog.CheckPurchase(trialsNoPay), false},
		{"trials-only trial without payment method", catalog.CheckTrial(trialsNoPay, false), true},
		{"trials-only trial with payment method", catalog.CheckTrial(trialsNoPay, true), false},
		{"disabled purchase", catalog.CheckPurchase(disabled), false},
		{"disabled trial without payment method", catalog.CheckTrial(disabled, false), false},
		{"disabled trial with payment method", catalog.CheckTrial(disabled, true), false},
	}
	for _, c := range checks {
		if c.ok {
			if c.err != nil {
				t.Errorf("%s: refused: %v", c.name, c.err)
			}
			continue
		}
		var e *errs.Error
		if !errors.As(c.err, &e) || e.Reason != errs.SelfServiceDisabled {
			t.Errorf("%s: got %v, want SELF_SERVICE_DISABLED", c.name, c.err)
			continue
		}
		if e.Metadata[catalog.MetaAlternative] != "LICENSE_REQUEST" || e.Metadata[catalog.MetaPolicy] == "" {
			t.Errorf("%s: metadata %v does not offer a license request", c.name, e.Metadata)
		}
	}
}

func TestWithLicenseRequests(t *testing.T) {
	err := catalog.WithLicenseRequests(catalog.CheckPurchase(disabled), "acme")
	var e *errs.Error
	if !errors.As(err, &e) || e.Metadata[catalog.MetaLicenseRequests] != "organizations/acme/licenseRequests" || e.Metadata[catalog.MetaPolicy] != "DISABLED" {
		t.Fatalf("got %v", err)
	}
	if catalog.WithLicenseRequests(nil, "acme") != nil {
		t.Fatal("nil became an error")
	}
	other := errs.New(errs.GuestUser, "guest")
	if got := catalog.WithLicenseRequests(other, "acme"); got != error(other) {
		t.Fatalf("another error was changed: %v", got)
	}
}

func TestSettable(t *testing.T) {
	for v, want := range map[commercev1.ProductPolicy_Value]bool{unset: false, enabled: true, trialsNoPay: true, disabled: true, 9: false} {
		if catalog.Settable(v) != want {
			t.Errorf("Settable(%v) != %v", v, want)
		}
	}
}
