package subscriptions

import (
	"context"
	"fmt"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/commerce/steps"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/commerce/terms"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/names"
)

// buyer is who is buying, checked against the directory and the policies.
type buyer struct {
	org     string
	caller  *auth.Identity
	user    *licensingv1.User
	cloud   licensingv1.Organization_Cloud
	channel commercev1.Subscription_Channel
	product catalog.Product
	policy  commercev1.ProductPolicy_Value
}

// Admins who buy for the organization: their purchases are channel ADMIN.
var orgBuyers = []string{auth.GlobalAdmin, auth.BillingAdmin}

// checkBuyer checks that the caller may buy product in the organization of
// parent at all: a MEMBER user, a product sold in the organization's cloud.
func (s *Service) checkBuyer(ctx context.Context, parent, productName string) (*buyer, error) {
	b := &buyer{caller: auth.FromContext(ctx)}
	if err := names.ParseInto("parent", parent, OrganizationPattern, &b.org); err != nil {
		return nil, err
	}
	if !b.caller.MemberOf(b.org) {
		if b.caller.Sees(b.org) {
			return nil, errs.Denied("subscriptions are bought by users of the organization")
		}
		return nil, errs.NotFound(parent)
	}
	pid, err := names.Parse("product", productName, ProductPattern)
	if err != nil {
		return nil, err
	}
	if err := s.Store.DB.View(func(tx kv.Tx) (err error) {
		if b.product, err = store.GetProduct(tx, pid[0]); err != nil {
			return err
		}
		b.policy, _, err = store.EffectivePolicy(tx, b.org, pid[0])
		return err
	}); err != nil {
		return nil, err
	}
	if b.user, err = s.user(ctx, b.caller.UserName()); err != nil {
		return nil, err
	}
	if b.user.GetUserType() != licensingv1.User_MEMBER {
		return nil, errs.New(errs.GuestUser, "guests cannot buy subscriptions")
	}
	org, err := s.organization(ctx, b.org)
	if err != nil {
		return nil, err
	}
	b.cloud = org.GetCloud()
	if !b.product.AvailableIn(b.cloud) {
		return nil, errs.New(errs.ProductNotAvailable, "%s is not sold in the %s cloud", productName, b.cloud).With("cloud", b.cloud.String())
	}
	b.channel = commercev1.Subscription_SELF_SERVICE
	if b.caller.HasRole(orgBuyers...) {
		b.channel = commercev1.Subscription_ADMIN
	}
	return b, nil
}

// payer checks that a billing profile belongs to the buyer and can pay. Who
// owns a billing profile and the currency it bills in never change (billing
// can update neither), so a payer read once is kept for those; withMethod
// asks billing again, for whether the profile has a payment method now.
func (s *Service) payer(ctx context.Context, b *buyer, profile string, withMethod bool) (*billingv1.Payer, error) {
	if _, err := names.Parse("billing_profile", profile, ProfilePattern); err != nil {
		return nil, err
	}
	p, ok := s.payers.get(profile)
	if !ok || withMethod {
		var err error
		p, err = s.Charges.GetPayer(ctx, &billingv1.GetPayerRequest{BillingProfile: profile})
		if errs.ReasonOf(err) == errs.ResourceNotFound.Name {
			return nil, errs.NotFound(profile)
		}
		if err != nil {
			return nil, err
		}
		s.payers.put(profile, p)
	}
	if p.GetOwner() != b.caller.UserName() {
		return nil, errs.Denied("the billing profile must be one of your own billing accounts").With("field", "billing_profile")
	}
	return p, nil
}

func price(b *buyer, freq commercev1.Product_BillingFrequency, currency string) (int64, error) {
	unit, ok := b.product.Price(freq, currency)
	if !ok {
		return 0, errs.New(errs.ProductNotAvailable, "%s has no %s price in %s", b.product.Name(), freq, currency).With("currency", currency)
	}
	return unit, nil
}

// newSubscription is a subscription as bought now.
func newSubscription(b *buyer, id string, now time.Time) *commercev1.Subscription {
	return &commercev1.Subscription{
		Name: subName(b.org, id), Product: b.product.Name(), ProductDisplayName: b.product.DisplayName(locale.English),
		Purchaser: b.caller.UserName(), PurchaserDisplayName: b.user.GetDisplayName(), Channel: b.channel,
		State: commercev1.Subscription_ACTIVE, StartTime: timestamppb.New(now), TermStartTime: timestamppb.New(now),
	}
}

func schedule(sub *commercev1.Subscription, m *store.Meta) {
	_, at := terms.Next(sub, m.DisabledAt, m.TrialNeedsPayment)
	if at.IsZero() {
		sub.NextLifecycleTime = nil
	} else {
		sub.NextLifecycleTime = timestamppb.New(at)
	}
}

func eventStep(typ commercev1.Event_Type, caller *auth.Identity, actorName string, meta map[string]string) store.Step {
	return store.Step{Kind: store.StepEvent, EventType: int32(typ), Actor: caller.UserName(), ActorName: actorName, Meta: meta}
}

// Purchase buys a subscription: it is charged, then its pool is created,
// then it is shown. A declined charge leaves nothing but billing's void
// invoice.
func (s *Service) Purchase(ctx context.Context, req *commercev1.PurchaseSubscriptionRequest) (*commercev1.Subscription, error) {
	pu, err := s.checkPurchase(ctx, req)
	if err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	first := &commercev1.Subscription{}
	var wrote *commercev1.Subscription // what the commit wrote, nil on a replay
	var wroteMeta *store.Meta
	replayed, err := idem.Update(ctx, s.Store.DB, idem.NewKey("PurchaseSubscription", pu.b.org+"/"+pu.b.caller.Subject, rid), now, req, first, func(tx kv.Tx) error {
		sub, m, err := pu.write(tx, now)
		if err != nil {
			return err
		}
		proto.Merge(first, sub)
		wrote, wroteMeta = sub, m
		return nil
	})
	if err != nil {
		return nil, err
	}
	if replayed {
		wrote, wroteMeta = nil, nil
	}
	return s.finishFrom(ctx, pu.b.org, first.GetName(), wrote, wroteMeta)
}

// purchase is a checked purchase: who buys what, paid by which profile,
// at what price.
type purchase struct {
	req         *commercev1.PurchaseSubscriptionRequest
	b           *buyer
	payer       *billingv1.Payer
	unit, total int64 // minor units of payer's currency: one license's price and the first term's
	// descs is the invoice line's description in every language, made
	// before the transaction: it is the dearest part of the purchase's
	// record, and the store's writer is shared.
	descs map[string]string
}

// checkPurchase checks a purchase before anything is written: the
// quantity and frequency, the buyer and the policy, a payment method on the
// profile, and the price.
func (s *Service) checkPurchase(ctx context.Context, req *commercev1.PurchaseSubscriptionRequest) (*purchase, error) {
	if err := terms.Quantity("quantity", req.GetQuantity()); err != nil {
		return nil, err
	}
	if err := terms.Frequency(req.GetBillingFrequency()); err != nil {
		return nil, err
	}
	b, err := s.checkBuyer(ctx, req.GetParent(), req.GetProduct())
	if err != nil {
		return nil, err
	}
	if b.product.TrialOnly {
		return nil, errs.New(errs.ProductNotAvailable, "%s is only available as a trial", b.product.Name())
	}
	if b.channel == commercev1.Subscription_SELF_SERVICE {
		if err := catalog.CheckPurchase(b.policy); err != nil {
			return nil, catalog.WithLicenseRequests(err, b.org)
		}
	}
	p, err := s.payer(ctx, b, req.GetBillingProfile(), false)
	if err != nil {
		return nil, err
	}
	if !p.GetHasPaymentMethod() {
		// The cached payer may be older than the card: ask billing again
		// before refusing.
		if p, err = s.payer(ctx, b, req.GetBillingProfile(), true); err != nil {
			return nil, err
		}
		if !p.GetHasPaymentMethod() {
			return nil, steps.ErrNoPaymentMethod(req.GetBillingProfile())
		}
	}
	unit, err := price(b, req.GetBillingFrequency(), p.GetCurrencyCode())
	if err != nil {
		return nil, err
	}
	total, err := terms.Full(unit, req.GetQuantity())
	if err != nil {
		return nil, errs.Field("quantity", "the total overflows")
	}
	descs := terms.Describe(terms.Line{Kind: terms.LinePurchase, Quantity: req.GetQuantity(), Frequency: req.GetBillingFrequency()}, b.product.DisplayName)
	return &purchase{req: req, b: b, payer: p, unit: unit, total: total, descs: descs}, nil
}

// Bought describes a subscription bought outright: who bought what, how
// many, how often billed, at what price, paid by which profile.
type Bought struct {
	Org, ID              string
	Product              catalog.Product
	Purchaser            string // organizations/{organization}/users/{user}
	PurchaserDisplayName string
	Channel              commercev1.Subscription_Channel
	Quantity             int32
	Frequency            commercev1.Product_BillingFrequency
	Currency             string
	Unit                 int64 // one license's price for one term, in minor units
	Profile              string
}

// New is the subscription, its meta and its first order that a purchase
// bought at now writes, before the steps that charge it and create its
// pool: the one constructor of a bought subscription (the bench's prefill
// writes what it makes too).
func (b Bought) New(now time.Time) (*commercev1.Subscription, *store.Meta, *commercev1.Order, error) {
	total, err := terms.Full(b.Unit, b.Quantity)
	if err != nil {
		return nil, nil, nil, errs.Field("quantity", "the total overflows")
	}
	sub := &commercev1.Subscription{
		Name: subName(b.Org, b.ID), Product: b.Product.Name(), ProductDisplayName: b.Product.DisplayName(locale.English),
		Purchaser: b.Purchaser, PurchaserDisplayName: b.PurchaserDisplayName, Channel: b.Channel,
		State: commercev1.Subscription_ACTIVE, StartTime: timestamppb.New(now), TermStartTime: timestamppb.New(now),
		Quantity: b.Quantity, BillingFrequency: b.Frequency, AutoRenew: true,
		UnitPrice:      &commercev1.Money{CurrencyCode: b.Currency, AmountMinor: b.Unit},
		EndTime:        timestamppb.New(terms.End(now, b.Frequency)),
		BillingProfile: b.Profile,
	}
	m := &store.Meta{Version: 1, Currency: b.Currency, Anchor: now}
	schedule(sub, m)
	order := &commercev1.Order{Type: commercev1.Order_PURCHASE, Quantity: b.Quantity, Actor: b.Purchaser,
		CreateTime: timestamppb.New(now), Amount: &commercev1.Money{CurrencyCode: b.Currency, AmountMinor: total}}
	return sub, m, order, nil
}

// write records the new subscription inside tx, hidden until its steps are
// done: its first order, and the steps that charge it, create its pool and
// announce it.
func (pu *purchase) write(tx kv.Tx, now time.Time) (*commercev1.Subscription, *store.Meta, error) {
	b, req := pu.b, pu.req
	id, err := newID(tx, "s")
	if err != nil {
		return nil, nil, err
	}
	sub, m, o, err := Bought{Org: b.org, ID: id, Product: b.product, Purchaser: b.caller.UserName(), PurchaserDisplayName: b.user.GetDisplayName(),
		Channel: b.channel, Quantity: req.GetQuantity(), Frequency: req.GetBillingFrequency(), Currency: pu.payer.GetCurrencyCode(),
		Unit: pu.unit, Profile: req.GetBillingProfile()}.New(now)
	if err != nil {
		return nil, nil, err
	}
	m.Hidden = true
	order, err := store.AddOrder(tx, b.org, id, m, o)
	if err != nil {
		return nil, nil, err
	}
	m.Pending = []store.Step{
		{Kind: store.StepCharge, Key: sub.Name + "/orders/" + store.OrderID(order), Profile: req.GetBillingProfile(), Order: order, Actor: sub.Purchaser,
			Lines: []store.Line{{Type: int32(billingv1.LineItem_PURCHASE), Description: pu.descs[locale.Code(locale.English)], Descriptions: pu.descs,
				Quantity: sub.Quantity, Start: now, End: sub.EndTime.AsTime(), Amount: pu.total}}},
		{Kind: store.StepCreatePool, Version: 1, Product: sub.Product, Purchaser: sub.Purchaser, Channel: int32(b.channel), Total: sub.Quantity, State: int32(licensingv1.License_ENABLED)},
		eventStep(commercev1.Event_SUBSCRIPTION_PURCHASED, b.caller, b.user.GetDisplayName(), map[string]string{"count": fmt.Sprint(sub.Quantity)}),
	}
	return sub, m, store.PutSubscription(tx, b.org, id, b.caller.Subject, sub, m)
}

// finish drives a new subscription's steps and answers it as its buyer sees it.
func (s *Service) finish(ctx context.Context, org, name string) (*commercev1.Subscription, error) {
	return s.finishFrom(ctx, org, name, nil, nil)
}

// finishFrom is finish starting from sub and m, what the commit that made
// the subscription wrote (nil: read it).
func (s *Service) finishFrom(ctx context.Context, org, name string, sub *commercev1.Subscription, m *store.Meta) (*commercev1.Subscription, error) {
	var id string
	names.Scan(name, SubscriptionPattern, &org, &id) // a name the caller made
	sub, m, err := s.Steps.DriveFrom(ctx, org, id, sub, m)
	if err != nil {
		return nil, err
	}
	if m.Hidden {
		return nil, errs.New(errs.Unavailable, "the subscription is being set up; retry with the same request id")
	}
	if m.LastOrder == 1 {
		// Just bought: nothing is assigned yet, no need to ask licensing.
		return sub, nil
	}
	return s.view(ctx, auth.FromContext(ctx), sub)
}

// StartTrial starts the one trial of a product an organization gets.
func (s *Service) StartTrial(ctx context.Context, req *commercev1.StartTrialRequest) (*commercev1.Subscription, error) {
	b, err := s.checkBuyer(ctx, req.GetParent(), req.GetProduct())
	if err != nil {
		return nil, err
	}
	trial := b.product.Trial
	if trial == nil {
		return nil, errs.New(errs.ProductNotAvailable, "%s has no trial", b.product.Name())
	}
	if b.channel == commercev1.Subscription_SELF_SERVICE {
		if err := catalog.CheckTrial(b.policy, trial.RequiresPaymentMethod); err != nil {
			return nil, catalog.WithLicenseRequests(err, b.org)
		}
	}
	var p *billingv1.Payer
	unit := int64(0)
	if trial.RequiresPaymentMethod {
		if req.GetBillingProfile() == "" {
			return nil, errs.New(errs.PaymentMethodRequired, "this trial needs a billing profile with a payment method").With("field", "billing_profile")
		}
		if p, err = s.payer(ctx, b, req.GetBillingProfile(), true); err != nil {
			return nil, err
		}
		if !p.GetHasPaymentMethod() {
			return nil, steps.ErrNoPaymentMethod(req.GetBillingProfile())
		}
		if unit, err = price(b, commercev1.Product_MONTHLY, p.GetCurrencyCode()); err != nil {
			return nil, err
		}
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	first := &commercev1.Subscription{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("StartTrial", b.org+"/"+b.caller.Subject, rid), now, req, first, func(tx kv.Tx) error {
		if used := store.TrialUsed(tx, b.org, b.product.ID); used != "" {
			return errs.New(errs.TrialAlreadyUsed, "the organization has used the trial of %s", b.product.Name()).With("subscription", used)
		}
		id, err := newID(tx, "s")
		if err != nil {
			return err
		}
		sub := newSubscription(b, id, now)
		sub.IsTrial, sub.Quantity = true, trial.Licenses
		sub.EndTime = timestamppb.New(now.Add(time.Duration(trial.Days) * 24 * time.Hour))
		m := &store.Meta{Version: 1, Anchor: now, Hidden: true, TrialNeedsPayment: trial.RequiresPaymentMethod}
		if p != nil {
			sub.AutoRenew, sub.BillingProfile, sub.BillingFrequency = true, req.GetBillingProfile(), commercev1.Product_MONTHLY
			sub.UnitPrice = &commercev1.Money{CurrencyCode: p.GetCurrencyCode(), AmountMinor: unit}
			m.Currency = p.GetCurrencyCode()
		}
		schedule(sub, m)
		if _, err := store.AddOrder(tx, b.org, id, m, &commercev1.Order{Type: commercev1.Order_START_TRIAL, Quantity: sub.Quantity,
			Actor: sub.Purchaser, CreateTime: timestamppb.New(now)}); err != nil {
			return err
		}
		m.Pending = []store.Step{
			{Kind: store.StepCreatePool, Version: 1, Product: sub.Product, Purchaser: sub.Purchaser, Channel: int32(b.channel), Total: sub.Quantity, State: int32(licensingv1.License_ENABLED)},
			eventStep(commercev1.Event_TRIAL_STARTED, b.caller, b.user.GetDisplayName(), map[string]string{"count": fmt.Sprint(sub.Quantity)}),
		}
		if err := store.UseTrial(tx, b.org, b.product.ID, sub.Name); err != nil {
			return err
		}
		proto.Merge(first, sub)
		return store.PutSubscription(tx, b.org, id, b.caller.Subject, sub, m)
	})
	if err != nil {
		return nil, err
	}
	return s.finish(ctx, b.org, first.GetName())
}
