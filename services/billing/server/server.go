// Package server is the billing service's gRPC face: it checks requests and
// who may make them, calls the rules (accounts, cards), the processor and the
// store, and maps errors.
package server

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/billing/accounts"
	"github.com/selfserve/selfserve/services/billing/invoicepdf"
	"github.com/selfserve/selfserve/services/billing/processor"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Directory answers what billing needs to know of organizations and users;
// the licensing service is the directory.
type Directory interface {
	Organization(ctx context.Context, org string) (*licensingv1.Organization, error)
	User(ctx context.Context, org, user string) (*licensingv1.User, error)
}

// Deps are what the billing servers share.
type Deps struct {
	Store     *store.Store
	Clock     clock.Clock
	Directory Directory
	Processor processor.Processor
	// Secret keys the fingerprints of requests that carry card data.
	Secret []byte
	// Committed is called after a change wrote outbox messages.
	Committed func()
	// CJKFont sets Chinese invoice PDFs; without one their Chinese
	// characters have no glyphs. It may be set while serving.
	CJKFont atomic.Pointer[invoicepdf.Font]
}

func (d *Deps) committed() {
	if d.Committed != nil {
		d.Committed()
	}
}

// principal scopes request ids to their caller.
func principal(id *auth.Identity) string { return id.Org + "/" + id.Subject }

// account reads an account the caller may see, by a name under it
// (organizations/{org}/billingAccounts/{account}[/...]); NOT_FOUND otherwise.
func account(tx kv.Tx, caller *auth.Identity, org, id, name string) (*billingv1.BillingAccount, licensingv1.Organization_Cloud, error) {
	return accountSeen(tx, caller, org, id, name, accounts.Sees)
}

// accountSeen is account with another rule of who sees it.
func accountSeen(tx kv.Tx, caller *auth.Identity, org, id, name string, sees func(*auth.Identity, *billingv1.BillingAccount) bool) (*billingv1.BillingAccount, licensingv1.Organization_Cloud, error) {
	if !caller.Sees(org) {
		return nil, 0, errs.NotFound(name)
	}
	a, cloud, err := store.GetAccount(tx, org, id)
	if err != nil {
		return nil, 0, errs.NotFound(name)
	}
	if !sees(caller, a) {
		return nil, 0, errs.NotFound(name)
	}
	return a, cloud, nil
}

// details reads an account whose profiles or payment methods the caller
// asks for: its owner's to see.
func details(tx kv.Tx, caller *auth.Identity, org, id, name string) (*billingv1.BillingAccount, error) {
	a, _, err := account(tx, caller, org, id, name)
	if err != nil {
		return nil, err
	}
	return a, accounts.SeesDetails(caller, a)
}

// event is an audit event of a billing change.
func event(tx kv.Tx, org string, typ commercev1.Event_Type, actor *auth.Identity, resource string, meta map[string]string, now time.Time) error {
	e := &commercev1.Event{
		Name:       names.Format(names.Event, org, "bil-"+randomID()),
		Type:       typ,
		Actor:      actor.UserName(),
		Resource:   resource,
		CreateTime: timestamppb.New(now),
		Metadata:   meta,
	}
	return store.AddEvent(tx, e)
}
