package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/licensing/directory"
	"github.com/selfserve/selfserve/services/licensing/seats"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// Pools implements the internal PoolService through which commerce drives
// the pool of each subscription. Every change carries the subscription's
// version and applies only when it is newer than the pool's.
type Pools struct {
	licensingv1.UnimplementedPoolServiceServer
	Store     *store.Store
	Clock     clock.Clock
	Committed func()
}

func internalOnly(ctx context.Context) error {
	if !auth.FromContext(ctx).IsInternal() {
		return errs.Denied("pools are driven by the commerce service only")
	}
	return nil
}

func version(v int64) error {
	if v < 1 {
		return errs.Field("subscription_version", "subscription_version must be at least 1")
	}
	return nil
}

// update runs fn on the named pool in one transaction unless the call is
// stale, and answers the pool as it then is.
func (s *Pools) update(ctx context.Context, name string, v int64, fn func(tx kv.Tx, org, sub string, p *licensingv1.Pool) (events bool, err error)) (*licensingv1.Pool, error) {
	if err := internalOnly(ctx); err != nil {
		return nil, err
	}
	var org, id string
	err := names.ParseInto("name", name, seats.PoolPattern, &org, &id)
	if err != nil {
		return nil, err
	}
	if err := version(v); err != nil {
		return nil, err
	}
	out := &licensingv1.Pool{}
	wrote := false
	err = kv.Commit(s.Store.DB, func(tx kv.Tx) error {
		out.Reset()
		wrote = false
		p, err := store.GetPool(tx, org, id)
		if err != nil {
			return err
		}
		if !seats.Stale(p, v) {
			if wrote, err = fn(tx, org, id, p); err != nil {
				return err
			}
			p.SubscriptionVersion = v
			if err := store.PutPool(tx, org, id, p, s.Clock.Now()); err != nil {
				return err
			}
		}
		proto.Merge(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wrote && s.Committed != nil {
		s.Committed()
	}
	return out, nil
}

// CreatePool creates the pool of a subscription; a pool that exists is
// updated to the request when its version is newer, else answered as is.
func (s *Pools) CreatePool(ctx context.Context, req *licensingv1.CreatePoolRequest) (*licensingv1.Pool, error) {
	if err := internalOnly(ctx); err != nil {
		return nil, err
	}
	in := req.GetPool()
	var org, subID, buyerOrg, buyer string
	if err := names.ParseInto("pool.subscription", in.GetSubscription(), seats.SubscriptionPattern, &org, &subID); err != nil {
		return nil, err
	}
	if _, err := names.Parse("pool.product", in.GetProduct(), seats.ProductPattern); err != nil {
		return nil, err
	}
	if err := names.ParseInto("pool.purchaser", in.GetPurchaser(), directory.UserPattern, &buyerOrg, &buyer); err != nil {
		return nil, err
	}
	if buyerOrg != org {
		return nil, seats.NotInOrganization(in.GetPurchaser())
	}
	if in.GetChannel() != licensingv1.Pool_SELF_SERVICE && in.GetChannel() != licensingv1.Pool_ADMIN {
		return nil, errs.Field("pool.channel", "channel must be SELF_SERVICE or ADMIN")
	}
	if err := seats.Total(in.GetTotalLicenses()); err != nil {
		return nil, err
	}
	state := in.GetState()
	switch state {
	case licensingv1.License_STATE_UNSPECIFIED:
		state = licensingv1.License_ENABLED
	case licensingv1.License_ENABLED, licensingv1.License_WARNING, licensingv1.License_SUSPENDED:
	default:
		return nil, errs.Field("pool.state", "a new pool is ENABLED, WARNING or SUSPENDED")
	}
	if err := version(req.GetSubscriptionVersion()); err != nil {
		return nil, err
	}
	out := &licensingv1.Pool{}
	err := kv.Commit(s.Store.DB, func(tx kv.Tx) error {
		out.Reset()
		if _, err := store.GetUser(tx, org, buyer); err != nil {
			return seats.NotInOrganization(in.GetPurchaser())
		}
		p, err := store.GetPool(tx, org, subID)
		switch {
		case err == nil && seats.Stale(p, req.GetSubscriptionVersion()):
			proto.Merge(out, p)
			return nil
		case err == nil:
			if err := seats.Resize(p, in.GetTotalLicenses()); err != nil {
				return err
			}
		case errs.ReasonOf(err) == errs.ResourceNotFound.Name:
			p = &licensingv1.Pool{
				Name:         names.Format(seats.PoolPattern, org, subID),
				Subscription: in.GetSubscription(),
				Product:      in.GetProduct(),
				Purchaser:    in.GetPurchaser(),
				Channel:      in.GetChannel(),
			}
		default:
			return err
		}
		p.TotalLicenses = in.GetTotalLicenses()
		p.State = state
		p.SubscriptionVersion = req.GetSubscriptionVersion()
		if err := store.PutPool(tx, org, subID, p, s.Clock.Now()); err != nil {
			return err
		}
		proto.Merge(out, p)
		return nil
	})
	return out, err
}

// GetPool reads a pool with its internal fields.
func (s *Pools) GetPool(ctx context.Context, req *licensingv1.GetPoolRequest) (*licensingv1.Pool, error) {
	if err := internalOnly(ctx); err != nil {
		return nil, err
	}
	var org, pool string
	err := names.ParseInto("name", req.GetName(), seats.PoolPattern, &org, &pool)
	if err != nil {
		return nil, err
	}
	var p *licensingv1.Pool
	err = s.Store.DB.View(func(tx kv.Tx) (err error) {
		p, err = store.GetPool(tx, org, pool)
		return err
	})
	return p, err
}

// ResizePool sets a pool's total, never below its assigned count.
func (s *Pools) ResizePool(ctx context.Context, req *licensingv1.ResizePoolRequest) (*licensingv1.Pool, error) {
	return s.update(ctx, req.GetName(), req.GetSubscriptionVersion(), func(_ kv.Tx, _, _ string, p *licensingv1.Pool) (bool, error) {
		if p.GetDeleted() {
			return false, errs.New(errs.SubscriptionNotActive, "the subscription is deleted")
		}
		if err := seats.Resize(p, req.GetTotalLicenses()); err != nil {
			return false, err
		}
		p.TotalLicenses = req.GetTotalLicenses()
		return false, nil
	})
}

// SetPoolState follows the subscription's lifecycle: ENABLED, WARNING or
// SUSPENDED. A deleted pool stays LOCKED_OUT.
func (s *Pools) SetPoolState(ctx context.Context, req *licensingv1.SetPoolStateRequest) (*licensingv1.Pool, error) {
	switch req.GetState() {
	case licensingv1.License_ENABLED, licensingv1.License_WARNING, licensingv1.License_SUSPENDED:
	default:
		return nil, errs.Field("state", "state must be ENABLED, WARNING or SUSPENDED; DeletePool locks a pool out")
	}
	return s.update(ctx, req.GetName(), req.GetSubscriptionVersion(), func(_ kv.Tx, _, _ string, p *licensingv1.Pool) (bool, error) {
		if !p.GetDeleted() {
			p.State = req.GetState()
		}
		return false, nil
	})
}

// DeletePool locks a pool out and removes its assignments.
func (s *Pools) DeletePool(ctx context.Context, req *licensingv1.DeletePoolRequest) (*licensingv1.Pool, error) {
	return s.update(ctx, req.GetName(), req.GetSubscriptionVersion(), func(tx kv.Tx, org, sub string, p *licensingv1.Pool) (bool, error) {
		return deletePool(tx, org, sub, p, "", s.Clock)
	})
}

// deletePool removes every assignment of a pool and locks it out, with an
// audit event for the users who lost their license.
func deletePool(tx kv.Tx, org, sub string, p *licensingv1.Pool, actor string, clk clock.Clock) (bool, error) {
	users, err := store.AssignedUsers(tx, org, sub)
	if err != nil {
		return false, err
	}
	removed, err := store.Unassign(tx, org, sub, p, users, clk.Now())
	if err != nil {
		return false, err
	}
	p.State = licensingv1.License_LOCKED_OUT
	p.Deleted = true
	if len(removed) == 0 {
		return false, nil
	}
	return true, store.AddEvent(tx, licenseEvent(tx, org, commercev1.Event_LICENSES_UNASSIGNED, actor, p, removed, clk.Now()))
}

// TransferAssignments moves every user of a pool to another, all or
// nothing, and deletes the source: the take-over of a self-service
// subscription.
func (s *Pools) TransferAssignments(ctx context.Context, req *licensingv1.TransferAssignmentsRequest) (*licensingv1.TransferAssignmentsResponse, error) {
	if err := internalOnly(ctx); err != nil {
		return nil, err
	}
	var org, srcID, dstOrg, dstID string
	if err := names.ParseInto("source", req.GetSource(), seats.PoolPattern, &org, &srcID); err != nil {
		return nil, err
	}
	if err := names.ParseInto("target", req.GetTarget(), seats.PoolPattern, &dstOrg, &dstID); err != nil {
		return nil, err
	}
	if org != dstOrg || srcID == dstID {
		return nil, errs.Field("target", "target must be another pool of the same organization")
	}
	if err := version(req.GetSourceVersion()); err != nil {
		return nil, err
	}
	if req.GetActor() != "" {
		if _, err := names.Parse("actor", req.GetActor(), directory.UserPattern); err != nil {
			return nil, err
		}
	}
	now := s.Clock.Now()
	resp := &licensingv1.TransferAssignmentsResponse{}
	wrote := false
	err := kv.Commit(s.Store.DB, func(tx kv.Tx) error {
		resp.Reset()
		source, err := store.GetPool(tx, org, srcID)
		if err != nil {
			return err
		}
		target, err := store.GetPool(tx, org, dstID)
		if err != nil {
			return err
		}
		resp.Source, resp.Target = source, target
		if seats.Stale(source, req.GetSourceVersion()) {
			wrote = false
			return nil
		}
		wrote, resp.MovedUsers, err = s.transfer(tx, org, srcID, dstID, source, target, req, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if wrote && s.Committed != nil {
		s.Committed()
	}
	return resp, nil
}

// transfer moves, inside tx, every user assigned in the source pool to the
// target pool (those the target already has stay as they are), all or
// nothing, and deletes the source. It answers whether it wrote anything and
// the users of the source.
func (s *Pools) transfer(tx kv.Tx, org, srcID, dstID string, source, target *licensingv1.Pool, req *licensingv1.TransferAssignmentsRequest, now time.Time) (bool, []string, error) {
	users, err := store.AssignedUsers(tx, org, srcID)
	if err != nil {
		return false, nil, err
	}
	var moving []*licensingv1.User
	var movingIDs []string
	for _, id := range users {
		if store.Assigned(tx, org, dstID, id) {
			continue
		}
		u, err := store.GetUser(tx, org, id)
		if err != nil {
			return false, nil, err
		}
		moving, movingIDs = append(moving, u), append(movingIDs, id)
	}
	if err := seats.Assignable(target); err != nil {
		return false, nil, err
	}
	if err := seats.Room(target, len(moving)); err != nil {
		return false, nil, err
	}
	if len(moving) > 0 {
		if err := store.Assign(tx, org, dstID, target, moving, now); err != nil {
			return false, nil, err
		}
		if err := store.AddEvent(tx, licenseEvent(tx, org, commercev1.Event_LICENSES_ASSIGNED, req.GetActor(), target, movingIDs, now)); err != nil {
			return false, nil, err
		}
	}
	wrote, err := deletePool(tx, org, srcID, source, req.GetActor(), s.Clock)
	if err != nil {
		return false, nil, err
	}
	source.SubscriptionVersion = req.GetSourceVersion()
	if err := store.PutPool(tx, org, srcID, source, now); err != nil {
		return false, nil, err
	}
	moved := make([]string, 0, len(users))
	for _, id := range users {
		moved = append(moved, names.Format(directory.UserPattern, org, id))
	}
	return wrote || len(moving) > 0, moved, nil
}

// MaxBatchPools bounds a BatchGetPools call.
const MaxBatchPools = 1000

// BatchGetPools reads many pools of one organization in one read
// transaction: a page of subscriptions needs one call, not one per row.
func (s *Pools) BatchGetPools(ctx context.Context, req *licensingv1.BatchGetPoolsRequest) (*licensingv1.BatchGetPoolsResponse, error) {
	if err := internalOnly(ctx); err != nil {
		return nil, err
	}
	if n := len(req.GetNames()); n == 0 || n > MaxBatchPools {
		return nil, errs.Field("names", "names must hold 1 to %d pools", MaxBatchPools)
	}
	type id struct{ org, sub string }
	ids := make([]id, 0, len(req.GetNames()))
	for i, n := range req.GetNames() {
		var p id
		if !names.Scan(n, seats.PoolPattern, &p.org, &p.sub) {
			// The field's name is made only for the error: a page asks for 50.
			if err := names.ParseInto(fmt.Sprintf("names[%d]", i), n, seats.PoolPattern, &p.org, &p.sub); err != nil {
				return nil, err
			}
		}
		if len(ids) > 0 && p.org != ids[0].org {
			return nil, errs.Field("names", "every pool must be of the same organization")
		}
		ids = append(ids, p)
	}
	resp := &licensingv1.BatchGetPoolsResponse{}
	err := s.Store.DB.View(func(tx kv.Tx) error {
		keys := make([][2]string, len(ids))
		for n, i := range ids {
			keys[n] = [2]string{i.org, i.sub}
		}
		store.PrefetchPools(tx, keys)
		for _, i := range ids {
			p, err := store.GetPool(tx, i.org, i.sub)
			if errs.ReasonOf(err) == errs.ResourceNotFound.Name {
				continue
			}
			if err != nil {
				return err
			}
			resp.Pools = append(resp.Pools, p)
			if req.GetWithAssignments() && p.GetAssignedLicenses() > 0 {
				as, _, err := store.ListPoolAssignments(tx, i.org, i.sub, p, nil, seats.MaxTotal)
				if err != nil {
					return err
				}
				resp.Assignments = append(resp.Assignments, as...)
			}
		}
		return nil
	})
	return resp, err
}
