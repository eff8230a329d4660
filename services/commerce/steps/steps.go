// Package steps carries out the cross-service steps of subscription changes.
// A change is written with the steps it needs (charges in billing, pool
// changes in licensing, the audit event) in one store transaction; the
// engine then sends them in order, each idempotent (a charge key, a pool
// version), and removes them once acknowledged. A step that cannot be sent
// now stays and is resumed later; a declined charge, or a step the callee
// refuses for good, undoes its change.
package steps

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Charger is what the engine calls in billing.
type Charger interface {
	Charge(ctx context.Context, in *billingv1.ChargeRequest, opts ...grpc.CallOption) (*billingv1.Invoice, error)
}

// Pools is what the engine calls in licensing.
type Pools interface {
	CreatePool(ctx context.Context, in *licensingv1.CreatePoolRequest, opts ...grpc.CallOption) (*licensingv1.Pool, error)
	ResizePool(ctx context.Context, in *licensingv1.ResizePoolRequest, opts ...grpc.CallOption) (*licensingv1.Pool, error)
	SetPoolState(ctx context.Context, in *licensingv1.SetPoolStateRequest, opts ...grpc.CallOption) (*licensingv1.Pool, error)
	DeletePool(ctx context.Context, in *licensingv1.DeletePoolRequest, opts ...grpc.CallOption) (*licensingv1.Pool, error)
	TransferAssignments(ctx context.Context, in *licensingv1.TransferAssignmentsRequest, opts ...grpc.CallOption) (*licensingv1.TransferAssignmentsResponse, error)
}

// Resource name patterns the steps use.
const (
	SubscriptionPattern = names.Subscription
	LicensePattern      = names.License
	UserPattern         = names.User
	ProductPattern      = names.Product
)

// MaxRounds bounds the send-and-commit rounds of one Drive.
const MaxRounds = 32

// Engine drives the pending steps of a commerce store's subscriptions.
type Engine struct {
	Store   *store.Store
	Clock   clock.Clock
	Charges Charger
	Pools   Pools

	busy  driving
	drive sync.Mutex // one DrivePending at a time per process
}

// PoolName is the name of a subscription's license pool: the subscription's id.
func PoolName(org, id string) string { return names.Format(LicensePattern, org, id) }

func subName(org, id string) string { return names.Format(SubscriptionPattern, org, id) }

// UserID is the id of a user name, "" for anything else.
func UserID(name string) string {
	var org, id string
	names.Scan(name, UserPattern, &org, &id)
	return id
}

// result is what a sent step brought back.
type result struct {
	invoice  *billingv1.Invoice
	declined string // the decline code of a refused charge
}

// send makes one step's call.
func (e *Engine) send(ctx context.Context, org, id string, m *store.Meta, st store.Step) (result, error) {
	name, pool := subName(org, id), PoolName(org, id)
	var err error
	switch st.Kind {
	case store.StepCharge:
		return e.charge(ctx, name, m, st)
	case store.StepCreatePool:
		_, err = e.Pools.CreatePool(ctx, &licensingv1.CreatePoolRequest{SubscriptionVersion: st.Version, Pool: &licensingv1.Pool{
			Subscription: name, Product: st.Product, Purchaser: st.Purchaser, Channel: licensingv1.Pool_Channel(st.Channel),
			TotalLicenses: st.Total, State: licensingv1.License_State(st.State)}})
	case store.StepResizePool:
		_, err = e.Pools.ResizePool(ctx, &licensingv1.ResizePoolRequest{Name: pool, TotalLicenses: st.Total, SubscriptionVersion: st.Version})
	case store.StepPoolState:
		_, err = e.Pools.SetPoolState(ctx, &licensingv1.SetPoolStateRequest{Name: pool, State: licensingv1.License_State(st.State), SubscriptionVersion: st.Version})
	case store.StepDeletePool:
		_, err = e.Pools.DeletePool(ctx, &licensingv1.DeletePoolRequest{Name: pool, SubscriptionVersion: st.Version})
	case store.StepTransfer:
		_, err = e.Pools.TransferAssignments(ctx, &licensingv1.TransferAssignmentsRequest{Source: pool, SourceVersion: st.Version, Target: st.Target, Actor: st.Actor})
	case store.StepEvent:
		// Written locally when the steps before it are removed.
	default:
		err = fmt.Errorf("unknown step kind %q", st.Kind)
	}
	return result{}, err
}

// charge sends a charge step; a decline is a result, not an error.
func (e *Engine) charge(ctx context.Context, name string, m *store.Meta, st store.Step) (result, error) {
	req := &billingv1.ChargeRequest{BillingProfile: st.Profile, Key: st.Key, CurrencyCode: m.Currency,
		OnFailure: billingv1.ChargeRequest_VOID_AND_FAIL, Subscription: name, Actor: st.Actor}
	if st.PastDue {
		req.OnFailure = billingv1.ChargeRequest_PAST_DUE
	}
	for _, l := range st.Lines {
		req.LineItems = append(req.LineItems, &billingv1.LineItem{Type: billingv1.LineItem_Type(l.Type), Description: l.Description,
			Subscription: name, Quantity: l.Quantity, PeriodStart: timestamppb.New(l.Start), PeriodEnd: timestamppb.New(l.End), AmountMinor: l.Amount})
		if len(l.Descriptions) > 0 {
			req.LineDescriptions = append(req.LineDescriptions, &billingv1.LocalizedText{Text: l.Descriptions})
		}
	}
	inv, err := e.Charges.Charge(ctx, req)
	if errs.ReasonOf(err) == errs.PaymentDeclined.Name {
		code := errs.MetadataOf(err, "decline_code")
		if code == "" {
			code = "declined"
		}
		return result{declined: code}, nil
	}
	return result{invoice: inv}, err
}

// same tells whether two steps are one: what a driver sent is still what
// the store has first.
func same(a, b store.Step) bool {
	return a.Kind == b.Kind && a.Key == b.Key && a.Version == b.Version && a.Order == b.Order
}

// ErrDeclined is the answer to a change whose charge was declined. A
// profile that had no payment method to charge (billing's decline code
// no_payment_method: it lost its card after the purchase was checked) is
// PAYMENT_METHOD_REQUIRED, not a decline.
func ErrDeclined(code, profile string) error {
	if code == "no_payment_method" {
		return ErrNoPaymentMethod(profile).With("decline_code", code)
	}
	return errs.New(errs.PaymentDeclined, "the payment was declined; nothing changed").With("decline_code", code)
}

// ErrNoPaymentMethod refuses a charge to a billing profile without a payment
// method, naming the profile.
func ErrNoPaymentMethod(profile string) *errs.Error {
	return errs.New(errs.PaymentMethodRequired, "the billing profile %s has no payment method: add one to it (PATCH its paymentMethod) first", profile).
		With("field", "billing_profile").With("billing_profile", profile)
}

// Load reads a subscription and its meta.
func (e *Engine) Load(org, id string) (*commercev1.Subscription, *store.Meta, error) {
	var sub *commercev1.Subscription
	var m *store.Meta
	err := e.Store.DB.View(func(tx kv.Tx) (err error) {
		sub, m, err = store.GetSubscription(tx, org, id)
		return err
	})
	return sub, m, err
}

// Drive sends the pending steps of a subscription in order until none is
// left, one fails (it stays pending) or a charge is declined (the change is
// undone and PAYMENT_DECLINED answered).
func (e *Engine) Drive(ctx context.Context, org, id string) error {
	_, _, err := e.DriveFrom(ctx, org, id, nil, nil)
	return err
}

// DriveFrom is Drive starting from sub and m, the subscription as the
// caller's commit wrote it (nil: read it), and answering it as the last
// commit left it. A change that is undone (declined, or refused for good)
// answers why, once the steps that put licensing back as it was are sent.
func (e *Engine) DriveFrom(ctx context.Context, org, id string, sub *commercev1.Subscription, m *store.Meta) (*commercev1.Subscription, *store.Meta, error) {
	e.busy.add(org, id)
	defer e.busy.done(org, id)
	var failure error // why the change was undone
	fail := func(err error) (*commercev1.Subscription, *store.Meta, error) {
		if failure != nil {
			return nil, nil, failure
		}
		return nil, nil, err
	}
	for range MaxRounds {
		if sub == nil {
			var err error
			if sub, m, err = e.Load(org, id); err != nil {
				return fail(err)
			}
		}
		if m.Declined != "" {
			return nil, nil, ErrDeclined(m.Declined, sub.GetBillingProfile())
		}
		if len(m.Pending) == 0 {
			if failure != nil {
				return nil, nil, failure
			}
			return sub, m, nil
		}
		r := e.sendRun(ctx, org, id, m)
		next, nextMeta := sub, m // nothing sent and an error: nothing to commit
		if len(r.sent) > 0 || r.err == nil {
			var err error
			if next, nextMeta, err = e.commitRun(org, id, r); err != nil {
				return fail(err)
			}
		}
		if r.err != nil {
			if failure == nil && errs.Permanent(r.err) && next != nil && nextMeta.Undo != nil && !nextMeta.Hidden && len(nextMeta.Pending) > 0 {
				// The change cannot go through (a pool that became too small,
				// say): put the subscription back as it was.
				undone, undoneMeta, err := e.undo(org, id, nextMeta.Pending[0])
				if err != nil {
					return fail(err)
				}
				if undone != nil {
					failure, sub, m = r.err, undone, undoneMeta
					continue
				}
			}
			return fail(r.err)
		}
		if r.declined != "" {
			declined := ErrDeclined(r.declined, r.declinedProfile)
			if next == nil || nextMeta.Hidden {
				return nil, nil, declined
			}
			failure = declined // once licensing is as it was
		}
		sub, m = next, nextMeta // nil when another driver moved it: read again
	}
	return fail(errs.New(errs.Aborted, "too many steps; try again"))
}

// run is one round's sending: the remote steps sent and what each brought
// back, and the error that stopped it.
type run struct {
	sent    []store.Step
	results []result
	err     error
	// Set by the commit: the decline it applied.
	declined, declinedProfile string
}

// sendRun sends the remote steps that come next, one after another, until a
// local step, an error or a decline: what follows a decline must not be
// sent. They are all removed in one commit; each is idempotent, so a crash
// before that commit only sends them again.
func (e *Engine) sendRun(ctx context.Context, org, id string, m *store.Meta) *run {
	r := &run{}
	for _, st := range m.Pending {
		if !st.Kind.Remote() {
			break
		}
		res, err := e.send(ctx, org, id, m, st)
		if err != nil {
			r.err = err
			break
		}
		r.sent, r.results = append(r.sent, st), append(r.results, res)
		if res.declined != "" {
			break
		}
	}
	return r
}

// commitRun removes what a round sent from the store, records what came
// back (an order's invoice), applies a decline, and writes the local steps
// that follow; it answers the subscription as it wrote it, nil when
// another driver had got there first.
func (e *Engine) commitRun(org, id string, r *run) (*commercev1.Subscription, *store.Meta, error) {
	var next *commercev1.Subscription
	var nextMeta *store.Meta
	err := kv.Commit(e.Store.DB, func(tx kv.Tx) error {
		r.declined, r.declinedProfile, next, nextMeta = "", "", nil, nil
		sub, m, err := store.GetSubscription(tx, org, id)
		if err != nil || len(m.Pending) < len(r.sent) {
			return err
		}
		for i, st := range r.sent {
			if !same(m.Pending[i], st) {
				return nil // another driver got there first
			}
		}
		// What this commit writes is what the next round starts from.
		defer func() { next, nextMeta = sub, m }()
		for i, st := range r.sent {
			res := r.results[i]
			if res.declined != "" {
				r.declined, r.declinedProfile = res.declined, st.Profile
				sub, err = applyDecline(tx, org, id, sub, m, res.declined)
				return err
			}
			m.Pending = m.Pending[1:]
			if res.invoice != nil && st.Order != 0 {
				amount := &commercev1.Money{CurrencyCode: res.invoice.GetCurrencyCode(), AmountMinor: res.invoice.GetTotalMinor()}
				if err := store.SetOrderInvoice(tx, org, id, st.Order, res.invoice.GetName(), amount); err != nil {
					return err
				}
			}
		}
		if r.err == nil {
			// Local steps that follow go in the same commit.
			for len(m.Pending) > 0 && !m.Pending[0].Kind.Remote() {
				if err := e.writeEvent(tx, org, sub, m.Pending[0]); err != nil {
					return err
				}
				m.Pending = m.Pending[1:]
			}
			if len(m.Pending) == 0 {
				m.Undo, m.Hidden = nil, false
			}
		}
		return store.PutSubscription(tx, org, id, UserID(sub.GetPurchaser()), sub, m)
	})
	return next, nextMeta, err
}

// applyDecline undoes a change whose charge was declined: a purchase or a
// trial that never started stays hidden as a declined record (its trial
// free to take again); any other change puts the subscription back as it
// was, and answers it as it wrote it.
func applyDecline(tx kv.Tx, org, id string, sub *commercev1.Subscription, m *store.Meta, code string) (*commercev1.Subscription, error) {
	m.Pending = nil
	if m.Hidden {
		m.Declined = code
		if sub.GetIsTrial() {
			var product string
			names.Scan(sub.GetProduct(), ProductPattern, &product)
			if err := store.ReleaseTrial(tx, org, product); err != nil {
				return nil, err
			}
		}
		sub.NextLifecycleTime = nil
		return sub, store.PutSubscription(tx, org, id, UserID(sub.GetPurchaser()), sub, m)
	}
	if m.Undo != nil {
		prev := &commercev1.Subscription{}
		if err := proto.Unmarshal(m.Undo, prev); err != nil {
			return nil, err
		}
		sub = prev
	}
	restore(m, sub)
	return sub, store.PutSubscription(tx, org, id, UserID(sub.GetPurchaser()), sub, m)
}

// poolStates is the pool state each subscription state implies.
var poolStates = map[commercev1.Subscription_State]licensingv1.License_State{
	commercev1.Subscription_ACTIVE:   licensingv1.License_ENABLED,
	commercev1.Subscription_EXPIRED:  licensingv1.License_WARNING,
	commercev1.Subscription_DISABLED: licensingv1.License_SUSPENDED,
}

// restore replaces an undone change's steps with the pool calls that bring
// licensing back to prev, the subscription as it is put back: a step the
// change sent before the one that failed may have reached licensing (a
// reduction's resize goes before its credit). Each is a no-op when the
// pool is as prev has it, and carries a version above every one sent.
func restore(m *store.Meta, prev *commercev1.Subscription) {
	m.Undo = nil
	if prev.GetState() == commercev1.Subscription_DELETED {
		m.Pending = nil // its pool is locked out for good: nothing to put back
		return
	}
	m.Version++
	m.Pending = []store.Step{{Kind: store.StepResizePool, Total: prev.GetQuantity(), Version: m.Version}}
	if st, ok := poolStates[prev.GetState()]; ok {
		m.Version++
		m.Pending = append(m.Pending, store.Step{Kind: store.StepPoolState, State: int32(st), Version: m.Version})
	}
}

// undo puts a subscription back as it was before a change whose step st
// the callee refused for good, if st is still its first pending step, and
// answers it as it wrote it (nil when it was not).
func (e *Engine) undo(org, id string, st store.Step) (*commercev1.Subscription, *store.Meta, error) {
	var out *commercev1.Subscription
	var outMeta *store.Meta
	err := kv.Commit(e.Store.DB, func(tx kv.Tx) error {
		out, outMeta = nil, nil
		sub, m, err := store.GetSubscription(tx, org, id)
		if err != nil || len(m.Pending) == 0 || !same(m.Pending[0], st) || m.Undo == nil {
			return err
		}
		prev := &commercev1.Subscription{}
		if err := proto.Unmarshal(m.Undo, prev); err != nil {
			return err
		}
		restore(m, prev)
		if err := store.PutSubscription(tx, org, id, UserID(sub.GetPurchaser()), prev, m); err != nil {
			return err
		}
		out, outMeta = prev, m
		return nil
	})
	return out, outMeta, err
}

// writeEvent writes the audit event a completed change announces.
func (e *Engine) writeEvent(tx kv.Tx, org string, sub *commercev1.Subscription, st store.Step) error {
	name, err := store.NewEventName(tx, org)
	if err != nil {
		return err
	}
	meta := map[string]string{"product": sub.GetProduct(), "subscription": sub.GetName()}
	for k, v := range st.Meta {
		meta[k] = v
	}
	if sub.GetProductDisplayName() != "" {
		meta["product_display_name"] = sub.GetProductDisplayName()
	}
	_, err = store.InsertEvent(tx, &commercev1.Event{Name: name, Type: commercev1.Event_Type(st.EventType), Actor: st.Actor,
		ActorDisplayName: st.ActorName, Resource: sub.GetName(), CreateTime: timestamppb.New(e.Clock.Now()), Metadata: meta})
	return err
}

// PendingGauge registers the gauge of subscriptions with steps left; call
// the function it returns to remove it.
func (e *Engine) PendingGauge() func() {
	return metrics.AddGauge(metrics.Gauge{Desc: metrics.PendingSteps, Labels: []string{"commerce"}, Read: func() (float64, bool) {
		n := 0
		err := e.Store.DB.View(func(tx kv.Tx) error {
			n = store.CountPendingSteps(tx)
			return nil
		})
		return float64(n), err == nil
	}})
}

// DrivePending resumes every subscription with steps left, up to 1,000 of
// them. skipBusy leaves alone those a call of this process is driving now,
// which are most of them under load: it would only send their steps a
// second time. It answers the first error other than a decline.
func (e *Engine) DrivePending(ctx context.Context, skipBusy bool) error {
	e.drive.Lock()
	defer e.drive.Unlock()
	var pending [][2]string
	if err := e.Store.DB.View(func(tx kv.Tx) (err error) {
		pending, err = store.WithPendingSteps(tx, 1000)
		return err
	}); err != nil {
		return err
	}
	var firstErr error
	for _, p := range pending {
		if skipBusy && e.busy.has(p[0], p[1]) {
			continue
		}
		if err := e.Drive(ctx, p[0], p[1]); err != nil && errs.ReasonOf(err) != errs.PaymentDeclined.Name && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// driving counts the calls driving each subscription's steps now.
type driving struct {
	mu sync.Mutex
	n  map[[2]string]int
}

func (d *driving) add(org, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[[2]string]int{}
	}
	d.n[[2]string{org, id}]++
}

func (d *driving) done(org, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := [2]string{org, id}
	if d.n[k]--; d.n[k] <= 0 {
		delete(d.n, k)
	}
}

func (d *driving) has(org, id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[[2]string{org, id}] > 0
}
