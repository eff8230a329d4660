package auth

import (
	"context"
	"slices"

	"github.com/selfserve/selfserve/services/kit/names"
)

// Identity is a verified caller.
type Identity struct {
	Claims
	// Token is the raw bearer token, passed on to callees.
	Token string
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the verified caller, or nil.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(ctxKey{}).(*Identity)
	return id
}

// IsOperator tells whether the caller runs the platform.
func (id *Identity) IsOperator() bool { return id != nil && slices.Contains(id.Roles, Operator) }

// HasRole tells whether the caller holds any of roles.
func (id *Identity) HasRole(roles ...string) bool {
	if id == nil {
		return false
	}
	for _, r := range roles {
		if slices.Contains(id.Roles, r) {
			return true
		}
	}
	return false
}

// MemberOf tells whether the caller is a user of org.
func (id *Identity) MemberOf(org string) bool {
	return id != nil && id.Org != "" && id.Org == org
}

// IsAdmin tells whether the caller holds an admin role that reads every
// self-service resource of their organization.
func (id *Identity) IsAdmin() bool {
	return id.HasRole(GlobalAdmin, BillingAdmin, LicenseAdmin, GlobalReader)
}

// UserName is the caller's resource name, organizations/{org}/users/{user};
// empty for an operator.
func (id *Identity) UserName() string {
	if id == nil || id.Org == "" {
		return ""
	}
	return names.Format(names.User, id.Org, id.Subject)
}

// Sees tells whether the caller may see org at all: its users, operators and
// the selfserve services. Everyone else is answered NOT_FOUND, never a hint
// that org exists.
func (id *Identity) Sees(org string) bool { return id.IsInternal() || id.MemberOf(org) }

// IsService tells whether the caller is another selfserve service.
func (id *Identity) IsService() bool { return id != nil && slices.Contains(id.Roles, Service) }

// IsInternal tells whether the caller may use internal RPCs: a service or an
// operator.
func (id *Identity) IsInternal() bool { return id.IsService() || id.IsOperator() }
