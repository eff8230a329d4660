package terms

import (
	"time"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
)

// Step is what the lifecycle does to a subscription when it comes due.
type Step int

// The lifecycle steps of API.md §4.
const (
	None    Step = iota
	Renew        // charge the next term
	Convert      // a trial that needed a payment method becomes paid
	Expire       // ACTIVE → EXPIRED at the end time
	Disable      // EXPIRED → DISABLED after 30 days
	Delete       // DISABLED → DELETED after 90 days
)

func (s Step) String() string {
	return [...]string{"none", "renew", "convert", "expire", "disable", "delete"}[s]
}

// Next is the next step of a subscription and when it is due. disabledAt is
// when it went DISABLED; trialNeedsPayment tells whether a trial was started
// with a payment method.
func Next(s *commercev1.Subscription, disabledAt time.Time, trialNeedsPayment bool) (Step, time.Time) {
	end := s.GetEndTime().AsTime()
	switch s.GetState() {
	case commercev1.Subscription_ACTIVE:
		switch {
		case s.GetIsTrial() && trialNeedsPayment && s.GetAutoRenew():
			return Convert, end
		case s.GetIsTrial():
			return Expire, end
		case s.GetAutoRenew():
			return Renew, end
		}
		return Expire, end
	case commercev1.Subscription_EXPIRED:
		return Disable, end.Add(ExpiredFor)
	case commercev1.Subscription_DISABLED:
		return Delete, disabledAt.Add(DisabledFor)
	}
	return None, time.Time{}
}
