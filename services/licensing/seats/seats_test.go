package seats

import (
	"fmt"
	"testing"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
)

func userNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("organizations/acme/users/u%d", i)
	}
	return out
}

func TestUsers(t *testing.T) {
	if ids, err := Users("acme", append(userNames(20), "organizations/acme/users/u3")); err == nil {
		t.Fatalf("21 names accepted: %v", ids)
	}
	ids, err := Users("acme", append(userNames(19), "organizations/acme/users/u3"))
	if err != nil || len(ids) != 19 {
		t.Fatalf("duplicates within 20: %v %v", ids, err)
	}
	for in, want := range map[string]string{
		"organizations/other/users/u1": "USER_NOT_IN_ORGANIZATION",
		"organizations/acme/groups/g1": "INVALID_RESOURCE_NAME",
		"u1":                           "INVALID_RESOURCE_NAME",
	} {
		if _, err := Users("acme", []string{in}); errs.ReasonOf(err) != want {
			t.Errorf("%s: %v", in, err)
		}
	}
	if _, err := Users("acme", userNames(21)); errs.ReasonOf(err) != "TOO_MANY_USERS" {
		t.Errorf("21: %v", err)
	}
	if _, err := Users("acme", nil); errs.ReasonOf(err) != "INVALID_FIELD" {
		t.Errorf("none: %v", err)
	}
}

func TestWhoMayAssign(t *testing.T) {
	self := &licensingv1.Pool{Purchaser: "organizations/acme/users/bo", Channel: licensingv1.Pool_SELF_SERVICE}
	admin := &licensingv1.Pool{Purchaser: "organizations/acme/users/ada", Channel: licensingv1.Pool_ADMIN}
	id := func(sub string, roles ...string) *auth.Identity {
		return &auth.Identity{Claims: auth.Claims{Subject: sub, Org: "acme", Roles: roles}}
	}
	for _, tc := range []struct {
		who  *auth.Identity
		pool *licensingv1.Pool
		want string
	}{
		{id("bo"), self, ""},
		{id("bo", auth.GlobalAdmin), self, ""},
		{id("ada", auth.GlobalAdmin), self, "ADMIN_READ_ONLY"},
		{id("rita", auth.GlobalReader), self, "ADMIN_READ_ONLY"},
		{id("max"), self, "PERMISSION_DENIED"},
		{id("li", auth.LicenseAdmin), admin, ""},
		{id("bruno", auth.BillingAdmin), admin, ""},
		{id("rita", auth.GlobalReader), admin, "PERMISSION_DENIED"},
		{id("max"), admin, "PERMISSION_DENIED"},
	} {
		if got := errs.ReasonOf(MayAssign(tc.who, tc.pool)); got != tc.want {
			t.Errorf("%s %v on %s: %q, want %q", tc.who.Subject, tc.who.Roles, tc.pool.Channel, got, tc.want)
		}
	}
	if Sees(id("max"), "acme", self) || !Sees(id("rita", auth.GlobalReader), "acme", self) || Sees(&auth.Identity{Claims: auth.Claims{Subject: "x", Org: "other", Roles: []string{auth.GlobalAdmin}}}, "acme", self) {
		t.Error("visibility")
	}
}

func TestRoomResizeStates(t *testing.T) {
	p := &licensingv1.Pool{TotalLicenses: 5, AssignedLicenses: 3, State: licensingv1.License_ENABLED, SubscriptionVersion: 4}
	if Room(p, 2) != nil || errs.ReasonOf(Room(p, 3)) != "NOT_ENOUGH_LICENSES" {
		t.Error("room")
	}
	if Resize(p, 3) != nil || errs.ReasonOf(Resize(p, 2)) != "BELOW_ASSIGNED_LICENSES" || errs.ReasonOf(Resize(p, 10001)) != "INVALID_FIELD" {
		t.Error("resize")
	}
	for state, ok := range map[licensingv1.License_State]bool{
		licensingv1.License_ENABLED: true, licensingv1.License_WARNING: true,
		licensingv1.License_SUSPENDED: false, licensingv1.License_LOCKED_OUT: false,
	} {
		p.State = state
		if (Assignable(p) == nil) != ok {
			t.Errorf("assignable in %s", state)
		}
	}
	if !Stale(p, 4) || !Stale(p, 3) || Stale(p, 5) {
		t.Error("stale")
	}
	if v := View(p); v.AvailableLicenses != 2 {
		t.Errorf("view %v", v)
	}
}
