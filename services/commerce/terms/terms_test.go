package terms

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestEnd(t *testing.T) {
	if End(t0, commercev1.Product_MONTHLY) != t0.AddDate(0, 1, 0) || End(t0, commercev1.Product_ANNUAL) != t0.AddDate(1, 0, 0) {
		t.Fatal("term lengths")
	}
}

func TestSetQuantity(t *testing.T) {
	end := End(t0, commercev1.Product_MONTHLY) // 31 days
	day := 24 * time.Hour
	// Raise 5 → 10 on day 3 at 1000 a license: 5 × 1000 × 28/31.
	c, err := SetQuantity(5, 10, 3, 1000, t0, end, t0, t0.Add(3*day))
	if err != nil || c.Now != 10 || c.Charge != 4516 || c.Scheduled != 0 {
		t.Fatalf("increase: %+v %v", c, err)
	}
	if _, err := SetQuantity(10, 2, 3, 1000, t0, end, t0, t0.Add(3*day)); errs.ReasonOf(err) != "BELOW_ASSIGNED_LICENSES" {
		t.Fatalf("below assigned: %v", err)
	}
	// A reduction in grace is credited, later it waits for renewal.
	c, _ = SetQuantity(10, 8, 3, 1000, t0, end, t0, t0.Add(6*day))
	if c.Now != 8 || c.Charge != -1613 {
		t.Fatalf("credited reduction: %+v", c)
	}
	c, _ = SetQuantity(10, 8, 3, 1000, t0, end, t0, t0.Add(8*day))
	if c.Now != 10 || c.Scheduled != 8 || c.Charge != 0 {
		t.Fatalf("scheduled reduction: %+v", c)
	}
	for _, n := range []int32{0, 10001} {
		if _, err := SetQuantity(5, n, 0, 1000, t0, end, t0, t0); errs.ReasonOf(err) != "INVALID_FIELD" {
			t.Errorf("%d: %v", n, err)
		}
	}
}

func TestRemainingAddsUp(t *testing.T) {
	end := End(t0, commercev1.Product_ANNUAL)
	for _, at := range []time.Duration{0, time.Second, 1234567 * time.Second, 200 * 24 * time.Hour} {
		now := t0.Add(at)
		rest, _ := Remaining(999, 7, t0, end, now)
		used, _ := Remaining(999, 7, t0, now, now) // nothing left of an ended period
		full, _ := Full(999, 7)
		if rest < 0 || rest > full || used != 0 {
			t.Fatalf("at %v: rest %d of %d", at, rest, full)
		}
	}
}

func TestTrialExtension(t *testing.T) {
	end := t0.Add(30 * 24 * time.Hour)
	if err := CanExtendTrial(false, end, t0); errs.ReasonOf(err) != "TRIAL_EXTENSION_NOT_ALLOWED" {
		t.Fatal("too early")
	}
	if err := CanExtendTrial(false, end, end.Add(-10*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := CanExtendTrial(true, end, end.Add(-time.Hour)); errs.ReasonOf(err) != "TRIAL_EXTENSION_NOT_ALLOWED" {
		t.Fatal("twice")
	}
}

func TestNext(t *testing.T) {
	end := timestamppb.New(t0)
	sub := func(state commercev1.Subscription_State, trial, renew bool) *commercev1.Subscription {
		return &commercev1.Subscription{State: state, IsTrial: trial, AutoRenew: renew, EndTime: end}
	}
	for _, tc := range []struct {
		s        *commercev1.Subscription
		needsPay bool
		want     Step
		at       time.Time
	}{
		{sub(commercev1.Subscription_ACTIVE, false, true), false, Renew, t0},
		{sub(commercev1.Subscription_ACTIVE, false, false), false, Expire, t0},
		{sub(commercev1.Subscription_ACTIVE, true, true), true, Convert, t0},
		{sub(commercev1.Subscription_ACTIVE, true, false), true, Expire, t0},
		{sub(commercev1.Subscription_ACTIVE, true, true), false, Expire, t0},
		{sub(commercev1.Subscription_EXPIRED, false, false), false, Disable, t0.Add(ExpiredFor)},
		{sub(commercev1.Subscription_DISABLED, false, false), false, Delete, t0.Add(time.Hour + DisabledFor)},
		{sub(commercev1.Subscription_DELETED, false, false), false, None, time.Time{}},
	} {
		step, at := Next(tc.s, t0.Add(time.Hour), tc.needsPay)
		if step != tc.want || !at.Equal(tc.at) {
			t.Errorf("%v trial=%v renew=%v: %s at %v", tc.s.State, tc.s.IsTrial, tc.s.AutoRenew, step, at)
		}
	}
}
