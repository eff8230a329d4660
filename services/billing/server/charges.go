package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/billing/accounts"
	"github.com/selfserve/selfserve/services/billing/processor"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Charges implements the internal ChargeService and the payment retries.
type Charges struct {
	billingv1.UnimplementedChargeServiceServer
	*Deps
}

func internalOnly(ctx context.Context) error {
	if !auth.FromContext(ctx).IsInternal() {
		return errs.Denied("charges are made by the commerce service only")
	}
	return nil
}

// GetPayer describes who pays through a billing profile.
func (s *Charges) GetPayer(ctx context.Context, req *billingv1.GetPayerRequest) (*billingv1.Payer, error) {
	if err := internalOnly(ctx); err != nil {
		return nil, err
	}
	var org, acct, prof string
	err := names.ParseInto("billing_profile", req.GetBillingProfile(), accounts.ProfilePattern, &org, &acct, &prof)
	if err != nil {
		return nil, err
	}
	out := &billingv1.Payer{BillingProfile: req.GetBillingProfile()}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		a, cloud, err := store.GetAccount(tx, org, acct)
		if err != nil {
			return errs.NotFound(req.GetBillingProfile())
		}
		p, err := store.GetProfile(tx, org, acct, prof)
		if err != nil {
			return err
		}
		out.BillingAccount, out.Owner, out.CurrencyCode, out.Cloud = a.GetName(), a.GetOwner(), a.GetCurrencyCode(), cloud
		out.CountryCode = a.GetSoldTo().GetCountryCode()
		out.HasPaymentMethod = p.GetPaymentMethod() != ""
		return nil
	})
	return out, err
}

// Charge makes the invoice of one billable event and settles it: a positive
// total is charged to the profile's payment method, then its backup; a
// negative one is refunded; zero is paid as it is. The same key always
// answers the same invoice and never charges twice.
func (s *Charges) Charge(ctx context.Context, req *billingv1.ChargeRequest) (*billingv1.Invoice, error) {
	if err := internalOnly(ctx); err != nil {
		return nil, err
	}
	cr, err := checkCharge(req)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	c, inv, primary, backup, err := s.priorCharge(cr)
	if err != nil {
		return nil, err
	}
	if c == nil {
		// Pay first, then record the invoice with its outcome in one commit:
		// the processor's keys make a repeated payment a no-op, so a crash
		// in between is settled when the caller retries the same key.
		c = &store.Charge{Key: req.GetKey(), Profile: req.GetBillingProfile(), Subscription: req.GetSubscription(),
			Actor: req.GetActor(), OnFailure: int32(req.GetOnFailure())}
		pay, err := s.payWith(ctx, c, cr.subtotal, req.GetCurrencyCode(), primary, backup)
		if err != nil {
			return nil, err
		}
		var wrote bool
		if c, inv, wrote, err = s.recordCharge(cr, c, pay, now); err != nil {
			return nil, err
		}
		if wrote {
			s.committed()
		}
		metrics.Charges.WithLabelValues(chargeOutcome(inv, !wrote)).Inc()
	} else {
		metrics.Charges.WithLabelValues("replayed").Inc()
	}
	if inv.GetStatus() == billingv1.Invoice_OPEN {
		// Left OPEN by a call that failed before it settled: settle now.
		if inv, c, err = s.settle(ctx, cr.org, c); err != nil {
			return nil, err
		}
	}
	return outcome(inv, c)
}

// chargeRequest is a ChargeRequest checked: its profile's ids, and its
// lines with their subtotal and translations.
type chargeRequest struct {
	req             *billingv1.ChargeRequest
	org, acct, prof string
	lines           []*billingv1.LineItem
	subtotal        int64
	texts           []map[string]string
}

// checkCharge checks a charge request before anything is read or paid.
func checkCharge(req *billingv1.ChargeRequest) (*chargeRequest, error) {
	cr := &chargeRequest{req: req}
	if err := names.ParseInto("billing_profile", req.GetBillingProfile(), accounts.ProfilePattern, &cr.org, &cr.acct, &cr.prof); err != nil {
		return nil, err
	}
	if err := accounts.ChargeKey(req.GetKey()); err != nil {
		return nil, err
	}
	switch req.GetOnFailure() {
	case billingv1.ChargeRequest_VOID_AND_FAIL, billingv1.ChargeRequest_PAST_DUE:
	default:
		return nil, errs.Field("on_failure", "on_failure must be VOID_AND_FAIL or PAST_DUE")
	}
	var err error
	if cr.lines, cr.subtotal, err = accounts.Lines(req.GetLineItems(), req.GetCurrencyCode()); err != nil {
		return nil, err
	}
	if cr.texts, err = accounts.LineTexts(req.GetLineDescriptions(), len(cr.lines)); err != nil {
		return nil, err
	}
	if req.GetSubscription() != "" {
		if _, err := names.Parse("subscription", req.GetSubscription(), accounts.SubscriptionPattern); err != nil {
			return nil, err
		}
	}
	return cr, nil
}

// priorCharge reads what a charge key already recorded (the charge and its
// invoice; nil when the key is new) or, for a new key, the payment tokens
// of the profile after checking its account bills in the request's
// currency.
func (s *Charges) priorCharge(cr *chargeRequest) (c *store.Charge, inv *billingv1.Invoice, primary, backup string, err error) {
	req := cr.req
	err = s.Store.DB.View(func(tx kv.Tx) error {
		if c, err = store.GetCharge(tx, cr.org, req.GetKey()); err != nil || c != nil {
			if c != nil {
				inv, err = store.GetInvoiceByName(tx, c.Invoice)
			}
			return err
		}
		a, _, err := store.GetAccount(tx, cr.org, cr.acct)
		if err != nil {
			return errs.NotFound(req.GetBillingProfile())
		}
		if a.GetCurrencyCode() != req.GetCurrencyCode() {
			return errs.Field("currency_code", "the billing account bills in %s, not %s", a.GetCurrencyCode(), req.GetCurrencyCode())
		}
		p, err := store.GetProfile(tx, cr.org, cr.acct, cr.prof)
		if err != nil {
			return err
		}
		primary, backup = store.PaymentToken(tx, p.GetPaymentMethod()), store.PaymentToken(tx, p.GetBackupPaymentMethod())
		return nil
	})
	return c, inv, primary, backup, err
}

// recordCharge writes a paid (or refused) new charge: its invoice, numbered
// in the account, with the payment's outcome, in one commit. When a
// concurrent call with the same key recorded it first, it answers that
// one's charge and invoice and wrote is false.
func (s *Charges) recordCharge(cr *chargeRequest, fresh *store.Charge, pay payment, now time.Time) (c *store.Charge, inv *billingv1.Invoice, wrote bool, err error) {
	req := cr.req
	err = kv.Commit(s.Store.DB, func(tx kv.Tx) error {
		wrote, inv, c = false, nil, fresh
		existing, err := store.GetCharge(tx, cr.org, req.GetKey())
		if err != nil {
			return err
		}
		if existing != nil { // recorded meanwhile by a concurrent call
			c = existing
			inv, err = store.GetInvoiceByName(tx, existing.Invoice)
			return err
		}
		a, _, err := store.GetAccount(tx, cr.org, cr.acct)
		if err != nil {
			return err
		}
		n, err := store.NextInvoiceNumber(tx, cr.org, cr.acct)
		if err != nil {
			return err
		}
		inv = &billingv1.Invoice{
			InvoiceNumber:  invoiceNumber(cr.acct, n),
			Status:         billingv1.Invoice_OPEN,
			LineItems:      cr.lines,
			SubtotalMinor:  cr.subtotal,
			TotalMinor:     cr.subtotal,
			CurrencyCode:   a.GetCurrencyCode(),
			IssueTime:      timestamppb.New(now),
			DueTime:        timestamppb.New(now),
			BillingProfile: req.GetBillingProfile(),
		}
		if err := store.InsertInvoice(tx, cr.org, cr.acct, store.InvoiceID(n), inv); err != nil {
			return err
		}
		if err := store.PutInvoiceTexts(tx, cr.org, cr.acct, store.InvoiceID(n), cr.texts); err != nil {
			return err
		}
		cc := *fresh
		cc.Invoice = inv.GetName()
		c = &cc
		wrote = true
		return s.record(tx, cr.org, inv, c, pay, now)
	})
	return c, inv, wrote, err
}

// chargeOutcome names how a charge ended, for metrics: by the invoice it
// recorded (paid, declined, past_due, ...), or replayed when a concurrent
// call with the same key recorded it first.
func chargeOutcome(inv *billingv1.Invoice, replayed bool) string {
	if replayed {
		return "replayed"
	}
	switch inv.GetStatus() {
	case billingv1.Invoice_PAID:
		return "paid"
	case billingv1.Invoice_VOID:
		return "declined"
	}
	return strings.ToLower(inv.GetStatus().String())
}

// invoiceNumber is sequential per billing account.
func invoiceNumber(account string, n uint64) string {
	id := strings.ToUpper(strings.TrimPrefix(account, "ba-"))
	if len(id) > 8 {
		id = id[:8]
	}
	return fmt.Sprintf("%s-%06d", id, n)
}

// outcome is what a Charge call answers for a settled invoice: a purchase
// that could not be paid is PAYMENT_DECLINED.
func outcome(inv *billingv1.Invoice, c *store.Charge) (*billingv1.Invoice, error) {
	if inv.GetStatus() == billingv1.Invoice_VOID && c.OnFailure == int32(billingv1.ChargeRequest_VOID_AND_FAIL) {
		return nil, errs.New(errs.PaymentDeclined, "the payment was declined; %s is void", inv.GetName()).
			With("decline_code", c.Decline).With("invoice", inv.GetName())
	}
	return inv, nil
}

// payment is the result of trying to pay an invoice.
type payment struct {
	approved  bool
	reference string
	decline   string
}

// pay charges (or refunds) amount to the profile's payment method, then its
// backup, outside any transaction.
func (s *Charges) pay(ctx context.Context, c *store.Charge, amount int64, currency string) (payment, error) {
	var primary, backup string
	err := s.Store.DB.View(func(tx kv.Tx) error {
		var org, acct, prof string
		names.Scan(c.Profile, accounts.ProfilePattern, &org, &acct, &prof) // a stored name: a mismatch reads nothing
		p, err := store.GetProfile(tx, org, acct, prof)
		if err != nil {
			return err
		}
		primary, backup = store.PaymentToken(tx, p.GetPaymentMethod()), store.PaymentToken(tx, p.GetBackupPaymentMethod())
		return nil
	})
	if err != nil {
		return payment{}, err
	}
	return s.payWith(ctx, c, amount, currency, primary, backup)
}

// payWith is pay with the payment tokens already read.
func (s *Charges) payWith(ctx context.Context, c *store.Charge, amount int64, currency, primary, backup string) (payment, error) {
	switch {
	case amount == 0:
		return payment{approved: true}, nil
	case amount < 0:
		if primary == "" {
			// Nothing to refund to: the credit stands on the invoice.
			return payment{approved: true}, nil
		}
		res, err := s.Processor.Refund(ctx, processor.Token(primary), -amount, currency, c.Key+"/refund")
		return payment{approved: res.Approved, reference: res.Reference, decline: res.DeclineCode}, err
	}
	out := payment{decline: "no_payment_method"}
	for i, tok := range []string{primary, backup} {
		if tok == "" {
			continue
		}
		res, err := s.Processor.Charge(ctx, processor.Token(tok), amount, currency, fmt.Sprintf("%s/%d/%d", c.Key, c.Attempts, i))
		if err != nil {
			return payment{}, err
		}
		if res.Approved {
			return payment{approved: true, reference: res.Reference}, nil
		}
		out.decline = res.DeclineCode
	}
	return out, nil
}

// settle pays an OPEN or PAST_DUE invoice once and records the outcome.
func (s *Charges) settle(ctx context.Context, org string, c *store.Charge) (*billingv1.Invoice, *store.Charge, error) {
	var inv *billingv1.Invoice
	if err := s.Store.DB.View(func(tx kv.Tx) (err error) {
		inv, err = store.GetInvoiceByName(tx, c.Invoice)
		return err
	}); err != nil {
		return nil, nil, err
	}
	pay, err := s.pay(ctx, c, inv.GetTotalMinor(), inv.GetCurrencyCode())
	if err != nil {
		return nil, nil, err
	}
	now := s.Clock.Now()
	wrote := false
	err = kv.Commit(s.Store.DB, func(tx kv.Tx) error {
		wrote = false
		cur, err := store.GetCharge(tx, org, c.Key)
		if err != nil {
			return err
		}
		if inv, err = store.GetInvoiceByName(tx, c.Invoice); err != nil {
			return err
		}
		c = cur
		if inv.GetStatus() != billingv1.Invoice_OPEN && inv.GetStatus() != billingv1.Invoice_PAST_DUE {
			// Settled meanwhile by another call: nothing to retry.
			if previous := c.NextRetry; !previous.IsZero() {
				c.NextRetry = time.Time{}
				return store.PutCharge(tx, org, c, previous)
			}
			return nil
		}
		wrote = true
		return s.record(tx, org, inv, c, pay, now)
	})
	if err != nil {
		return nil, nil, err
	}
	if wrote {
		s.committed()
	}
	return inv, c, nil
}

// record writes the outcome of a payment attempt of an OPEN or PAST_DUE
// invoice: PAID, VOID (a purchase that was not paid) or PAST_DUE with its
// next retry; a failure also goes to the audit feed.
func (s *Charges) record(tx kv.Tx, org string, inv *billingv1.Invoice, c *store.Charge, pay payment, now time.Time) error {
	wasPastDue := inv.GetStatus() == billingv1.Invoice_PAST_DUE
	previous := c.NextRetry
	c.Attempts++
	c.NextRetry = time.Time{}
	switch {
	case pay.approved:
		inv.Status, inv.PaidTime, c.Reference, c.Decline = billingv1.Invoice_PAID, timestamppb.New(now), pay.reference, ""
		if wasPastDue {
			if err := s.paymentEvent(tx, commercev1.PaymentEvent_INVOICE_PAID, c, now); err != nil {
				return err
			}
		}
	case c.OnFailure == int32(billingv1.ChargeRequest_VOID_AND_FAIL):
		inv.Status, c.Decline = billingv1.Invoice_VOID, pay.decline
	default:
		inv.Status, c.Decline = billingv1.Invoice_PAST_DUE, pay.decline
		c.NextRetry = accounts.NextRetry(inv.GetIssueTime().AsTime(), now)
		if c.NextRetry.IsZero() {
			if err := s.paymentEvent(tx, commercev1.PaymentEvent_INVOICE_UNPAID, c, now); err != nil {
				return err
			}
		}
	}
	if !pay.approved {
		meta := map[string]string{"invoice": inv.GetName(), "decline_code": pay.decline, "attempt": fmt.Sprint(c.Attempts)}
		e := &commercev1.Event{Name: names.Format(names.Event, org, "bil-"+randomID()), Type: commercev1.Event_PAYMENT_FAILED,
			Actor: c.Actor, Resource: c.Subscription, CreateTime: timestamppb.New(now), Metadata: meta}
		if e.Resource == "" {
			e.Resource = inv.GetName()
		}
		if err := store.AddEvent(tx, e); err != nil {
			return err
		}
	}
	if err := store.PutInvoice(tx, inv); err != nil {
		return err
	}
	return store.PutCharge(tx, org, c, previous)
}

// paymentEvent tells commerce what happened to an invoice of a subscription.
func (s *Charges) paymentEvent(tx kv.Tx, typ commercev1.PaymentEvent_Type, c *store.Charge, now time.Time) error {
	if c.Subscription == "" {
		return nil
	}
	v, err := proto.Marshal(&commercev1.PaymentEvent{Name: "billing-" + randomID(), Type: typ, Invoice: c.Invoice,
		Subscription: c.Subscription, Key: c.Key, CreateTime: timestamppb.New(now)})
	if err != nil {
		return err
	}
	return store.AddPaymentEvent(tx, v)
}

// RunDue charges again every PAST_DUE invoice whose retry is due at now; an
// invoice unpaid for 30 days is reported to commerce and no longer retried.
func (s *Charges) RunDue(ctx context.Context, now time.Time) error {
	for {
		var due []store.Retry
		if err := s.Store.DB.View(func(tx kv.Tx) (err error) {
			due, err = store.DueRetries(tx, now, 100)
			return err
		}); err != nil || len(due) == 0 {
			return err
		}
		for _, d := range due {
			var c *store.Charge
			if err := s.Store.DB.View(func(tx kv.Tx) (err error) {
				c, err = store.GetCharge(tx, d.Org, d.ChargeKey)
				return err
			}); err != nil {
				return err
			}
			if c == nil {
				// A retry without its charge cannot be paid: drop it.
				if err := s.Store.DB.Update(func(tx kv.Tx) error { return store.DropRetry(tx, d.Key) }); err != nil {
					return err
				}
				continue
			}
			if _, _, err := s.settle(ctx, d.Org, c); err != nil {
				return err
			}
		}
	}
}
