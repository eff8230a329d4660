package subscriptions

import (
	"context"
	"fmt"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/commerce/terms"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

// system is the actor of lifecycle steps: nobody.
var system = &auth.Identity{}

// RunDue runs every lifecycle step due at now, each at its own time (a long
// move of the clock renews, expires and disables in order), then sends the
// steps they need.
func (s *Service) RunDue(ctx context.Context, now time.Time) error {
	if err := s.ProcessPayments(ctx); err != nil {
		return err
	}
	for range 10000 {
		var due [][2]string
		if err := s.Store.DB.View(func(tx kv.Tx) (err error) {
			due, err = store.Due(tx, now, 100)
			return err
		}); err != nil {
			return err
		}
		if len(due) == 0 {
			break
		}
		for _, d := range due {
			floor, err := s.renewalFloor(ctx, d[0], d[1], now)
			if err != nil {
				return err
			}
			if err := s.step(d[0], d[1], now, floor); err != nil {
				return err
			}
		}
	}
	return s.DrivePending(ctx)
}

// renewalFloor is, for a subscription about to renew with a reduction
// scheduled, the number of its licenses assigned now: the reduction never
// takes the quantity below it (API.md §4), however many users were assigned
// since it was scheduled. 0 for any other.
func (s *Service) renewalFloor(ctx context.Context, org, id string, now time.Time) (int32, error) {
	renews := false
	err := s.Store.DB.View(func(tx kv.Tx) error {
		sub, m, err := store.GetSubscription(tx, org, id)
		if err != nil {
			return err
		}
		kind, at := terms.Next(sub, m.DisabledAt, m.TrialNeedsPayment)
		renews = kind == terms.Renew && !at.After(now) && !m.Hidden && sub.ScheduledQuantity != nil
		return nil
	})
	if err != nil || !renews {
		return 0, err
	}
	n, err := s.assigned(ctx, org, id)
	if errs.ReasonOf(err) == errs.ResourceNotFound.Name {
		return 0, nil
	}
	return n, err
}

// step applies the lifecycle step of one subscription due by now; floor is
// the least quantity a scheduled reduction may leave (renewalFloor).
func (s *Service) step(org, id string, now time.Time, floor int32) error {
	return s.Store.DB.Update(func(tx kv.Tx) error {
		sub, m, err := store.GetSubscription(tx, org, id)
		if err != nil {
			return err
		}
		kind, at := terms.Next(sub, m.DisabledAt, m.TrialNeedsPayment)
		if kind == terms.None || at.After(now) || m.Hidden {
			// A stale schedule entry: put it right.
			if m.Hidden {
				sub.NextLifecycleTime = nil
			} else {
				schedule(sub, m)
			}
			return store.PutSubscription(tx, org, id, userID(sub.GetPurchaser()), sub, m)
		}
		c := &changeCtx{org: org, id: id, caller: system, sub: sub, meta: m, now: at}
		switch kind {
		case terms.Renew:
			err = renew(tx, c, floor)
		case terms.Convert:
			err = convertAtTrialEnd(tx, c)
		case terms.Expire:
			c.sub.State = commercev1.Subscription_EXPIRED
			c.meta.Pending = append(c.meta.Pending,
				store.Step{Kind: store.StepPoolState, State: int32(licensingv1.License_WARNING), Version: c.nextVersion()},
				c.event(commercev1.Event_SUBSCRIPTION_STATE_CHANGED, map[string]string{"state": "EXPIRED"}))
		case terms.Disable:
			disable(c, at)
		case terms.Delete:
			c.sub.State = commercev1.Subscription_DELETED
			c.meta.Pending = append(c.meta.Pending,
				store.Step{Kind: store.StepDeletePool, Version: c.nextVersion()},
				c.event(commercev1.Event_SUBSCRIPTION_STATE_CHANGED, map[string]string{"state": "DELETED"}))
		}
		if err != nil {
			return err
		}
		schedule(c.sub, c.meta)
		return store.PutSubscription(tx, org, id, userID(c.sub.GetPurchaser()), c.sub, c.meta)
	})
}

func disable(c *changeCtx, at time.Time) {
	c.sub.State = commercev1.Subscription_DISABLED
	c.meta.DisabledAt = at
	c.meta.Pending = append(c.meta.Pending,
		store.Step{Kind: store.StepPoolState, State: int32(licensingv1.License_SUSPENDED), Version: c.nextVersion()},
		c.event(commercev1.Event_SUBSCRIPTION_STATE_CHANGED, map[string]string{"state": "DISABLED"}))
}

// renew starts the next term at the end of this one, charged in full at the
// scheduled quantity if a reduction waits; a failed charge leaves the
// invoice PAST_DUE (billing retries it).
func renew(tx kv.Tx, c *changeCtx, floor int32) error {
	start := c.sub.GetEndTime().AsTime()
	end := terms.End(start, c.sub.GetBillingFrequency())
	previous := c.sub.GetQuantity()
	if q := c.sub.ScheduledQuantity; q != nil {
		// Users assigned since the reduction was scheduled keep their
		// licenses: it goes as far as the assigned count, no further.
		c.sub.Quantity, c.sub.ScheduledQuantity = min(previous, max(*q, floor)), nil
	}
	amount, err := terms.Full(c.sub.GetUnitPrice().GetAmountMinor(), c.sub.GetQuantity())
	if err != nil {
		return err
	}
	c.sub.TermStartTime, c.sub.EndTime = timestamppb.New(start), timestamppb.New(end)
	c.meta.Anchor = start
	order, err := c.order(tx, commercev1.Order_RENEW, previous, amount)
	if err != nil {
		return err
	}
	if c.sub.GetQuantity() != previous {
		c.meta.Pending = append(c.meta.Pending, store.Step{Kind: store.StepResizePool, Total: c.sub.GetQuantity(), Version: c.nextVersion()})
	}
	c.meta.Pending = append(c.meta.Pending,
		c.chargeStep(tx, order, billingv1.LineItem_RENEW, terms.Line{Kind: terms.LineRenew, Quantity: c.sub.GetQuantity()}, c.sub.GetQuantity(), start, end, amount, true),
		c.event(commercev1.Event_SUBSCRIPTION_RENEWED, map[string]string{"count": fmt.Sprint(c.sub.GetQuantity())}))
	return nil
}

// convertAtTrialEnd turns a trial that was started with a payment method
// into a monthly subscription of the same licenses.
func convertAtTrialEnd(tx kv.Tx, c *changeCtx) error {
	start := c.sub.GetEndTime().AsTime()
	end := terms.End(start, commercev1.Product_MONTHLY)
	amount, err := terms.Full(c.sub.GetUnitPrice().GetAmountMinor(), c.sub.GetQuantity())
	if err != nil {
		return err
	}
	c.sub.IsTrial, c.sub.BillingFrequency = false, commercev1.Product_MONTHLY
	c.sub.TermStartTime, c.sub.EndTime = timestamppb.New(start), timestamppb.New(end)
	c.meta.Anchor, c.meta.TrialNeedsPayment = start, false
	order, err := c.order(tx, commercev1.Order_CONVERT, c.sub.GetQuantity(), amount)
	if err != nil {
		return err
	}
	c.meta.Pending = append(c.meta.Pending,
		c.chargeStep(tx, order, billingv1.LineItem_CONVERT, terms.Line{Kind: terms.LineTrialConverted, Quantity: c.sub.GetQuantity()}, c.sub.GetQuantity(), start, end, amount, true),
		c.event(commercev1.Event_TRIAL_CONVERTED, map[string]string{"count": fmt.Sprint(c.sub.GetQuantity())}))
	return nil
}

// ProcessPayments acts on what billing reported: an invoice unpaid for 30
// days disables its subscription.
func (s *Service) ProcessPayments(ctx context.Context) error {
	for range 1000 {
		var keys [][]byte
		var events []*commercev1.PaymentEvent
		if err := s.Store.DB.View(func(tx kv.Tx) (err error) {
			keys, events, err = store.PendingPaymentEvents(tx, 100)
			return err
		}); err != nil || len(events) == 0 {
			return err
		}
		err := s.Store.DB.Update(func(tx kv.Tx) error {
			for i, e := range events {
				if err := store.DonePaymentEvent(tx, keys[i]); err != nil {
					return err
				}
				var org, id string
				if !names.Scan(e.GetSubscription(), SubscriptionPattern, &org, &id) || e.GetType() != commercev1.PaymentEvent_INVOICE_UNPAID {
					continue
				}
				sub, m, err := store.GetSubscription(tx, org, id)
				if err != nil {
					continue // not ours any more
				}
				if st := sub.GetState(); st != commercev1.Subscription_ACTIVE && st != commercev1.Subscription_EXPIRED {
					continue
				}
				c := &changeCtx{org: org, id: id, caller: system, sub: sub, meta: m, now: s.Clock.Now()}
				disable(c, c.now)
				c.meta.Pending[len(c.meta.Pending)-1].Meta["invoice"] = e.GetInvoice()
				schedule(c.sub, c.meta)
				if err := store.PutSubscription(tx, org, id, userID(sub.GetPurchaser()), c.sub, c.meta); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
