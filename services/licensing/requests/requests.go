// Package requests holds the rules of license requests: what a member may ask
// for, who decides, and how long a request is kept.
package requests

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/licensing/seats"
)

// Pattern is the resource name of a license request.
const Pattern = names.LicenseRequest

// MaxMessage bounds the requester's and the admin's messages.
const MaxMessage = 1000

// Retention is how long a request is kept: older ones are purged.
const Retention = 12 // months

// ID is the id of the n-th request: ids sort in the order requests were made.
func ID(n uint64) string { return fmt.Sprintf("r%016x", n) }

// Message checks a free-text message.
func Message(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxMessage {
		return "", errs.Field(field, "%s must be text of at most %d characters", field, MaxMessage)
	}
	return s, nil
}

// New checks a member's request in org and returns it cleaned: the users
// (themselves when none are named) as ids, the product and the message.
func New(org, requester string, in *licensingv1.LicenseRequest) (*licensingv1.LicenseRequest, []string, error) {
	if in == nil {
		return nil, nil, errs.Field("license_request", "license_request is required")
	}
	if _, err := names.Parse("license_request.product", in.GetProduct(), seats.ProductPattern); err != nil {
		return nil, nil, err
	}
	users := in.GetUsers()
	if len(users) == 0 {
		users = []string{requester}
	}
	ids, err := seats.Users(org, users)
	if err != nil {
		return nil, nil, err
	}
	msg, err := Message("license_request.message", in.GetMessage())
	if err != nil {
		return nil, nil, err
	}
	out := &licensingv1.LicenseRequest{Product: in.GetProduct(), Message: msg, Requester: requester, State: licensingv1.LicenseRequest_PENDING}
	for _, id := range ids {
		out.Users = append(out.Users, names.Format(seats.UserPattern, org, id))
	}
	return out, ids, nil
}

// Sees tells whether the caller may read a request: its requester, the
// organization's admins and readers, operators.
func Sees(id *auth.Identity, r *licensingv1.LicenseRequest) bool {
	return id.IsOperator() || id.IsAdmin() || id.UserName() == r.GetRequester()
}

// MayDecide checks that the caller may approve or deny requests: the admins
// who assign licenses (GLOBAL_ADMIN, BILLING_ADMIN, LICENSE_ADMIN).
func MayDecide(id *auth.Identity) error {
	if !id.HasRole(auth.GlobalAdmin, auth.BillingAdmin, auth.LicenseAdmin) {
		return errs.Denied("only GLOBAL_ADMIN, BILLING_ADMIN or LICENSE_ADMIN decide license requests")
	}
	return nil
}

// Pending checks that a request is still to be decided.
func Pending(r *licensingv1.LicenseRequest) error {
	if r.GetState() != licensingv1.LicenseRequest_PENDING {
		return errs.New(errs.RequestDecided, "%s is already %s", r.GetName(), r.GetState()).With("state", r.GetState().String())
	}
	return nil
}

// Cutoff is the creation time before which requests are purged at now.
func Cutoff(now time.Time) time.Time { return now.AddDate(0, -Retention, 0) }
