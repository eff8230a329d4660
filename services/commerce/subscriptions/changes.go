package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/selfserve/selfserve/services/kit/kv"
	"golang.org/x/text/language"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/commerce/terms"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Sees tells whether the caller may read a subscription: its purchaser, the
// organization's admins and readers, operators and services.
func Sees(id *auth.Identity, sub *commercev1.Subscription) bool {
	return id.IsInternal() || id.UserName() == sub.GetPurchaser() || id.IsAdmin()
}

// MayManage checks that the caller may change a subscription: its
// purchaser; for an ADMIN-channel one any GLOBAL_ADMIN or BILLING_ADMIN.
// Admins only read a self-service subscription until they take it over.
func MayManage(id *auth.Identity, sub *commercev1.Subscription) error {
	switch {
	case id.UserName() != "" && id.UserName() == sub.GetPurchaser():
		return nil
	case sub.GetChannel() == commercev1.Subscription_ADMIN && id.HasRole(orgBuyers...):
		return nil
	case sub.GetChannel() == commercev1.Subscription_SELF_SERVICE && id.IsAdmin():
		return errs.ReadOnlyForAdmins("subscription", sub.GetName())
	}
	return errs.Denied("only the purchaser may change this subscription")
}

func active(sub *commercev1.Subscription) error {
	if sub.GetState() != commercev1.Subscription_ACTIVE {
		return errs.New(errs.SubscriptionNotActive, "%s is %s", sub.GetName(), sub.GetState()).With("state", sub.GetState().String())
	}
	return nil
}

// change is one change of a subscription by its caller: fn edits the
// subscription and its meta (adding the steps it needs) inside the
// transaction that also records the request id.
type change func(tx kv.Tx, c *changeCtx) error

type changeCtx struct {
	org, id string
	caller  *auth.Identity
	sub     *commercev1.Subscription
	meta    *store.Meta
	now     time.Time
}

// snapshot keeps the subscription as it is, for a decline to put back.
func (c *changeCtx) snapshot() {
	c.meta.Undo, _ = proto.Marshal(c.sub)
}

// nextVersion is the version the change's pool calls carry.
func (c *changeCtx) nextVersion() int64 {
	c.meta.Version++
	return c.meta.Version
}

func (c *changeCtx) order(tx kv.Tx, typ commercev1.Order_Type, previous int32, amount int64) (uint64, error) {
	o := &commercev1.Order{Type: typ, Quantity: c.sub.GetQuantity(), PreviousQuantity: previous, Actor: c.caller.UserName(), CreateTime: timestamppb.New(c.now)}
	if c.meta.Currency != "" {
		o.Amount = &commercev1.Money{CurrencyCode: c.meta.Currency, AmountMinor: amount}
	}
	return store.AddOrder(tx, c.org, c.id, c.meta, o)
}

func (c *changeCtx) event(typ commercev1.Event_Type, meta map[string]string) store.Step {
	return eventStep(typ, c.caller, "", meta)
}

// chargeStep is the charge of one line, described as text says in every
// language, the product named as the catalog names it in each.
func (c *changeCtx) chargeStep(tx kv.Tx, order uint64, typ billingv1.LineItem_Type, text terms.Line, qty int32, start, end time.Time, amount int64, pastDue bool) store.Step {
	descs := terms.Describe(text, productNames(tx, c.sub))
	if start.After(end) {
		start = end // a term that ended as the change was made: nothing left of it to charge
	}
	return store.Step{Kind: store.StepCharge, Key: c.sub.GetName() + "/orders/" + store.OrderID(order), Profile: c.sub.GetBillingProfile(), Order: order,
		Actor: c.caller.UserName(), PastDue: pastDue,
		Lines: []store.Line{{Type: int32(typ), Description: descs[locale.Code(locale.English)], Descriptions: descs, Quantity: qty, Start: start, End: end, Amount: amount}}}
}

// productNames names a subscription's product in a language as the catalog
// does, or as the subscription does when the catalog no longer has it.
func productNames(tx kv.Tx, sub *commercev1.Subscription) func(language.Tag) string {
	var id string
	names.Scan(sub.GetProduct(), ProductPattern, &id)
	p, err := store.GetProduct(tx, id)
	if err != nil {
		return func(language.Tag) string { return sub.GetProductDisplayName() }
	}
	return p.DisplayName
}

// mutate runs a change: any steps left from earlier changes go first, then
// fn under the request id, then the new steps.
func (s *Service) mutate(ctx context.Context, method string, req proto.Message, name, requestID string, fn change) (*commercev1.Subscription, error) {
	return s.mutateAs(ctx, method, req, name, requestID, MayManage, fn)
}

// mutateAs is mutate with another check of who may make the change.
func (s *Service) mutateAs(ctx context.Context, method string, req proto.Message, name, requestID string, may func(*auth.Identity, *commercev1.Subscription) error, fn change) (*commercev1.Subscription, error) {
	var org, id string
	err := names.ParseInto("name", name, SubscriptionPattern, &org, &id)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(name)
	}
	rid, err := idem.RequestID(ctx, requestID)
	if err != nil {
		return nil, err
	}
	resp := &commercev1.Subscription{}
	for attempt := 0; ; attempt++ {
		var cur *commercev1.Subscription
		var curMeta *store.Meta
		cur, curMeta, err = s.catchUp(ctx, org, id, s.Clock.Now())
		if err == nil {
			_, _, err = s.Steps.DriveFrom(ctx, org, id, cur, curMeta)
		}
		if err != nil && errs.ReasonOf(err) != errs.ResourceNotFound.Name {
			return nil, err
		}
		now := s.Clock.Now()
		_, err = idem.Update(ctx, s.Store.DB, idem.NewKey(method, org+"/"+caller.Subject, rid), now, req, resp, func(tx kv.Tx) error {
			sub, m, err := store.GetSubscription(tx, org, id)
			if err != nil || m.Hidden || !Sees(caller, sub) {
				return errs.NotFound(name)
			}
			if err := may(caller, sub); err != nil {
				return err
			}
			if len(m.Pending) > 0 {
				// Another change came in since the drive: this one goes on
				// top of it once it is done, or its undo would undo both.
				return errBusy
			}
			c := &changeCtx{org: org, id: id, caller: caller, sub: sub, meta: m, now: now}
			if err := fn(tx, c); err != nil {
				return err
			}
			schedule(c.sub, c.meta)
			proto.Merge(resp, c.sub)
			return store.PutSubscription(tx, org, id, userID(c.sub.GetPurchaser()), c.sub, c.meta)
		})
		if !errors.Is(err, errBusy) || attempt == maxBusy {
			break
		}
	}
	if errors.Is(err, errBusy) {
		return nil, errs.New(errs.Aborted, "another change of %s is being made; try again", name)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Drive(ctx, org, id); err != nil {
		return nil, err
	}
	sub, _, err := s.load(org, id)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, caller, sub)
}

// errBusy refuses a change while an earlier one's steps are being sent;
// mutate tries maxBusy more times, each after driving them.
var errBusy = errors.New("steps pending")

const maxBusy = 4

// catchUp runs the lifecycle steps of one subscription due by now, as the
// background run would, so that a change never lands on a term that has
// ended (a clock moved past it, or a run not yet come round). It answers
// the subscription as it read it last when nothing was due, for the drive
// that follows to start from (nil: read it again).
func (s *Service) catchUp(ctx context.Context, org, id string, now time.Time) (*commercev1.Subscription, *store.Meta, error) {
	for range 100 {
		var sub *commercev1.Subscription
		var m *store.Meta
		due := false
		err := s.Store.DB.View(func(tx kv.Tx) (err error) {
			if sub, m, err = store.GetSubscription(tx, org, id); err != nil {
				return err
			}
			kind, at := terms.Next(sub, m.DisabledAt, m.TrialNeedsPayment)
			due = kind != terms.None && !at.After(now) && !m.Hidden
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if !due {
			return sub, m, nil
		}
		floor, err := s.renewalFloor(ctx, org, id, now)
		if err != nil {
			return nil, nil, err
		}
		if err := s.step(org, id, now, floor); err != nil {
			return nil, nil, err
		}
	}
	return nil, nil, nil
}

// assigned reads how many licenses of a subscription are assigned.
func (s *Service) assigned(ctx context.Context, org, id string) (int32, error) {
	p, err := s.Pools.GetPool(ctx, &licensingv1.GetPoolRequest{Name: poolName(org, id)})
	if err != nil {
		return 0, err
	}
	return p.GetAssignedLicenses(), nil
}

// SetQuantity sets the total number of licenses (API.md §4).
func (s *Service) SetQuantity(ctx context.Context, req *commercev1.SetQuantityRequest) (*commercev1.Subscription, error) {
	if err := terms.Quantity("total_licenses", req.GetTotalLicenses()); err != nil {
		return nil, err
	}
	var org, id string
	err := names.ParseInto("name", req.GetName(), SubscriptionPattern, &org, &id)
	if err != nil {
		return nil, err
	}
	// The assigned count is read first; the pool itself refuses a resize
	// below its assignments, so a race is caught there and undone.
	assigned, err := s.assigned(ctx, org, id)
	if err != nil && errs.ReasonOf(err) != errs.ResourceNotFound.Name {
		return nil, err
	}
	return s.mutate(ctx, "SetQuantity", req, req.GetName(), req.GetRequestId(), func(tx kv.Tx, c *changeCtx) error {
		if c.sub.GetIsTrial() {
			return errs.New(errs.SubscriptionNotActive, "the quantity of a trial cannot change; convert it first").With("state", "TRIAL")
		}
		if err := active(c.sub); err != nil {
			return err
		}
		start, end := c.sub.GetTermStartTime().AsTime(), c.sub.GetEndTime().AsTime()
		q, err := terms.SetQuantity(c.sub.GetQuantity(), req.GetTotalLicenses(), assigned, c.sub.GetUnitPrice().GetAmountMinor(), start, end, c.meta.Anchor, c.now)
		if err != nil {
			return err
		}
		previous := c.sub.GetQuantity()
		meta := map[string]string{"from": fmt.Sprint(previous), "to": fmt.Sprint(req.GetTotalLicenses())}
		switch {
		case q.Scheduled != 0:
			c.sub.ScheduledQuantity = proto.Int32(q.Scheduled)
			meta["scheduled"] = "true"
			c.meta.Pending = append(c.meta.Pending, c.event(commercev1.Event_QUANTITY_CHANGED, meta))
			_, err := c.order(tx, commercev1.Order_REMOVE_QUANTITY, previous, 0)
			return err
		case q.Now == previous:
			c.sub.ScheduledQuantity = nil
			return nil
		}
		c.snapshot()
		c.sub.Quantity, c.sub.ScheduledQuantity = q.Now, nil
		if q.Now > previous {
			c.meta.Anchor = c.now // the grace period restarts at an increase
			order, err := c.order(tx, commercev1.Order_ADD_QUANTITY, previous, q.Charge)
			if err != nil {
				return err
			}
			c.meta.Pending = append(c.meta.Pending,
				c.chargeStep(tx, order, billingv1.LineItem_ADD_QUANTITY, terms.Line{Kind: terms.LineAdd, Quantity: q.Now, Previous: previous}, q.Now-previous, c.now, end, q.Charge, false),
				store.Step{Kind: store.StepResizePool, Total: q.Now, Version: c.nextVersion()},
				c.event(commercev1.Event_QUANTITY_CHANGED, meta))
			return nil
		}
		order, err := c.order(tx, commercev1.Order_REMOVE_QUANTITY, previous, q.Charge)
		if err != nil {
			return err
		}
		c.meta.Pending = append(c.meta.Pending,
			store.Step{Kind: store.StepResizePool, Total: q.Now, Version: c.nextVersion()},
			c.chargeStep(tx, order, billingv1.LineItem_REMOVE_QUANTITY, terms.Line{Kind: terms.LineRemove, Quantity: q.Now, Previous: previous}, previous-q.Now, c.now, end, q.Charge, false),
			c.event(commercev1.Event_QUANTITY_CHANGED, meta))
		return nil
	})
}

// Cancel cancels with a reason and feedback: within 7 days of the start or
// last renewal it is refunded and DISABLED at once; later auto-renew turns
// off and it runs to its end.
func (s *Service) Cancel(ctx context.Context, req *commercev1.CancelSubscriptionRequest) (*commercev1.Subscription, error) {
	if err := terms.Reason(req.GetReason()); err != nil {
		return nil, err
	}
	feedback := strings.TrimSpace(req.GetFeedback())
	if !utf8.ValidString(feedback) || utf8.RuneCountInString(feedback) > terms.MaxFeedback {
		return nil, errs.Field("feedback", "feedback must be text of at most %d characters", terms.MaxFeedback)
	}
	return s.mutate(ctx, "CancelSubscription", req, req.GetName(), req.GetRequestId(), func(tx kv.Tx, c *changeCtx) error {
		if err := active(c.sub); err != nil {
			return err
		}
		c.snapshot() // for a refund that cannot be made
		c.sub.Cancellation = &commercev1.Subscription_Cancellation{Reason: req.GetReason(), Feedback: feedback, CancelTime: timestamppb.New(c.now)}
		c.sub.AutoRenew = false
		meta := map[string]string{"reason": req.GetReason().String()}
		termStart, end := c.sub.GetTermStartTime().AsTime(), c.sub.GetEndTime().AsTime()
		if !terms.InGrace(termStart, c.now) {
			c.meta.Pending = append(c.meta.Pending, c.event(commercev1.Event_SUBSCRIPTION_CANCELLED, meta))
			_, err := c.order(tx, commercev1.Order_CANCEL, c.sub.GetQuantity(), 0)
			return err
		}
		refund := int64(0)
		if !c.sub.GetIsTrial() {
			r, err := terms.Remaining(c.sub.GetUnitPrice().GetAmountMinor(), c.sub.GetQuantity(), termStart, end, c.now)
			if err != nil {
				return err
			}
			refund = -r
		}
		c.sub.State = commercev1.Subscription_DISABLED
		c.meta.DisabledAt = c.now
		meta["refunded"] = "true"
		order, err := c.order(tx, commercev1.Order_CANCEL, c.sub.GetQuantity(), refund)
		if err != nil {
			return err
		}
		if refund != 0 {
			c.meta.Pending = append(c.meta.Pending, c.chargeStep(tx, order, billingv1.LineItem_CANCEL,
				terms.Line{Kind: terms.LineCancel, Quantity: c.sub.GetQuantity()}, c.sub.GetQuantity(), c.now, end, refund, false))
		}
		c.meta.Pending = append(c.meta.Pending,
			store.Step{Kind: store.StepPoolState, State: int32(licensingv1.License_SUSPENDED), Version: c.nextVersion()},
			c.event(commercev1.Event_SUBSCRIPTION_CANCELLED, meta))
		return nil
	})
}

// SetAutoRenew turns renewal (for a trial with a payment method: its
// conversion) on or off.
func (s *Service) SetAutoRenew(ctx context.Context, req *commercev1.SetAutoRenewRequest) (*commercev1.Subscription, error) {
	return s.mutate(ctx, "SetAutoRenew", req, req.GetName(), req.GetRequestId(), func(tx kv.Tx, c *changeCtx) error {
		if err := active(c.sub); err != nil {
			return err
		}
		if c.sub.GetIsTrial() && !c.meta.TrialNeedsPayment && req.GetAutoRenew() {
			return errs.New(errs.NotATrial, "this trial has no payment method to renew with; convert it instead").With("field", "auto_renew")
		}
		if c.sub.GetAutoRenew() == req.GetAutoRenew() {
			return nil
		}
		c.sub.AutoRenew = req.GetAutoRenew()
		c.meta.Pending = append(c.meta.Pending, c.event(commercev1.Event_AUTO_RENEW_CHANGED, map[string]string{"auto_renew": fmt.Sprint(req.GetAutoRenew())}))
		return nil
	})
}

// Reactivate starts a new paid term of an EXPIRED or DISABLED subscription.
func (s *Service) Reactivate(ctx context.Context, req *commercev1.ReactivateSubscriptionRequest) (*commercev1.Subscription, error) {
	return s.mutate(ctx, "ReactivateSubscription", req, req.GetName(), req.GetRequestId(), func(tx kv.Tx, c *changeCtx) error {
		st := c.sub.GetState()
		if st != commercev1.Subscription_EXPIRED && st != commercev1.Subscription_DISABLED {
			return errs.New(errs.NotReactivatable, "%s is %s", c.sub.GetName(), st).With("state", st.String())
		}
		if c.sub.GetIsTrial() {
			return errs.New(errs.NotReactivatable, "a trial is converted, not reactivated").With("state", "TRIAL")
		}
		c.snapshot()
		end := terms.End(c.now, c.sub.GetBillingFrequency())
		amount, err := terms.Full(c.sub.GetUnitPrice().GetAmountMinor(), c.sub.GetQuantity())
		if err != nil {
			return err
		}
		c.sub.State, c.sub.AutoRenew, c.sub.Cancellation = commercev1.Subscription_ACTIVE, true, nil
		c.sub.TermStartTime, c.sub.EndTime = timestamppb.New(c.now), timestamppb.New(end)
		c.meta.Anchor, c.meta.DisabledAt = c.now, time.Time{}
		order, err := c.order(tx, commercev1.Order_REACTIVATE, c.sub.GetQuantity(), amount)
		if err != nil {
			return err
		}
		c.meta.Pending = append(c.meta.Pending,
			c.chargeStep(tx, order, billingv1.LineItem_REACTIVATE, terms.Line{Kind: terms.LineReactivate, Quantity: c.sub.GetQuantity()}, c.sub.GetQuantity(), c.now, end, amount, false),
			store.Step{Kind: store.StepPoolState, State: int32(licensingv1.License_ENABLED), Version: c.nextVersion()},
			c.event(commercev1.Event_SUBSCRIPTION_REACTIVATED, nil))
		return nil
	})
}

// ExtendTrial extends a trial once by 30 days, within its last 15 days.
func (s *Service) ExtendTrial(ctx context.Context, req *commercev1.ExtendTrialRequest) (*commercev1.Subscription, error) {
	return s.mutate(ctx, "ExtendTrial", req, req.GetName(), req.GetRequestId(), func(tx kv.Tx, c *changeCtx) error {
		if !c.sub.GetIsTrial() {
			return errs.New(errs.NotATrial, "%s is not a trial", c.sub.GetName())
		}
		if err := active(c.sub); err != nil {
			return err
		}
		end := c.sub.GetEndTime().AsTime()
		if err := terms.CanExtendTrial(c.sub.GetTrialExtended(), end, c.now); err != nil {
			return err
		}
		c.sub.EndTime, c.sub.TrialExtended = timestamppb.New(end.Add(terms.TrialExtension)), true
		if _, err := c.order(tx, commercev1.Order_EXTEND_TRIAL, c.sub.GetQuantity(), 0); err != nil {
			return err
		}
		c.meta.Pending = append(c.meta.Pending, c.event(commercev1.Event_TRIAL_EXTENDED, nil))
		return nil
	})
}

// ConvertTrial turns a trial into a paid subscription from now.
func (s *Service) ConvertTrial(ctx context.Context, req *commercev1.ConvertTrialRequest) (*commercev1.Subscription, error) {
	if err := terms.Quantity("quantity", req.GetQuantity()); err != nil {
		return nil, err
	}
	if err := terms.Frequency(req.GetBillingFrequency()); err != nil {
		return nil, err
	}
	var org, id string
	err := names.ParseInto("name", req.GetName(), SubscriptionPattern, &org, &id)
	if err != nil {
		return nil, err
	}
	sub, _, err := s.load(org, id)
	if err != nil {
		return nil, err
	}
	b, err := s.checkBuyer(ctx, names.Format(names.Organization, org), sub.GetProduct())
	if err != nil {
		return nil, err
	}
	if b.product.TrialOnly {
		return nil, errs.New(errs.ProductNotAvailable, "%s is only available as a trial", b.product.Name())
	}
	if sub.GetChannel() == commercev1.Subscription_SELF_SERVICE {
		if err := catalog.CheckPurchase(b.policy); err != nil {
			return nil, catalog.WithLicenseRequests(err, b.org)
		}
	}
	p, err := s.payer(ctx, b, req.GetBillingProfile(), false)
	if err != nil {
		return nil, err
	}
	unit, err := price(b, req.GetBillingFrequency(), p.GetCurrencyCode())
	if err != nil {
		return nil, err
	}
	assigned, err := s.assigned(ctx, org, id)
	if err != nil {
		return nil, err
	}
	return s.mutate(ctx, "ConvertTrial", req, req.GetName(), req.GetRequestId(), func(tx kv.Tx, c *changeCtx) error {
		if !c.sub.GetIsTrial() {
			return errs.New(errs.NotATrial, "%s is not a trial", c.sub.GetName())
		}
		if st := c.sub.GetState(); st != commercev1.Subscription_ACTIVE && st != commercev1.Subscription_EXPIRED {
			return errs.New(errs.SubscriptionNotActive, "%s is %s", c.sub.GetName(), st).With("state", st.String())
		}
		if req.GetQuantity() < assigned {
			return errs.Counted(errs.BelowAssignedLicenses, errs.LicensesAssigned, int(assigned), int(req.GetQuantity())).With("assigned", fmt.Sprint(assigned))
		}
		amount, err := terms.Full(unit, req.GetQuantity())
		if err != nil {
			return err
		}
		c.snapshot()
		end := terms.End(c.now, req.GetBillingFrequency())
		c.sub.IsTrial, c.sub.State, c.sub.AutoRenew = false, commercev1.Subscription_ACTIVE, true
		c.sub.Quantity, c.sub.BillingFrequency, c.sub.BillingProfile = req.GetQuantity(), req.GetBillingFrequency(), req.GetBillingProfile()
		c.sub.UnitPrice = &commercev1.Money{CurrencyCode: p.GetCurrencyCode(), AmountMinor: unit}
		c.sub.TermStartTime, c.sub.EndTime, c.sub.Cancellation = timestamppb.New(c.now), timestamppb.New(end), nil
		c.meta.Currency, c.meta.Anchor, c.meta.TrialNeedsPayment = p.GetCurrencyCode(), c.now, false
		order, err := c.order(tx, commercev1.Order_CONVERT, c.sub.GetQuantity(), amount)
		if err != nil {
			return err
		}
		v := c.nextVersion()
		c.meta.Pending = append(c.meta.Pending,
			c.chargeStep(tx, order, billingv1.LineItem_CONVERT, terms.Line{Kind: terms.LineConvert, Quantity: c.sub.GetQuantity(), Frequency: c.sub.GetBillingFrequency()}, c.sub.GetQuantity(), c.now, end, amount, false),
			store.Step{Kind: store.StepResizePool, Total: c.sub.GetQuantity(), Version: v},
			store.Step{Kind: store.StepPoolState, State: int32(licensingv1.License_ENABLED), Version: c.nextVersion()},
			c.event(commercev1.Event_TRIAL_CONVERTED, map[string]string{"count": fmt.Sprint(c.sub.GetQuantity())}))
		return nil
	})
}

// TakeOver lets a GLOBAL_ADMIN or BILLING_ADMIN take a self-service
// subscription over: its users move to another subscription (all or
// nothing), or it is cancelled; either way it ends DELETED.
func (s *Service) TakeOver(ctx context.Context, req *commercev1.TakeOverSubscriptionRequest) (*commercev1.Subscription, error) {
	caller := auth.FromContext(ctx)
	var org, id string
	err := names.ParseInto("name", req.GetName(), SubscriptionPattern, &org, &id)
	if err != nil {
		return nil, err
	}
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetName())
	}
	if !caller.HasRole(orgBuyers...) {
		return nil, errs.Denied("only a GLOBAL_ADMIN or BILLING_ADMIN takes a subscription over")
	}
	target := ""
	switch a := req.GetAction().(type) {
	case *commercev1.TakeOverSubscriptionRequest_MoveUsersTo:
		var torg, tid string
		if err := names.ParseInto("move_users_to", a.MoveUsersTo, SubscriptionPattern, &torg, &tid); err != nil {
			return nil, err
		}
		if torg != org || tid == id {
			return nil, errs.Field("move_users_to", "move_users_to must be another subscription of the organization")
		}
		tsub, tm, err := s.load(org, tid)
		if err != nil || tm.Hidden {
			return nil, errs.NotFound(a.MoveUsersTo)
		}
		if err := MayManage(caller, tsub); err != nil {
			return nil, err
		}
		if err := active(tsub); err != nil {
			return nil, err
		}
		target = poolName(org, tid)
	case *commercev1.TakeOverSubscriptionRequest_Cancel:
		if !a.Cancel {
			return nil, errs.Field("cancel", "give move_users_to, or cancel: true")
		}
	default:
		return nil, errs.Field("move_users_to", "give move_users_to, or cancel: true")
	}
	return s.mutateAs(ctx, "TakeOverSubscription", req, req.GetName(), req.GetRequestId(), mayTakeOver, takeOver(target))
}

// mayTakeOver: taking over is the one change admins make to a self-service
// subscription.
func mayTakeOver(id *auth.Identity, sub *commercev1.Subscription) error {
	if sub.GetChannel() != commercev1.Subscription_SELF_SERVICE {
		return errs.New(errs.FailedPrecondition, "only a self-service subscription is taken over; %s is the organization's", sub.GetName())
	}
	return nil
}

func takeOver(target string) change {
	return func(tx kv.Tx, c *changeCtx) error {
		if c.sub.GetState() == commercev1.Subscription_DELETED {
			return errs.New(errs.SubscriptionNotActive, "%s is DELETED", c.sub.GetName()).With("state", "DELETED")
		}
		c.snapshot()
		previous := c.sub.GetState()
		c.sub.State, c.sub.AutoRenew = commercev1.Subscription_DELETED, false
		c.meta.TakenOver = c.caller.UserName()
		if _, err := c.order(tx, commercev1.Order_TAKE_OVER, c.sub.GetQuantity(), 0); err != nil {
			return err
		}
		meta := map[string]string{"action": "cancel", "previous_state": previous.String()}
		step := store.Step{Kind: store.StepDeletePool, Version: c.nextVersion()}
		if target != "" {
			meta["action"], meta["target"] = "move", strings.Replace(target, "/licenses/", "/subscriptions/", 1)
			step = store.Step{Kind: store.StepTransfer, Target: target, Actor: c.caller.UserName(), Version: step.Version}
		}
		c.meta.Pending = append(c.meta.Pending, step, c.event(commercev1.Event_SUBSCRIPTION_TAKEN_OVER, meta))
		return nil
	}
}
