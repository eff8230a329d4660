// Package terms holds the rules of a subscription's terms and money (API.md
// §4): how long a term lasts, what a purchase, an increase, a reduction or a
// cancellation costs or gives back, and what the lifecycle does next.
package terms

import (
	"strconv"
	"time"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/contract"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/money"
)

// The numbers of API.md §4.
const (
	MinQuantity = contract.MinLicenses
	MaxQuantity = contract.MaxLicenses
	// Grace is how long after a purchase, renewal or increase a reduction is
	// credited and a cancellation refunded.
	Grace = 7 * 24 * time.Hour
	// ExpiredFor is how long an expired subscription's licenses still work.
	ExpiredFor = 30 * 24 * time.Hour
	// DisabledFor is how long a disabled subscription can be reactivated.
	DisabledFor = 90 * 24 * time.Hour
	// TrialExtension is the one extension a trial may get, in its last
	// ExtendWithin.
	TrialExtension = 30 * 24 * time.Hour
	ExtendWithin   = 15 * 24 * time.Hour
	MaxFeedback    = 5000
)

// End is the end of a term of freq that starts at start.
func End(start time.Time, freq commercev1.Product_BillingFrequency) time.Time {
	if freq == commercev1.Product_ANNUAL {
		return start.AddDate(1, 0, 0)
	}
	return start.AddDate(0, 1, 0)
}

// Quantity checks a number of licenses.
func Quantity(field string, n int32) error {
	if n < MinQuantity || n > MaxQuantity {
		return errs.Field(field, "%s must be from %d to %d", field, MinQuantity, MaxQuantity).With("min", strconv.Itoa(MinQuantity)).With("max", strconv.Itoa(MaxQuantity))
	}
	return nil
}

// Frequency checks a billing frequency.
func Frequency(f commercev1.Product_BillingFrequency) error {
	if f != commercev1.Product_MONTHLY && f != commercev1.Product_ANNUAL {
		return errs.Field("billing_frequency", "billing_frequency must be MONTHLY or ANNUAL")
	}
	return nil
}

// Full is the price of quantity licenses for a whole term.
func Full(unitMinor int64, quantity int32) (int64, error) {
	return money.MulQuantity(unitMinor, int64(quantity))
}

// Remaining is what quantity licenses cost for the rest of the term
// [start, end) from now, prorated to the second.
func Remaining(unitMinor int64, quantity int32, start, end, now time.Time) (int64, error) {
	full, err := Full(unitMinor, quantity)
	if err != nil {
		return 0, err
	}
	whole := end.Sub(start).Truncate(time.Second)
	left := end.Sub(now).Truncate(time.Second)
	left = max(0, min(left, whole))
	if whole <= 0 {
		return 0, nil
	}
	return money.Prorate(full, left, whole)
}

// InGrace tells whether now is within the grace period after anchor.
func InGrace(anchor, now time.Time) bool { return now.Before(anchor.Add(Grace)) }

// ChangeQuantity decides what a new total does to a subscription: an
// increase is charged now; a reduction in grace is credited now; a later
// reduction waits for renewal. assigned bounds the new total from below.
type QuantityChange struct {
	// Now is the quantity from now on.
	Now int32
	// Scheduled is a reduction taking effect at renewal (0 for none).
	Scheduled int32
	// Charge is the amount to charge (positive) or credit (negative) now.
	Charge int64
}

// SetQuantity applies API.md §4's quantity rule.
func SetQuantity(current, total, assigned int32, unitMinor int64, termStart, termEnd, anchor, now time.Time) (QuantityChange, error) {
	if err := Quantity("total_licenses", total); err != nil {
		return QuantityChange{}, err
	}
	if total < assigned {
		return QuantityChange{}, errs.Counted(errs.BelowAssignedLicenses, errs.LicensesAssigned, int(assigned), int(total)).
			With("assigned", strconv.Itoa(int(assigned)))
	}
	switch {
	case total > current:
		amount, err := Remaining(unitMinor, total-current, termStart, termEnd, now)
		return QuantityChange{Now: total, Charge: amount}, err
	case total < current && InGrace(anchor, now):
		amount, err := Remaining(unitMinor, current-total, termStart, termEnd, now)
		return QuantityChange{Now: total, Charge: -amount}, err
	case total < current:
		return QuantityChange{Now: current, Scheduled: total}, nil
	}
	return QuantityChange{Now: current}, nil
}

// Reasons of cancellation, as the API writes them.
func Reason(r commercev1.Subscription_Cancellation_Reason) error {
	if _, ok := commercev1.Subscription_Cancellation_Reason_name[int32(r)]; !ok || r == commercev1.Subscription_Cancellation_REASON_UNSPECIFIED {
		return errs.Field("reason", "reason must be one of NO_LONGER_NEEDED, TOO_EXPENSIVE, MISSING_FEATURES, SWITCHED_SERVICE, TOO_COMPLEX, LOW_QUALITY, CUSTOMER_SERVICE, OTHER")
	}
	return nil
}

// CanExtendTrial checks the one extension of a trial ending at end.
func CanExtendTrial(extended bool, end, now time.Time) error {
	switch {
	case extended:
		return errs.New(errs.TrialExtensionNotAllowed, "this trial was extended before")
	case now.Before(end.Add(-ExtendWithin)):
		return errs.New(errs.TrialExtensionNotAllowed, "a trial can be extended only in its last 15 days").With("from", end.Add(-ExtendWithin).Format(time.RFC3339))
	}
	return nil
}
