// Package subscriptions runs the subscriptions of the commerce service: each
// change is written with the cross-service steps it needs (charges in
// billing, pool changes in licensing, the audit event) in one bbolt
// transaction, then the steps are sent in order, each idempotent (a charge
// key, a pool version), and removed once acknowledged. A step that cannot be
// sent now stays and is resumed later; a declined charge undoes its change.
package subscriptions

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// Resource name patterns.
const (
	OrganizationPattern = "organizations/{organization}"
	SubscriptionPattern = "organizations/{organization}/subscriptions/{subscription}"
	UserPattern         = "organizations/{organization}/users/{user}"
	ProfilePattern      = "organizations/{organization}/billingAccounts/{billing_account}/billingProfiles/{billing_profile}"
	ProductPattern      = "products/{product}"
)

// Service runs subscriptions.
type Service struct {
	Store     *store.Store
	Clock     clock.Clock
	Charges   billingv1.ChargeServiceClient
	Pools     licensingv1.PoolServiceClient
	Licenses  licensingv1.LicensingServiceClient
	Directory licensingv1.DirectoryServiceClient
	Log       *slog.Logger

	mu     sync.Mutex
	orgs   map[string]*licensingv1.Organization
	users  sync.Map // user name → *licensingv1.User
	payers payers
	busy   driving
	drive  sync.Mutex // one driver of pending steps at a time per process
}

// b32 keeps the order of the bytes it encodes: the hex alphabet, lower case.
var b32 = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID names a new subscription: a sequence of the store, then random
// bytes. Ids that follow each other keep the keys of a commit's new
// subscriptions (and of their orders, pools, charges) on the same few bbolt
// pages, where random ids would rewrite a page per subscription per index.
func newID(tx kv.Tx, prefix string) (string, error) {
	seq, err := tx.Bucket(store.Subscriptions).NextSequence()
	if err != nil {
		return "", err
	}
	b := make([]byte, 10)
	binary.BigEndian.PutUint64(b, seq<<16) // 6 bytes of sequence
	rand.Read(b[6:])
	return prefix + "-" + b32.EncodeToString(b), nil
}

func subName(org, id string) string { return names.Format(SubscriptionPattern, org, id) }

func poolName(org, id string) string { return "organizations/" + org + "/licenses/" + id }

func userID(name string) string {
	if ids, ok := names.Match(name, UserPattern); ok {
		return ids[1]
	}
	return ""
}

// organization reads an organization from the directory; clouds never change.
func (s *Service) organization(ctx context.Context, org string) (*licensingv1.Organization, error) {
	s.mu.Lock()
	o, ok := s.orgs[org]
	s.mu.Unlock()
	if ok {
		return o, nil
	}
	o, err := s.Directory.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/" + org})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.orgs == nil {
		s.orgs = map[string]*licensingv1.Organization{}
	}
	s.orgs[org] = o
	s.mu.Unlock()
	return o, nil
}

// user reads a user from the directory. Users are never changed once
// created (the directory has no update), so a user read once is kept.
func (s *Service) user(ctx context.Context, name string) (*licensingv1.User, error) {
	if u, ok := s.users.Load(name); ok {
		return u.(*licensingv1.User), nil
	}
	u, err := s.Directory.GetUser(ctx, &licensingv1.GetUserRequest{Name: name})
	if err != nil {
		return nil, err
	}
	s.users.Store(name, u)
	return u, nil
}

// UserDisplayName is the display name of a user of the directory; "" when
// the directory does not answer.
func (s *Service) UserDisplayName(ctx context.Context, name string) string {
	u, err := s.user(ctx, name)
	if err != nil {
		return ""
	}
	return u.GetDisplayName()
}

// payers remembers billing profiles as billing described them (see payer).
type payers struct {
	mu sync.RWMutex
	m  map[string]*billingv1.Payer
}

// maxPayers bounds the billing profiles remembered.
const maxPayers = 10000

func (p *payers) get(profile string) (*billingv1.Payer, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	v, ok := p.m[profile]
	return v, ok
}

func (p *payers) put(profile string, v *billingv1.Payer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= maxPayers {
		p.m = make(map[string]*billingv1.Payer) // start over rather than grow without bound
	}
	p.m[profile] = v
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

// load reads a subscription.
func (s *Service) load(org, id string) (*commercev1.Subscription, *store.Meta, error) {
	var sub *commercev1.Subscription
	var m *store.Meta
	err := s.Store.DB.View(func(tx kv.Tx) (err error) {
		sub, m, err = store.GetSubscription(tx, org, id)
		return err
	})
	return sub, m, err
}

// result is what a sent step brought back.
type result struct {
	invoice  *billingv1.Invoice
	declined string // the decline code of a refused charge
}

// permanent tells whether a step's error will not go away by retrying.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound, codes.PermissionDenied, codes.OutOfRange:
		return true
	}
	return false
}

// send makes one step's call.
func (s *Service) send(ctx context.Context, org, id string, sub *commercev1.Subscription, m *store.Meta, st store.Step) (result, error) {
	name := subName(org, id)
	switch st.Kind {
	case "charge":
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
		inv, err := s.Charges.Charge(ctx, req)
		if errs.ReasonOf(err) == errs.PaymentDeclined.Name {
			code := "declined"
			if st, ok := status.FromError(err); ok {
				for _, d := range st.Details() {
					if info, ok := d.(interface{ GetMetadata() map[string]string }); ok && info.GetMetadata()["decline_code"] != "" {
						code = info.GetMetadata()["decline_code"]
					}
				}
			}
			return result{declined: code}, nil
		}
		return result{invoice: inv}, err
	case "create_pool":
		_, err := s.Pools.CreatePool(ctx, &licensingv1.CreatePoolRequest{SubscriptionVersion: st.Version, Pool: &licensingv1.Pool{
			Subscription: name, Product: st.Product, Purchaser: st.Purchaser, Channel: licensingv1.Pool_Channel(st.Channel),
			TotalLicenses: st.Total, State: licensingv1.License_State(st.State)}})
		return result{}, err
	case "resize_pool":
		_, err := s.Pools.ResizePool(ctx, &licensingv1.ResizePoolRequest{Name: poolName(org, id), TotalLicenses: st.Total, SubscriptionVersion: st.Version})
		return result{}, err
	case "pool_state":
		_, err := s.Pools.SetPoolState(ctx, &licensingv1.SetPoolStateRequest{Name: poolName(org, id), State: licensingv1.License_State(st.State), SubscriptionVersion: st.Version})
		return result{}, err
	case "delete_pool":
		_, err := s.Pools.DeletePool(ctx, &licensingv1.DeletePoolRequest{Name: poolName(org, id), SubscriptionVersion: st.Version})
		return result{}, err
	case "transfer":
		_, err := s.Pools.TransferAssignments(ctx, &licensingv1.TransferAssignmentsRequest{Source: poolName(org, id), SourceVersion: st.Version, Target: st.Target, Actor: st.Actor})
		return result{}, err
	case "event":
		return result{}, nil // written locally when the step is removed
	}
	return result{}, errors.New("unknown step " + st.Kind)
}

func same(a, b store.Step) bool {
	return a.Kind == b.Kind && a.Key == b.Key && a.Version == b.Version && a.Order == b.Order
}

// errDeclined is the answer to a change whose charge was declined. A
// profile that had no payment method to charge (billing's decline code
// no_payment_method: it lost its card after the purchase was checked) is
// PAYMENT_METHOD_REQUIRED, not a decline.
func errDeclined(code, profile string) error {
	if code == "no_payment_method" {
		return errNoPaymentMethod(profile).With("decline_code", code)
	}
	return errs.New(errs.PaymentDeclined, "the payment was declined; nothing changed").With("decline_code", code)
}

// errNoPaymentMethod refuses a charge to a billing profile without a payment
// method, naming the profile.
func errNoPaymentMethod(profile string) *errs.Error {
	return errs.New(errs.PaymentMethodRequired, "the billing profile %s has no payment method: add one to it (PATCH its paymentMethod) first", profile).
		With("field", "billing_profile").With("billing_profile", profile)
}

// Drive sends the pending steps of a subscription in order until none is
// left, one fails (it stays pending) or a charge is declined (the change is
// undone and PAYMENT_DECLINED answered).
func (s *Service) Drive(ctx context.Context, org, id string) error {
	_, _, err := s.driveFrom(ctx, org, id, nil, nil)
	return err
}

// driveFrom is Drive starting from sub and m, the subscription as the caller's
// commit wrote it (nil: read it), and answering it as the last commit left it.
func (s *Service) driveFrom(ctx context.Context, org, id string, sub *commercev1.Subscription, m *store.Meta) (*commercev1.Subscription, *store.Meta, error) {
	s.busy.add(org, id)
	defer s.busy.done(org, id)
	for range 32 {
		if sub == nil {
			var err error
			if sub, m, err = s.load(org, id); err != nil {
				return nil, nil, err
			}
		}
		if m.Declined != "" {
			return nil, nil, errDeclined(m.Declined, sub.GetBillingProfile())
		}
		if len(m.Pending) == 0 {
			return sub, m, nil
		}
		// Send the remote steps that come next, one after another, and
		// remove them all in one commit: each is idempotent (a charge key, a
		// pool version), so a crash before the commit only sends them again.
		// A decline stops the run: what follows must not be sent.
		var sent []store.Step
		var results []result
		var sendErr error
		for _, st := range m.Pending {
			if st.Kind == "event" {
				break
			}
			res, err := s.send(ctx, org, id, sub, m, st)
			if err != nil {
				sendErr = err
				break
			}
			sent, results = append(sent, st), append(results, res)
			if res.declined != "" {
				break
			}
		}
		if len(sent) == 0 && sendErr != nil {
			if permanent(sendErr) && m.Undo != nil && !m.Hidden {
				// The change cannot go through (a pool that became too small,
				// say): put the subscription back as it was.
				if uerr := s.undo(org, id, m.Pending[0]); uerr != nil {
					return nil, nil, uerr
				}
			}
			return nil, nil, sendErr
		}
		declined, declinedProfile := "", ""
		var next *commercev1.Subscription
		var nextMeta *store.Meta
		err := kv.Commit(s.Store.DB, func(tx kv.Tx) error {
			declined, declinedProfile, next, nextMeta = "", "", nil, nil
			sub, m, err := store.GetSubscription(tx, org, id)
			if err != nil || len(m.Pending) < len(sent) {
				return err
			}
			for i, st := range sent {
				if !same(m.Pending[i], st) {
					return nil // another driver got there first
				}
			}
			// What this commit writes is what the next round starts from.
			defer func() { next, nextMeta = sub, m }()
			for i, st := range sent {
				res := results[i]
				if res.declined != "" {
					declined, declinedProfile = res.declined, st.Profile
					return s.applyDecline(tx, org, id, sub, m, res.declined)
				}
				m.Pending = m.Pending[1:]
				if res.invoice != nil && st.Order != 0 {
					amount := &commercev1.Money{CurrencyCode: res.invoice.GetCurrencyCode(), AmountMinor: res.invoice.GetTotalMinor()}
					if err := store.SetOrderInvoice(tx, org, id, st.Order, res.invoice.GetName(), amount); err != nil {
						return err
					}
				}
			}
			if sendErr != nil {
				return store.PutSubscription(tx, org, id, userID(sub.GetPurchaser()), sub, m)
			}
			// Local steps that follow go in the same commit.
			for len(m.Pending) > 0 && m.Pending[0].Kind == "event" {
				if err := s.writeEvent(tx, org, sub, m.Pending[0]); err != nil {
					return err
				}
				m.Pending = m.Pending[1:]
			}
			if len(m.Pending) == 0 {
				m.Undo, m.Hidden = nil, false
			}
			return store.PutSubscription(tx, org, id, userID(sub.GetPurchaser()), sub, m)
		})
		if err == nil && sendErr != nil {
			if permanent(sendErr) && next != nil && nextMeta.Undo != nil && !nextMeta.Hidden && len(nextMeta.Pending) > 0 {
				if uerr := s.undo(org, id, nextMeta.Pending[0]); uerr != nil {
					return nil, nil, uerr
				}
			}
			return nil, nil, sendErr
		}
		if err != nil {
			return nil, nil, err
		}
		if declined != "" {
			return nil, nil, errDeclined(declined, declinedProfile)
		}
		sub, m = next, nextMeta // nil when another driver moved it: read again
	}
	return nil, nil, errs.New(errs.Aborted, "too many steps; try again")
}

// applyDecline undoes a change whose charge was declined: a purchase or a
// trial that never started stays hidden as a declined record; any other
// change puts the subscription back as it was.
func (s *Service) applyDecline(tx kv.Tx, org, id string, sub *commercev1.Subscription, m *store.Meta, code string) error {
	m.Pending = nil
	if m.Hidden {
		m.Declined = code
		if sub.GetIsTrial() {
			if err := store.ReleaseTrial(tx, org, userIDProduct(sub)); err != nil {
				return err
			}
		}
		sub.NextLifecycleTime = nil
		return store.PutSubscription(tx, org, id, userID(sub.GetPurchaser()), sub, m)
	}
	if m.Undo != nil {
		prev := &commercev1.Subscription{}
		if err := proto.Unmarshal(m.Undo, prev); err != nil {
			return err
		}
		sub = prev
	}
	m.Undo = nil
	return store.PutSubscription(tx, org, id, userID(sub.GetPurchaser()), sub, m)
}

func userIDProduct(sub *commercev1.Subscription) string {
	return strings.TrimPrefix(sub.GetProduct(), "products/")
}

// undo puts a subscription back as it was before a change that failed.
func (s *Service) undo(org, id string, st store.Step) error {
	return s.Store.DB.Update(func(tx kv.Tx) error {
		sub, m, err := store.GetSubscription(tx, org, id)
		if err != nil || len(m.Pending) == 0 || !same(m.Pending[0], st) || m.Undo == nil {
			return err
		}
		prev := &commercev1.Subscription{}
		if err := proto.Unmarshal(m.Undo, prev); err != nil {
			return err
		}
		m.Pending, m.Undo = nil, nil
		m.Version++ // later calls must outrank the one that failed
		return store.PutSubscription(tx, org, id, userID(sub.GetPurchaser()), prev, m)
	})
}

// writeEvent writes the audit event a completed change announces.
func (s *Service) writeEvent(tx kv.Tx, org string, sub *commercev1.Subscription, st store.Step) error {
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
		ActorDisplayName: st.ActorName, Resource: sub.GetName(), CreateTime: timestamppb.New(s.Clock.Now()), Metadata: meta})
	return err
}

// pendingGauge counts the subscriptions with steps left, for metrics.
func (s *Service) pendingGauge() (float64, bool) {
	n := 0
	err := s.Store.DB.View(func(tx kv.Tx) error {
		n = kv.Count(tx.Bucket(store.PendingSteps))
		return nil
	})
	return float64(n), err == nil
}

// DrivePending resumes every subscription with steps left, for the clock.
func (s *Service) DrivePending(ctx context.Context) error { return s.drivePending(ctx, false) }

// drivePending resumes every subscription with steps left; the background
// job leaves alone (skipBusy) those that a call is driving now, which are
// most of them under load: it would only send their steps a second time.
func (s *Service) drivePending(ctx context.Context, skipBusy bool) error {
	s.drive.Lock()
	defer s.drive.Unlock()
	var pending [][2]string
	if err := s.Store.DB.View(func(tx kv.Tx) (err error) {
		pending, err = store.WithPendingSteps(tx, 1000)
		return err
	}); err != nil {
		return err
	}
	var firstErr error
	for _, p := range pending {
		if skipBusy && s.busy.has(p[0], p[1]) {
			continue
		}
		if err := s.Drive(ctx, p[0], p[1]); err != nil && errs.ReasonOf(err) != errs.PaymentDeclined.Name && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Run resumes pending steps and acts on payment events: at once (steps left
// by a crash are resumed at start-up), then every interval, backing off up
// to 30 s while a service it calls stays unreachable.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	defer metrics.AddGauge(metrics.Gauge{Desc: metrics.PendingSteps, Labels: []string{"commerce"}, Read: s.pendingGauge})()
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := s.drivePending(ctx, true)
		if perr := s.ProcessPayments(ctx); err == nil {
			err = perr
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			wait = min(max(2*wait, interval), 30*time.Second)
			s.Log.Warn("pending subscription steps wait", "retry_in", wait, "err", err)
		default:
			wait = interval
		}
	}
}
