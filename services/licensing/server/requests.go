package server

import (
	"context"
	"strconv"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
	"github.com/selfserve/selfserve/services/licensing/directory"
	"github.com/selfserve/selfserve/services/licensing/requests"
	"github.com/selfserve/selfserve/services/licensing/seats"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// Requests implements LicenseRequestService: members ask for licenses,
// admins approve by assigning from a subscription, or deny.
type Requests struct {
	licensingv1.UnimplementedLicenseRequestServiceServer
	Store     *store.Store
	Clock     clock.Clock
	Committed func()
}

// CreateLicenseRequest files a member's request for themselves or colleagues.
func (s *Requests) CreateLicenseRequest(ctx context.Context, req *licensingv1.CreateLicenseRequestRequest) (*licensingv1.LicenseRequest, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), directory.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.MemberOf(org) {
		if caller.IsOperator() {
			return nil, errs.Denied("license requests are filed by users of the organization")
		}
		return nil, errs.NotFound(req.GetParent())
	}
	r, userIDs, err := requests.New(org, caller.UserName(), req.GetLicenseRequest())
	if err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	resp := &licensingv1.LicenseRequest{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("CreateLicenseRequest", principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		me, err := store.GetUser(tx, org, caller.Subject)
		if err != nil {
			return seats.NotInOrganization(caller.UserName())
		}
		if err := seats.Assignee(me); err != nil {
			return err
		}
		for _, id := range userIDs {
			u, err := store.GetUser(tx, org, id)
			if err != nil {
				return seats.NotInOrganization(names.Format(directory.UserPattern, org, id))
			}
			if err := seats.Assignee(u); err != nil {
				return err
			}
		}
		if err := store.InsertRequest(tx, org, r, now); err != nil {
			return err
		}
		proto.Merge(resp, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ListLicenseRequests lists requests newest first: every one for admins and
// readers, a member's own otherwise.
func (s *Requests) ListLicenseRequests(ctx context.Context, req *licensingv1.ListLicenseRequestsRequest) (*licensingv1.ListLicenseRequestsResponse, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), directory.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	all := caller.IsOperator() || caller.IsAdmin()
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListLicenseRequests", org, caller.Subject, strconv.FormatBool(all))
	if err != nil {
		return nil, err
	}
	resp := &licensingv1.ListLicenseRequestsResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		var next []byte
		var err error
		if all {
			resp.LicenseRequests, next, err = store.ListRequests(tx, org, pg.After, pg.Size)
		} else {
			resp.LicenseRequests, next, err = store.ListOwnRequests(tx, org, caller.Subject, pg.After, pg.Size)
		}
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// visibleRequest reads a request the caller may see; NOT_FOUND otherwise.
func visibleRequest(tx kv.Tx, caller *auth.Identity, name string) (org, id string, r *licensingv1.LicenseRequest, err error) {
	err = names.ParseInto("name", name, requests.Pattern, &org, &id)
	if err != nil {
		return "", "", nil, err
	}
	if !caller.Sees(org) {
		return "", "", nil, errs.NotFound(name)
	}
	if r, err = store.GetRequest(tx, org, id); err != nil {
		return "", "", nil, err
	}
	if !requests.Sees(caller, r) {
		return "", "", nil, errs.NotFound(name)
	}
	return org, id, r, nil
}

// GetLicenseRequest reads one request.
func (s *Requests) GetLicenseRequest(ctx context.Context, req *licensingv1.GetLicenseRequestRequest) (*licensingv1.LicenseRequest, error) {
	var out *licensingv1.LicenseRequest
	err := s.Store.DB.View(func(tx kv.Tx) (err error) {
		_, _, out, err = visibleRequest(tx, auth.FromContext(ctx), req.GetName())
		return err
	})
	return out, err
}

// decide runs fn on a pending request the caller may decide, in one
// transaction with the request id, and answers the decided request.
func (s *Requests) decide(ctx context.Context, method string, req proto.Message, name, requestID string, fn func(tx kv.Tx, org string, r *licensingv1.LicenseRequest, now time.Time) (events bool, err error)) (*licensingv1.LicenseRequest, error) {
	caller := auth.FromContext(ctx)
	rid, err := idem.RequestID(ctx, requestID)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	resp := &licensingv1.LicenseRequest{}
	wrote := false
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey(method, principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		org, id, r, err := visibleRequest(tx, caller, name)
		if err != nil {
			return err
		}
		if err := requests.MayDecide(caller); err != nil {
			return err
		}
		if err := requests.Pending(r); err != nil {
			return err
		}
		if wrote, err = fn(tx, org, r, now); err != nil {
			return err
		}
		r.Decider = caller.UserName()
		r.DecideTime = timestamppb.New(now)
		if err := store.PutRequest(tx, org, id, r); err != nil {
			return err
		}
		proto.Merge(resp, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wrote && s.Committed != nil {
		s.Committed()
	}
	return resp, nil
}

// ApproveLicenseRequest assigns the requested users licenses of a
// subscription of the requested product, all or nothing.
func (s *Requests) ApproveLicenseRequest(ctx context.Context, req *licensingv1.ApproveLicenseRequestRequest) (*licensingv1.LicenseRequest, error) {
	subIDs, err := names.Parse("subscription", req.GetSubscription(), seats.SubscriptionPattern)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	return s.decide(ctx, "ApproveLicenseRequest", req, req.GetName(), req.GetRequestId(), func(tx kv.Tx, org string, r *licensingv1.LicenseRequest, now time.Time) (bool, error) {
		if subIDs[0] != org {
			return false, errs.NotFound(req.GetSubscription())
		}
		_, sub, p, err := visiblePool(tx, caller, names.Format(seats.PoolPattern, org, subIDs[1]))
		if errs.ReasonOf(err) == errs.ResourceNotFound.Name {
			return false, errs.NotFound(req.GetSubscription())
		}
		if err != nil {
			return false, err
		}
		if p.GetProduct() != r.GetProduct() {
			return false, errs.New(errs.ProductMismatch, "%s is a subscription to %s, not %s", req.GetSubscription(), p.GetProduct(), r.GetProduct())
		}
		if err := seats.MayAssign(caller, p); err != nil {
			return false, err
		}
		userIDs := make([]string, 0, len(r.GetUsers()))
		for _, u := range r.GetUsers() {
			var uorg, uid string
			if names.Scan(u, seats.UserPattern, &uorg, &uid) {
				userIDs = append(userIDs, uid)
			}
		}
		assigned, err := assignUsers(tx, org, sub, p, userIDs, now)
		if err != nil {
			return false, err
		}
		r.State = licensingv1.LicenseRequest_APPROVED
		r.Subscription = req.GetSubscription()
		if len(assigned) == 0 {
			return false, nil
		}
		return true, store.AddEvent(tx, licenseEvent(tx, org, commercev1.Event_LICENSES_ASSIGNED, caller.UserName(), p, assigned, now))
	})
}

// DenyLicenseRequest turns a request down with a message for the requester.
func (s *Requests) DenyLicenseRequest(ctx context.Context, req *licensingv1.DenyLicenseRequestRequest) (*licensingv1.LicenseRequest, error) {
	msg, err := requests.Message("message", req.GetMessage())
	if err != nil {
		return nil, err
	}
	return s.decide(ctx, "DenyLicenseRequest", req, req.GetName(), req.GetRequestId(), func(_ kv.Tx, _ string, r *licensingv1.LicenseRequest, _ time.Time) (bool, error) {
		r.State = licensingv1.LicenseRequest_DENIED
		r.DecisionMessage = msg
		return false, nil
	})
}

// PurgeRequests deletes the requests older than the retention, in bounded
// transactions; it is a due job of the licensing service.
func PurgeRequests(st *store.Store, now time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := st.DB.Update(func(tx kv.Tx) (err error) {
			n, err = store.PurgeRequests(tx, requests.Cutoff(now), 1000)
			return err
		})
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}
