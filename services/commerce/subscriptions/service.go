// Package subscriptions runs the subscriptions of the commerce service: each
// change is checked, then written with the cross-service steps it needs
// (charges in billing, pool changes in licensing, the audit event) in one
// store transaction, and the steps package sends them.
package subscriptions

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"log/slog"
	"sync"
	"time"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/steps"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Resource name patterns.
const (
	OrganizationPattern = names.Organization
	SubscriptionPattern = names.Subscription
	UserPattern         = names.User
	ProfilePattern      = names.BillingProfile
	ProductPattern      = names.Product
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

	// Steps drives the cross-service steps of changes; it calls Charges
	// and Pools.
	Steps *steps.Engine

	mu     sync.Mutex
	orgs   map[string]*licensingv1.Organization
	users  sync.Map // user name → *licensingv1.User
	payers payers
}

// b32 keeps the order of the bytes it encodes: the hex alphabet, lower case.
var b32 = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID names a new subscription: a sequence of the store, then random
// bytes. Ids that follow each other keep the keys of a commit's new
// subscriptions (and of their orders, pools, charges) on the same few bbolt
// pages, where random ids would rewrite a page per subscription per index.
func newID(tx kv.Tx, prefix string) (string, error) {
	seq, err := store.NextSubscriptionSeq(tx)
	if err != nil {
		return "", err
	}
	b := make([]byte, 10)
	binary.BigEndian.PutUint64(b, seq<<16) // 6 bytes of sequence
	rand.Read(b[6:])
	return prefix + "-" + b32.EncodeToString(b), nil
}

func subName(org, id string) string { return names.Format(SubscriptionPattern, org, id) }

func poolName(org, id string) string { return steps.PoolName(org, id) }

func userID(name string) string { return steps.UserID(name) }

// load reads a subscription.
func (s *Service) load(org, id string) (*commercev1.Subscription, *store.Meta, error) {
	return s.Steps.Load(org, id)
}

// Drive sends the pending steps of a subscription (see steps.Engine.Drive).
func (s *Service) Drive(ctx context.Context, org, id string) error {
	return s.Steps.Drive(ctx, org, id)
}

// DrivePending resumes every subscription with steps left, for the clock.
func (s *Service) DrivePending(ctx context.Context) error { return s.Steps.DrivePending(ctx, false) }

// organization reads an organization from the directory; clouds never change.
func (s *Service) organization(ctx context.Context, org string) (*licensingv1.Organization, error) {
	s.mu.Lock()
	o, ok := s.orgs[org]
	s.mu.Unlock()
	if ok {
		return o, nil
	}
	o, err := s.Directory.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: names.Format(names.Organization, org)})
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

// Run resumes pending steps and acts on payment events: at once (steps left
// by a crash are resumed at start-up), then every interval, backing off up
// to 30 s while a service it calls stays unreachable.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	defer s.Steps.PendingGauge()()
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := s.Steps.DrivePending(ctx, true)
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
