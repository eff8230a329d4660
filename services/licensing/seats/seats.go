// Package seats holds the rules of seat pools (API.md §4 "Assign" and the
// admin rules): how many users one call may name, who may see and change a
// pool, in which states it takes assignments, and whether it has room.
package seats

import (
	"slices"
	"strconv"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/contract"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Limits of API.md §4.
const (
	MaxUsersPerCall = contract.MaxUsersPerCall
	MinTotal        = contract.MinLicenses
	MaxTotal        = contract.MaxLicenses
)

// Resource name patterns.
const (
	PoolPattern         = names.License
	SubscriptionPattern = names.Subscription
	UserPattern         = names.User
	ProductPattern      = names.Product
)

// Users checks the users of an assign or unassign call in org: 1 to 20, each
// a user name; a user of another organization is USER_NOT_IN_ORGANIZATION. It
// returns the user ids, deduplicated, in the order given.
func Users(org string, users []string) ([]string, error) {
	if len(users) == 0 {
		return nil, errs.Field("users", "users must name 1 to %d users", MaxUsersPerCall)
	}
	if len(users) > MaxUsersPerCall {
		return nil, errs.Counted(errs.TooManyUsers, errs.UsersNamed, len(users), MaxUsersPerCall).
			With("max", strconv.Itoa(MaxUsersPerCall)).With("count", strconv.Itoa(len(users)))
	}
	ids := make([]string, 0, len(users))
	for _, u := range users {
		parts, err := names.Parse("users", u, UserPattern)
		if err != nil {
			return nil, err
		}
		if parts[0] != org {
			return nil, NotInOrganization(u)
		}
		if !slices.Contains(ids, parts[1]) {
			ids = append(ids, parts[1])
		}
	}
	return ids, nil
}

// NotInOrganization is the error for a user of another organization, or one
// that does not exist.
func NotInOrganization(user string) error {
	return errs.New(errs.UserNotInOrganization, "%s is not a user of this organization", user).With("user", user)
}

// Assignee checks that a directory user may hold a license: a MEMBER.
func Assignee(u *licensingv1.User) error {
	if u.GetUserType() != licensingv1.User_MEMBER {
		return errs.New(errs.GuestUser, "%s is a guest and cannot be assigned a license", u.GetName()).With("user", u.GetName())
	}
	return nil
}

// Sees tells whether the caller may read a pool: its purchaser, an admin or
// reader of its organization, or an operator.
func Sees(id *auth.Identity, org string, p *licensingv1.Pool) bool {
	if id.IsInternal() {
		return true
	}
	if !id.MemberOf(org) {
		return false
	}
	return id.UserName() == p.GetPurchaser() || id.IsAdmin()
}

// MayAssign tells whether the caller may assign and unassign a pool's
// licenses: its purchaser; for an ADMIN-channel pool also GLOBAL_ADMIN,
// BILLING_ADMIN and LICENSE_ADMIN. Admins only read a self-service pool
// (ADMIN_READ_ONLY) until they take it over. Call it on a pool Sees allows.
func MayAssign(id *auth.Identity, p *licensingv1.Pool) error {
	if id.UserName() != "" && id.UserName() == p.GetPurchaser() {
		return nil
	}
	if p.GetChannel() == licensingv1.Pool_ADMIN && id.HasRole(auth.GlobalAdmin, auth.BillingAdmin, auth.LicenseAdmin) {
		return nil
	}
	if p.GetChannel() == licensingv1.Pool_SELF_SERVICE && id.IsAdmin() {
		return errs.ReadOnlyForAdmins("license", p.GetName())
	}
	return errs.Denied("only the purchaser may assign these licenses")
}

// Assignable checks that a pool takes new assignments: not deleted, not
// SUSPENDED (an expired subscription's WARNING pool still works).
func Assignable(p *licensingv1.Pool) error {
	if p.GetDeleted() || (p.GetState() != licensingv1.License_ENABLED && p.GetState() != licensingv1.License_WARNING) {
		return errs.New(errs.SubscriptionNotActive, "the subscription of %s is %s", p.GetName(), p.GetState()).With("state", p.GetState().String())
	}
	return nil
}

// Unassignable checks that a pool may give licenses back: any pool not deleted.
func Unassignable(p *licensingv1.Pool) error {
	if p.GetDeleted() {
		return errs.New(errs.SubscriptionNotActive, "the subscription of %s is deleted", p.GetName()).With("state", p.GetState().String())
	}
	return nil
}

// Room checks that a pool has a license for each of n new users.
func Room(p *licensingv1.Pool, n int) error {
	available := int(p.GetTotalLicenses() - p.GetAssignedLicenses())
	if n > available {
		return errs.Counted(errs.NotEnoughLicenses, errs.LicensesNeeded, n, available).
			With("available", strconv.Itoa(available)).With("requested", strconv.Itoa(n))
	}
	return nil
}

// Total checks a pool size.
func Total(n int32) error {
	if n < MinTotal || n > MaxTotal {
		return errs.Field("total_licenses", "total_licenses must be from %d to %d", MinTotal, MaxTotal)
	}
	return nil
}

// Resize checks a new total against the assigned count.
func Resize(p *licensingv1.Pool, total int32) error {
	if err := Total(total); err != nil {
		return err
	}
	if total < p.GetAssignedLicenses() {
		return errs.Counted(errs.BelowAssignedLicenses, errs.LicensesAssigned, int(p.GetAssignedLicenses()), int(total)).
			With("assigned", strconv.Itoa(int(p.GetAssignedLicenses())))
	}
	return nil
}

// Stale tells whether a call carrying version must change nothing: the pool
// already applied that version or a newer one.
func Stale(p *licensingv1.Pool, version int64) bool { return version <= p.GetSubscriptionVersion() }

// View is the public License of a pool.
func View(p *licensingv1.Pool) *licensingv1.License {
	return &licensingv1.License{
		Name:              p.GetName(),
		Subscription:      p.GetSubscription(),
		Product:           p.GetProduct(),
		TotalLicenses:     p.GetTotalLicenses(),
		AssignedLicenses:  p.GetAssignedLicenses(),
		AvailableLicenses: p.GetTotalLicenses() - p.GetAssignedLicenses(),
		State:             p.GetState(),
		Purchaser:         p.GetPurchaser(),
	}
}
