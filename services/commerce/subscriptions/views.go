package subscriptions

import (
	"context"
	"strconv"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
)

// view is a subscription as the caller sees it (see views).
func (s *Service) view(ctx context.Context, caller *auth.Identity, sub *commercev1.Subscription) (*commercev1.Subscription, error) {
	// A copy: the caller may still hold sub (an idempotent answer, a
	// purchase's record).
	out, err := s.views(ctx, caller, []*commercev1.Subscription{proto.Clone(sub).(*commercev1.Subscription)})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// views are subscriptions of one organization as the caller sees them: with
// their pools' assigned counts and, for admins and their purchaser, the users
// holding their licenses. One call to licensing serves a whole page. subs
// are the caller's own (a page just read): they are filled in place.
func (s *Service) views(ctx context.Context, caller *auth.Identity, subs []*commercev1.Subscription) ([]*commercev1.Subscription, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	req := &licensingv1.BatchGetPoolsRequest{WithAssignments: true}
	for _, sub := range subs {
		var org, id string
		names.Scan(sub.GetName(), SubscriptionPattern, &org, &id) // a stored name
		req.Names = append(req.Names, poolName(org, id))
	}
	resp, err := s.Pools.BatchGetPools(ctx, req)
	if err != nil {
		return nil, err
	}
	pools := map[string]*licensingv1.Pool{}
	for _, p := range resp.GetPools() {
		pools[p.GetName()] = p
	}
	users := map[string][]*commercev1.Subscription_AssignedUser{}
	for _, a := range resp.GetAssignments() {
		users[a.GetLicense()] = append(users[a.GetLicense()], &commercev1.Subscription_AssignedUser{User: a.GetUser(), DisplayName: a.GetUserDisplayName()})
	}
	for i, sub := range subs {
		if p, ok := pools[req.Names[i]]; ok {
			sub.AssignedLicenses = p.GetAssignedLicenses()
			if caller.IsAdmin() || caller.UserName() == sub.GetPurchaser() {
				sub.AssignedUsers = users[req.Names[i]]
			}
		}
	}
	return subs, nil
}

// Get reads a subscription the caller may see.
func (s *Service) Get(ctx context.Context, req *commercev1.GetSubscriptionRequest) (*commercev1.Subscription, error) {
	var org, id string
	err := names.ParseInto("name", req.GetName(), SubscriptionPattern, &org, &id)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetName())
	}
	sub, m, err := s.load(org, id)
	if err != nil || m.Hidden || !Sees(caller, sub) {
		return nil, errs.NotFound(req.GetName())
	}
	return s.view(ctx, caller, sub)
}

// List lists subscriptions: admins and readers see all, others their own.
func (s *Service) List(ctx context.Context, req *commercev1.ListSubscriptionsRequest) (*commercev1.ListSubscriptionsResponse, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	all := caller.IsInternal() || caller.IsAdmin()
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListSubscriptions", org, caller.Subject, strconv.FormatBool(all), req.GetChannel().String())
	if err != nil {
		return nil, err
	}
	keep := func(sub *commercev1.Subscription) bool {
		return req.GetChannel() == commercev1.Subscription_CHANNEL_UNSPECIFIED || sub.GetChannel() == req.GetChannel()
	}
	var subs []*commercev1.Subscription
	var next []byte
	err = s.Store.DB.View(func(tx kv.Tx) (err error) {
		if all {
			subs, next, err = store.ListSubscriptions(tx, org, pg.After, pg.Size, keep)
		} else {
			subs, next, err = store.ListOwnSubscriptions(tx, org, caller.Subject, pg.After, pg.Size, keep)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	resp := &commercev1.ListSubscriptionsResponse{}
	if resp.Subscriptions, err = s.views(ctx, caller, subs); err != nil {
		return nil, err
	}
	resp.NextPageToken = pg.Next(next)
	return resp, nil
}

// ListOrders lists a subscription's order history.
func (s *Service) ListOrders(ctx context.Context, req *commercev1.ListOrdersRequest) (*commercev1.ListOrdersResponse, error) {
	if _, err := s.Get(ctx, &commercev1.GetSubscriptionRequest{Name: req.GetParent()}); err != nil {
		return nil, err
	}
	var org, id string
	names.Scan(req.GetParent(), SubscriptionPattern, &org, &id) // checked above
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListOrders", req.GetParent())
	if err != nil {
		return nil, err
	}
	resp := &commercev1.ListOrdersResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		var next []byte
		var err error
		resp.Orders, next, err = store.ListOrders(tx, org, id, pg.After, pg.Size)
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}
