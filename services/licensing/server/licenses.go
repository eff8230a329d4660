package server

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
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
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
	"github.com/selfserve/selfserve/services/licensing/directory"
	"github.com/selfserve/selfserve/services/licensing/seats"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// Licensing implements LicensingService: the pools as their purchasers and
// admins see them, and assigning their licenses.
type Licensing struct {
	licensingv1.UnimplementedLicensingServiceServer
	Store *store.Store
	Clock clock.Clock
	// Committed is called after a change wrote audit events (wakes the outbox).
	Committed func()
}

// visiblePool reads a pool the caller may see; NOT_FOUND otherwise, the same
// as for a pool that does not exist.
func visiblePool(tx kv.Tx, caller *auth.Identity, name string) (org, sub string, p *licensingv1.Pool, err error) {
	err = names.ParseInto("name", name, seats.PoolPattern, &org, &sub)
	if err != nil {
		return "", "", nil, err
	}
	if !caller.Sees(org) && !caller.IsService() {
		return "", "", nil, errs.NotFound(name)
	}
	p, err = store.GetPool(tx, org, sub)
	if err != nil {
		return "", "", nil, err
	}
	if !seats.Sees(caller, org, p) {
		return "", "", nil, errs.NotFound(name)
	}
	return org, sub, p, nil
}

// ListLicenses lists pools: every pool for admins and readers, a purchaser's
// own for everyone else.
func (l *Licensing) ListLicenses(ctx context.Context, req *licensingv1.ListLicensesRequest) (*licensingv1.ListLicensesResponse, error) {
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
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListLicenses", org, caller.Subject, strconv.FormatBool(all))
	if err != nil {
		return nil, err
	}
	resp := &licensingv1.ListLicensesResponse{}
	err = l.Store.DB.View(func(tx kv.Tx) error {
		var pools []*licensingv1.Pool
		var next []byte
		var err error
		if all {
			pools, next, err = store.ListPools(tx, org, pg.After, pg.Size, func(*licensingv1.Pool) bool { return true })
		} else {
			pools, next, err = store.ListOwnPools(tx, org, caller.Subject, pg.After, pg.Size)
		}
		for _, p := range pools {
			resp.Licenses = append(resp.Licenses, seats.View(p))
		}
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// GetLicense reads one pool.
func (l *Licensing) GetLicense(ctx context.Context, req *licensingv1.GetLicenseRequest) (*licensingv1.License, error) {
	var out *licensingv1.License
	err := l.Store.DB.View(func(tx kv.Tx) error {
		_, _, p, err := visiblePool(tx, auth.FromContext(ctx), req.GetName())
		if err == nil {
			out = seats.View(p)
		}
		return err
	})
	return out, err
}

// ListAssignments lists the users holding a pool's licenses.
func (l *Licensing) ListAssignments(ctx context.Context, req *licensingv1.ListAssignmentsRequest) (*licensingv1.ListAssignmentsResponse, error) {
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListAssignments", req.GetParent())
	if err != nil {
		return nil, err
	}
	resp := &licensingv1.ListAssignmentsResponse{}
	err = l.Store.DB.View(func(tx kv.Tx) error {
		org, sub, p, err := visiblePool(tx, auth.FromContext(ctx), req.GetParent())
		if err != nil {
			return err
		}
		var next []byte
		resp.Assignments, next, err = store.ListPoolAssignments(tx, org, sub, p, pg.After, pg.Size)
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// ListUserLicenses lists the licenses a user holds: the user themselves,
// admins and readers.
func (l *Licensing) ListUserLicenses(ctx context.Context, req *licensingv1.ListUserLicensesRequest) (*licensingv1.ListUserLicensesResponse, error) {
	var org, user string
	err := names.ParseInto("parent", req.GetParent(), directory.UserPattern, &org, &user)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	if !caller.IsOperator() && !caller.IsAdmin() && caller.Subject != user {
		return nil, errs.Denied("only the user and admins may see a user's licenses")
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListUserLicenses", org, user)
	if err != nil {
		return nil, err
	}
	resp := &licensingv1.ListUserLicensesResponse{}
	err = l.Store.DB.View(func(tx kv.Tx) error {
		if _, err := store.GetUser(tx, org, user); err != nil {
			return err
		}
		var next []byte
		var err error
		resp.Assignments, next, err = store.ListUserAssignments(tx, org, user, pg.After, pg.Size)
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// AssignLicenses gives 1 to 20 MEMBER users of the organization a license,
// all or nothing; users who hold one already are left as they are.
func (l *Licensing) AssignLicenses(ctx context.Context, req *licensingv1.AssignLicensesRequest) (*licensingv1.License, error) {
	return l.change(ctx, "AssignLicenses", req, req.GetName(), req.GetUsers(), req.GetRequestId(), true)
}

// UnassignLicenses takes the licenses of 1 to 20 users back; users without
// one are left as they are.
func (l *Licensing) UnassignLicenses(ctx context.Context, req *licensingv1.UnassignLicensesRequest) (*licensingv1.License, error) {
	return l.change(ctx, "UnassignLicenses", req, req.GetName(), req.GetUsers(), req.GetRequestId(), false)
}

func (l *Licensing) change(ctx context.Context, method string, req proto.Message, name string, users []string, requestID string, assign bool) (*licensingv1.License, error) {
	var org, poolID string
	err := names.ParseInto("name", name, seats.PoolPattern, &org, &poolID)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(name)
	}
	// The count is checked before anything is read: 21 users change nothing.
	userIDs, err := seats.Users(org, users)
	if err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, requestID)
	if err != nil {
		return nil, err
	}
	now := l.Clock.Now()
	resp := &licensingv1.License{}
	wrote := false
	moved := 0 // users whose license the committed transaction changed
	var actorOrg, actorID string
	if a, ok := names.Match(caller.UserName(), directory.UserPattern); ok {
		actorOrg, actorID = a[0], a[1]
	}
	_, err = idem.Update(ctx, l.Store.DB, idem.NewKey(method, principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		store.PrefetchChange(tx, org, poolID, userIDs, actorOrg, actorID)
		_, sub, p, err := visiblePool(tx, caller, name)
		if err != nil {
			return err
		}
		if err := seats.MayAssign(caller, p); err != nil {
			return err
		}
		var changed []string
		if assign {
			changed, err = assignUsers(tx, org, sub, p, userIDs, now)
		} else {
			if err = seats.Unassignable(p); err == nil {
				changed, err = store.Unassign(tx, org, sub, p, userIDs, now)
			}
		}
		if err != nil {
			return err
		}
		moved = len(changed)
		if len(changed) > 0 {
			typ := commercev1.Event_LICENSES_UNASSIGNED
			if assign {
				typ = commercev1.Event_LICENSES_ASSIGNED
			}
			if err := store.AddEvent(tx, licenseEvent(tx, org, typ, caller.UserName(), p, changed, now)); err != nil {
				return err
			}
			wrote = true
		}
		proto.Merge(resp, seats.View(p))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wrote && l.Committed != nil {
		l.Committed()
	}
	if wrote {
		op := "unassign"
		if assign {
			op = "assign"
		}
		metrics.Assignments.WithLabelValues(op).Add(float64(moved))
	}
	return resp, nil
}

// assignUsers checks every user and the pool's room, then assigns those who
// hold no license yet. It returns their ids.
func assignUsers(tx kv.Tx, org, sub string, p *licensingv1.Pool, userIDs []string, now time.Time) ([]string, error) {
	if err := seats.Assignable(p); err != nil {
		return nil, err
	}
	var fresh []*licensingv1.User
	var freshIDs []string
	for _, id := range userIDs {
		u, err := store.GetUser(tx, org, id)
		if errs.ReasonOf(err) == errs.ResourceNotFound.Name {
			return nil, seats.NotInOrganization(names.Format(directory.UserPattern, org, id))
		}
		if err != nil {
			return nil, err
		}
		if err := seats.Assignee(u); err != nil {
			return nil, err
		}
		if !store.Assigned(tx, org, sub, id) {
			fresh = append(fresh, u)
			freshIDs = append(freshIDs, id)
		}
	}
	if err := seats.Room(p, len(fresh)); err != nil {
		return nil, err
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	return freshIDs, store.Assign(tx, org, sub, p, fresh, now)
}

// maxEventValue is the longest metadata value the audit feed takes.
const maxEventValue = 1000

// licenseEvent is the audit event of an assignment change by actor (a user
// name; empty for the system).
func licenseEvent(tx kv.Tx, org string, typ commercev1.Event_Type, actor string, p *licensingv1.Pool, userIDs []string, now time.Time) *commercev1.Event {
	// The feed keeps metadata values to 1,000 characters: name as many users
	// as fit; count says how many there were.
	// Their display names go beside them, so that the feed names people
	// alike (an unknown one is "" and shown by id).
	users, displayNames := []string(nil), []string{}
	size, namesSize := 0, 2
	for _, id := range userIDs {
		u := names.Format(directory.UserPattern, org, id)
		d := ""
		if du, err := store.GetUser(tx, org, id); err == nil {
			d = du.GetDisplayName()
		}
		quoted, _ := json.Marshal(d)
		if size+len(u)+1 > maxEventValue || namesSize+len(quoted)+1 > maxEventValue {
			break
		}
		users, displayNames = append(users, u), append(displayNames, d)
		size, namesSize = size+len(u)+1, namesSize+len(quoted)+1
	}
	namesJSON, _ := json.Marshal(displayNames)
	e := &commercev1.Event{
		Name:       names.Format(names.Event, org, directory.NewID("lic")),
		Type:       typ,
		Actor:      actor,
		Resource:   p.GetName(),
		CreateTime: timestamppb.New(now),
		Metadata: map[string]string{
			"users":              strings.Join(users, ","),
			"user_display_names": string(namesJSON),
			"count":              strconv.Itoa(len(userIDs)),
			"subscription":       p.GetSubscription(),
			"product":            p.GetProduct(),
		},
	}
	var actorOrg, actorID string
	if names.Scan(actor, directory.UserPattern, &actorOrg, &actorID) {
		if u, err := store.GetUser(tx, actorOrg, actorID); err == nil {
			e.ActorDisplayName = u.GetDisplayName()
		}
	}
	return e
}
