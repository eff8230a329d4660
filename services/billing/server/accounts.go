package server

import (
	"context"
	"strconv"

	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/billing/accounts"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/masks"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
)

// Accounts implements BillingAccountService.
type Accounts struct {
	billingv1.UnimplementedBillingAccountServiceServer
	*Deps
}

// CreateBillingAccount creates an account owned by the caller, with its
// default billing profile.
func (s *Accounts) CreateBillingAccount(ctx context.Context, req *billingv1.CreateBillingAccountRequest) (*billingv1.BillingAccount, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), accounts.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.MemberOf(org) {
		if caller.Sees(org) {
			return nil, errs.Denied("billing accounts are created by users of the organization, who own them")
		}
		return nil, errs.NotFound(req.GetParent())
	}
	a, err := accounts.NewAccount(req.GetBillingAccount())
	if err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	u, err := s.Directory.User(ctx, org, caller.Subject)
	if err != nil {
		return nil, err
	}
	if u.GetUserType() != licensingv1.User_MEMBER {
		return nil, errs.New(errs.GuestUser, "guests cannot create billing accounts")
	}
	o, err := s.Directory.Organization(ctx, org)
	if err != nil {
		return nil, err
	}
	a.Owner = caller.UserName()
	a.CurrencyCode = accounts.Currency(a.GetSoldTo().GetCountryCode(), o.GetCloud())
	now := s.Clock.Now()
	resp := &billingv1.BillingAccount{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("CreateBillingAccount", principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		if err := store.InsertAccount(tx, org, "ba-"+randomID(), caller.Subject, a, o.GetCloud(), now); err != nil {
			return err
		}
		proto.Merge(resp, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// GetBillingAccount reads an account: its owner, and the readers.
func (s *Accounts) GetBillingAccount(ctx context.Context, req *billingv1.GetBillingAccountRequest) (*billingv1.BillingAccount, error) {
	var org, acct string
	err := names.ParseInto("name", req.GetName(), accounts.AccountPattern, &org, &acct)
	if err != nil {
		return nil, err
	}
	var out *billingv1.BillingAccount
	err = s.Store.DB.View(func(tx kv.Tx) (err error) {
		out, _, err = account(tx, auth.FromContext(ctx), org, acct, req.GetName())
		return err
	})
	return out, err
}

// ListBillingAccounts lists every account for the readers, one's own for
// everyone else.
func (s *Accounts) ListBillingAccounts(ctx context.Context, req *billingv1.ListBillingAccountsRequest) (*billingv1.ListBillingAccountsResponse, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), accounts.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	all := caller.IsInternal() || caller.HasRole(accounts.Readers...)
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListBillingAccounts", org, caller.Subject, strconv.FormatBool(all))
	if err != nil {
		return nil, err
	}
	resp := &billingv1.ListBillingAccountsResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		var next []byte
		var err error
		if all {
			resp.BillingAccounts, next, err = store.ListAccounts(tx, org, pg.After, pg.Size)
		} else {
			resp.BillingAccounts, next, err = store.ListOwnAccounts(tx, org, caller.Subject, pg.After, pg.Size)
		}
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// GetBillingProfile reads a profile of an account the caller may see.
func (s *Accounts) GetBillingProfile(ctx context.Context, req *billingv1.GetBillingProfileRequest) (*billingv1.BillingProfile, error) {
	var org, acct, prof string
	err := names.ParseInto("name", req.GetName(), accounts.ProfilePattern, &org, &acct, &prof)
	if err != nil {
		return nil, err
	}
	var out *billingv1.BillingProfile
	err = s.Store.DB.View(func(tx kv.Tx) error {
		if _, err := details(tx, auth.FromContext(ctx), org, acct, req.GetName()); err != nil {
			return err
		}
		out, err = store.GetProfile(tx, org, acct, prof)
		return err
	})
	return out, err
}

// ListBillingProfiles lists the profiles of an account.
func (s *Accounts) ListBillingProfiles(ctx context.Context, req *billingv1.ListBillingProfilesRequest) (*billingv1.ListBillingProfilesResponse, error) {
	var org, acct string
	err := names.ParseInto("parent", req.GetParent(), accounts.AccountPattern, &org, &acct)
	if err != nil {
		return nil, err
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListBillingProfiles", req.GetParent())
	if err != nil {
		return nil, err
	}
	resp := &billingv1.ListBillingProfilesResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		if _, err := details(tx, auth.FromContext(ctx), org, acct, req.GetParent()); err != nil {
			return err
		}
		var next []byte
		var err error
		resp.BillingProfiles, next, err = store.ListProfiles(tx, org, acct, pg.After, pg.Size)
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// UpdateBillingProfile changes the fields of a profile its update mask names
// (without one, the fields the request populates; a nested path such as
// bill_to.city changes that part only): the payment method is replaced, not
// merged. The owner only.
func (s *Accounts) UpdateBillingProfile(ctx context.Context, req *billingv1.UpdateBillingProfileRequest) (*billingv1.BillingProfile, error) {
	in := req.GetBillingProfile()
	var org, acct, prof string
	err := names.ParseInto("billing_profile.name", in.GetName(), accounts.ProfilePattern, &org, &acct, &prof)
	if err != nil {
		return nil, err
	}
	paths, err := accounts.ProfileMask.Paths(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	now := s.Clock.Now()
	resp := &billingv1.BillingProfile{}
	wrote := false
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("UpdateBillingProfile", principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		a, _, err := account(tx, caller, org, acct, in.GetName())
		if err != nil {
			return err
		}
		if err := accounts.MayChange(caller, a); err != nil {
			return err
		}
		stored, err := store.GetProfile(tx, org, acct, prof)
		if err != nil {
			return err
		}
		exists := func(name string) bool { return store.PaymentToken(tx, name) != "" }
		p, err := accounts.UpdateProfile(stored, masks.Apply(paths, stored, in), masks.Top(paths), a.GetName(), exists)
		if err != nil {
			return err
		}
		if proto.Equal(p, stored) { // nothing to change: nothing written, updateTime kept
			proto.Merge(resp, stored)
			return nil
		}
		if err := store.PutProfile(tx, org, acct, prof, p, now); err != nil {
			return err
		}
		meta := map[string]string{"payment_method": p.GetPaymentMethod(), "backup_payment_method": p.GetBackupPaymentMethod()}
		if p.GetPaymentMethod() != stored.GetPaymentMethod() || p.GetBackupPaymentMethod() != stored.GetBackupPaymentMethod() {
			if err := event(tx, org, commercev1.Event_BILLING_PROFILE_UPDATED, caller, p.GetName(), meta, now); err != nil {
				return err
			}
			wrote = true
		}
		proto.Merge(resp, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wrote {
		s.committed()
	}
	return resp, nil
}
