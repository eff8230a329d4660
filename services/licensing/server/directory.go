// Package server is the licensing service's gRPC face: it checks requests and
// who may make them, calls the directory rules and the store, and maps errors.
package server

import (
	"context"
	"sync"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
	"github.com/selfserve/selfserve/services/licensing/directory"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// Token lifetimes.
const (
	DefaultTokenTTL = 24 * time.Hour
	MinTokenTTL     = time.Minute
	MaxTokenTTL     = 30 * 24 * time.Hour
)

// Directory implements DirectoryService.
type Directory struct {
	licensingv1.UnimplementedDirectoryServiceServer
	Store  *store.Store
	Clock  clock.Clock
	Signer *auth.Signer

	orgs sync.Map // id → *Organization, read once; never mutated after
}

// principal scopes request ids to their caller.
func principal(id *auth.Identity) string { return id.Org + "/" + id.Subject }

// CreateOrganization creates an organization. OPERATOR only.
func (d *Directory) CreateOrganization(ctx context.Context, req *licensingv1.CreateOrganizationRequest) (*licensingv1.Organization, error) {
	caller := auth.FromContext(ctx)
	if !caller.IsOperator() {
		return nil, errs.Denied("only an operator may create organizations")
	}
	org, err := directory.NormalizeOrganization(req.GetOrganization())
	if err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	id, err := directory.CheckID("organization_id", req.GetOrganizationId(), "o")
	if err != nil {
		return nil, err
	}
	now := d.Clock.Now()
	resp := &licensingv1.Organization{}
	_, err = idem.Update(ctx, d.Store.DB, idem.NewKey("CreateOrganization", principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		if err := store.InsertOrganization(tx, id, org, now); err != nil {
			return err
		}
		proto.Merge(resp, org)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// GetOrganization returns an organization to its users and operators.
func (d *Directory) GetOrganization(ctx context.Context, req *licensingv1.GetOrganizationRequest) (*licensingv1.Organization, error) {
	var orgID string
	err := names.ParseInto("name", req.GetName(), directory.OrganizationPattern, &orgID)
	if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).Sees(orgID) {
		return nil, errs.NotFound(req.GetName())
	}
	// Organizations never change once created: a read is served from memory
	// after the first.
	if org, ok := d.orgs.Load(orgID); ok {
		return org.(*licensingv1.Organization), nil
	}
	var org *licensingv1.Organization
	err = d.Store.DB.View(func(tx kv.Tx) (err error) {
		org, err = store.GetOrganization(tx, orgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	d.orgs.Store(orgID, org)
	return org, nil
}

// ListOrganizations lists every organization. OPERATOR only.
func (d *Directory) ListOrganizations(ctx context.Context, req *licensingv1.ListOrganizationsRequest) (*licensingv1.ListOrganizationsResponse, error) {
	if !auth.FromContext(ctx).IsOperator() {
		return nil, errs.Denied("only an operator may list organizations")
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListOrganizations")
	if err != nil {
		return nil, err
	}
	resp := &licensingv1.ListOrganizationsResponse{}
	err = d.Store.DB.View(func(tx kv.Tx) error {
		orgs, next, err := store.ListOrganizations(tx, pg.After, pg.Size)
		resp.Organizations = orgs
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// CreateUser adds a user to an organization. OPERATOR and the organization's
// GLOBAL_ADMIN.
func (d *Directory) CreateUser(ctx context.Context, req *licensingv1.CreateUserRequest) (*licensingv1.User, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), directory.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	if !caller.IsOperator() && !caller.HasRole(auth.GlobalAdmin) {
		return nil, errs.Denied("only a GLOBAL_ADMIN or an operator may add users")
	}
	u, err := directory.NormalizeUser(req.GetUser())
	if err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	id, err := directory.CheckID("user_id", req.GetUserId(), "u")
	if err != nil {
		return nil, err
	}
	now := d.Clock.Now()
	resp := &licensingv1.User{}
	_, err = idem.Update(ctx, d.Store.DB, idem.NewKey("CreateUser", principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		if _, err := store.GetOrganization(tx, org); err != nil {
			return err
		}
		if err := store.InsertUser(tx, org, id, u, now); err != nil {
			return err
		}
		proto.Merge(resp, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// GetUser returns a user to the organization's users and operators.
func (d *Directory) GetUser(ctx context.Context, req *licensingv1.GetUserRequest) (*licensingv1.User, error) {
	var org, user string
	err := names.ParseInto("name", req.GetName(), directory.UserPattern, &org, &user)
	if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).Sees(org) {
		return nil, errs.NotFound(req.GetName())
	}
	var u *licensingv1.User
	err = d.Store.DB.View(func(tx kv.Tx) (err error) {
		u, err = store.GetUser(tx, org, user)
		return err
	})
	return u, err
}

// ListUsers lists an organization's users, or those a type-ahead query finds.
func (d *Directory) ListUsers(ctx context.Context, req *licensingv1.ListUsersRequest) (*licensingv1.ListUsersResponse, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), directory.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	query, err := directory.Query(req.GetQuery())
	if err != nil {
		return nil, err
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListUsers", org, query)
	if err != nil {
		return nil, err
	}
	resp := &licensingv1.ListUsersResponse{}
	err = d.Store.DB.View(func(tx kv.Tx) error {
		if _, err := store.GetOrganization(tx, org); err != nil {
			return err
		}
		var users []*licensingv1.User
		var next []byte
		var err error
		if query == "" {
			users, next, err = store.ListUsers(tx, org, pg.After, pg.Size)
		} else {
			users, next, err = store.SearchUsers(tx, org, query, pg.After, pg.Size)
		}
		resp.Users = users
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// IssueToken signs a bearer token for a user with the roles stored now.
// OPERATOR only. Expiry is real time, never the business clock.
func (d *Directory) IssueToken(ctx context.Context, req *licensingv1.IssueTokenRequest) (*licensingv1.IssueTokenResponse, error) {
	var org, user string
	err := names.ParseInto("name", req.GetName(), directory.UserPattern, &org, &user)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetName())
	}
	if !caller.IsOperator() {
		return nil, errs.Denied("only an operator may issue tokens")
	}
	ttl := DefaultTokenTTL
	if req.GetTtl() != nil {
		if err := req.GetTtl().CheckValid(); err != nil {
			return nil, errs.Field("ttl", "ttl is not a valid duration")
		}
		ttl = req.GetTtl().AsDuration()
		if ttl < MinTokenTTL || ttl > MaxTokenTTL {
			return nil, errs.Field("ttl", "ttl must be from 1 minute to 30 days")
		}
	}
	var u *licensingv1.User
	if err := d.Store.DB.View(func(tx kv.Tx) (err error) {
		u, err = store.GetUser(tx, org, user)
		return err
	}); err != nil {
		return nil, err
	}
	now := time.Now()
	exp := now.Add(ttl).Truncate(time.Second)
	tok, err := d.Signer.Sign(auth.Claims{Subject: user, Org: org, Roles: directory.RoleNames(u), IssuedAt: now.Unix(), Expires: exp.Unix()})
	if err != nil {
		return nil, err
	}
	return &licensingv1.IssueTokenResponse{Token: tok, ExpireTime: timestamppb.New(exp)}, nil
}
