package licensing_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

// acme seeds an organization with a purchaser, admins, 70 members, a guest,
// and another organization with one user.
func acme(t testing.TB, e *env) {
	t.Helper()
	op := e.operatorTB(t)
	for _, o := range []string{"acme", "other"} {
		if _, err := e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{OrganizationId: o, Organization: org(o, "SE")}); err != nil {
			t.Fatal(err)
		}
	}
	add := func(o, id string, typ licensingv1.User_UserType, roles ...licensingv1.User_Role) {
		u := user("User "+id, id+"@"+o+".example", roles...)
		u.UserType = typ
		if _, err := e.dir.CreateUser(op, &licensingv1.CreateUserRequest{Parent: "organizations/" + o, UserId: id, User: u}); err != nil {
			t.Fatal(err)
		}
	}
	add("acme", "buyer", licensingv1.User_MEMBER)
	add("acme", "admin", licensingv1.User_MEMBER, licensingv1.User_GLOBAL_ADMIN)
	add("acme", "licadmin", licensingv1.User_MEMBER, licensingv1.User_LICENSE_ADMIN)
	add("acme", "reader", licensingv1.User_MEMBER, licensingv1.User_GLOBAL_READER)
	add("acme", "guest", licensingv1.User_GUEST)
	for i := 1; i <= 70; i++ {
		add("acme", fmt.Sprintf("m%02d", i), licensingv1.User_MEMBER)
	}
	add("other", "x", licensingv1.User_MEMBER)
}

func (e *env) operatorTB(t testing.TB) context.Context {
	return e.asTB(t, "", "operator", auth.Operator)
}

func (e *env) service(t testing.TB) context.Context { return e.asTB(t, "", "commerce", auth.Service) }

func (e *env) member(t testing.TB, id string, roles ...string) context.Context {
	return e.asTB(t, "acme", id, roles...)
}

func (e *env) pool(t testing.TB, sub string, channel licensingv1.Pool_Channel, purchaser string, total int32) {
	t.Helper()
	_, err := e.pools.CreatePool(e.service(t), &licensingv1.CreatePoolRequest{SubscriptionVersion: 1, Pool: &licensingv1.Pool{
		Subscription: "organizations/acme/subscriptions/" + sub, Product: "products/office", Purchaser: "organizations/acme/users/" + purchaser,
		Channel: channel, TotalLicenses: total,
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func members(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("organizations/acme/users/m%02d", i))
	}
	return out
}

func (e *env) assigned(t *testing.T, sub string) int32 {
	t.Helper()
	l, err := e.lic.GetLicense(e.operatorTB(t), &licensingv1.GetLicenseRequest{Name: "organizations/acme/licenses/" + sub})
	if err != nil {
		t.Fatal(err)
	}
	if l.AvailableLicenses != l.TotalLicenses-l.AssignedLicenses {
		t.Fatalf("available %d of %d with %d assigned", l.AvailableLicenses, l.TotalLicenses, l.AssignedLicenses)
	}
	return l.AssignedLicenses
}

func TestAssignRules(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	acme(t, e)
	e.pool(t, "s1", licensingv1.Pool_SELF_SERVICE, "buyer", 5)
	buyer := e.member(t, "buyer")
	const s1 = "organizations/acme/licenses/s1"
	assign := func(ctx context.Context, users ...string) (*licensingv1.License, error) {
		return e.lic.AssignLicenses(ctx, &licensingv1.AssignLicensesRequest{Name: s1, Users: users})
	}

	l, err := assign(buyer, members(1, 2)...)
	if err != nil || l.AssignedLicenses != 2 || l.AvailableLicenses != 3 || l.State != licensingv1.License_ENABLED {
		t.Fatalf("assign: %v %v", l, err)
	}
	if l, err := assign(buyer, members(1, 1)...); err != nil || l.AssignedLicenses != 2 {
		t.Fatalf("assigning an assigned user must be a no-op: %v %v", l, err)
	}
	for name, tc := range map[string]struct {
		users []string
		code  codes.Code
		why   string
	}{
		"21 users":       {members(3, 23), codes.InvalidArgument, "TOO_MANY_USERS"},
		"no users":       {nil, codes.InvalidArgument, "INVALID_FIELD"},
		"a guest":        {append(members(3, 3), "organizations/acme/users/guest"), codes.FailedPrecondition, "GUEST_USER"},
		"another org":    {append(members(3, 3), "organizations/other/users/x"), codes.FailedPrecondition, "USER_NOT_IN_ORGANIZATION"},
		"unknown user":   {append(members(3, 3), "organizations/acme/users/ghost"), codes.FailedPrecondition, "USER_NOT_IN_ORGANIZATION"},
		"not enough":     {members(3, 6), codes.FailedPrecondition, "NOT_ENOUGH_LICENSES"},
		"malformed user": {[]string{"users/m03"}, codes.InvalidArgument, "INVALID_RESOURCE_NAME"},
	} {
		_, err := assign(buyer, tc.users...)
		if status.Code(err) != tc.code || servetest.Reason(err) != tc.why {
			t.Errorf("%s: %v (reason %s), want %s", name, err, servetest.Reason(err), tc.why)
		}
		if n := e.assigned(t, "s1"); n != 2 {
			t.Fatalf("%s changed the pool: %d assigned", name, n)
		}
	}

	// Admins only read a self-service pool; other members do not see it.
	for who, ctx := range map[string]context.Context{
		"GLOBAL_ADMIN":  e.member(t, "admin", auth.GlobalAdmin),
		"LICENSE_ADMIN": e.member(t, "licadmin", auth.LicenseAdmin),
		"GLOBAL_READER": e.member(t, "reader", auth.GlobalReader),
	} {
		if _, err := e.lic.GetLicense(ctx, &licensingv1.GetLicenseRequest{Name: s1}); err != nil {
			t.Errorf("%s cannot read: %v", who, err)
		}
		_, err := assign(ctx, members(3, 3)...)
		servetest.WantStatus(t, err, codes.PermissionDenied, "ADMIN_READ_ONLY", "")
	}
	_, err = assign(e.member(t, "m10"), members(3, 3)...)
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = assign(e.asTB(t, "other", "x", auth.GlobalAdmin), members(3, 3)...)
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")

	// A replayed request id assigns once.
	req := &licensingv1.AssignLicensesRequest{Name: s1, Users: members(3, 3), RequestId: "assign-m03"}
	first, err := e.lic.AssignLicenses(buyer, req)
	if err != nil || first.AssignedLicenses != 3 {
		t.Fatal(first, err)
	}
	if _, err := e.lic.UnassignLicenses(buyer, &licensingv1.UnassignLicensesRequest{Name: s1, Users: members(3, 3)}); err != nil {
		t.Fatal(err)
	}
	again, err := e.lic.AssignLicenses(buyer, req)
	if err != nil || again.AssignedLicenses != 3 || e.assigned(t, "s1") != 2 {
		t.Fatalf("replay did the work again: %v, %d assigned, %v", again, e.assigned(t, "s1"), err)
	}
	req.Users = members(4, 4)
	_, err = e.lic.AssignLicenses(buyer, req)
	servetest.WantStatus(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "")

	// Unassigning a user without a license is a no-op.
	if l, err := e.lic.UnassignLicenses(buyer, &licensingv1.UnassignLicensesRequest{Name: s1, Users: members(1, 9)}); err != nil || l.AssignedLicenses != 0 {
		t.Fatalf("unassign: %v %v", l, err)
	}
}

func TestAdminChannelAndLifecycle(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	acme(t, e)
	e.pool(t, "corp", licensingv1.Pool_ADMIN, "admin", 10)
	e.pool(t, "mine", licensingv1.Pool_SELF_SERVICE, "buyer", 3)
	const corp = "organizations/acme/licenses/corp"
	lic := e.member(t, "licadmin", auth.LicenseAdmin)
	if l, err := e.lic.AssignLicenses(lic, &licensingv1.AssignLicensesRequest{Name: corp, Users: members(1, 4)}); err != nil || l.AssignedLicenses != 4 {
		t.Fatalf("LICENSE_ADMIN on an ADMIN pool: %v %v", l, err)
	}
	_, err := e.lic.AssignLicenses(e.member(t, "reader", auth.GlobalReader), &licensingv1.AssignLicensesRequest{Name: corp, Users: members(5, 5)})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// Who sees which pools.
	count := func(ctx context.Context) int {
		resp, err := e.lic.ListLicenses(ctx, &licensingv1.ListLicensesRequest{Parent: "organizations/acme"})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.Licenses)
	}
	if a, b, m := count(e.member(t, "reader", auth.GlobalReader)), count(e.member(t, "buyer")), count(e.member(t, "m20")); a != 2 || b != 1 || m != 0 {
		t.Fatalf("visible pools: reader %d, buyer %d, member %d", a, b, m)
	}

	// Paging through the assignments; a user's own licenses.
	resp, err := e.lic.ListAssignments(lic, &licensingv1.ListAssignmentsRequest{Parent: corp, PageSize: 3})
	if err != nil || len(resp.Assignments) != 3 || resp.NextPageToken == "" || resp.Assignments[0].UserDisplayName != "User m01" {
		t.Fatalf("assignments page 1: %v %v", resp, err)
	}
	resp, err = e.lic.ListAssignments(lic, &licensingv1.ListAssignmentsRequest{Parent: corp, PageSize: 3, PageToken: resp.NextPageToken})
	if err != nil || len(resp.Assignments) != 1 || resp.NextPageToken != "" {
		t.Fatalf("assignments page 2: %v %v", resp, err)
	}
	mine, err := e.lic.ListUserLicenses(e.member(t, "m01"), &licensingv1.ListUserLicensesRequest{Parent: "organizations/acme/users/m01"})
	if err != nil || len(mine.Assignments) != 1 || mine.Assignments[0].License != corp {
		t.Fatalf("user licenses: %v %v", mine, err)
	}
	_, err = e.lic.ListUserLicenses(e.member(t, "m02"), &licensingv1.ListUserLicensesRequest{Parent: "organizations/acme/users/m01"})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// Versions: a late call never undoes a newer one.
	svc := e.service(t)
	if p, err := e.pools.ResizePool(svc, &licensingv1.ResizePoolRequest{Name: corp, TotalLicenses: 20, SubscriptionVersion: 3}); err != nil || p.TotalLicenses != 20 {
		t.Fatalf("resize: %v %v", p, err)
	}
	if p, err := e.pools.ResizePool(svc, &licensingv1.ResizePoolRequest{Name: corp, TotalLicenses: 6, SubscriptionVersion: 2}); err != nil || p.TotalLicenses != 20 || p.SubscriptionVersion != 3 {
		t.Fatalf("a stale resize changed the pool: %v %v", p, err)
	}
	_, err = e.pools.ResizePool(svc, &licensingv1.ResizePoolRequest{Name: corp, TotalLicenses: 3, SubscriptionVersion: 4})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "BELOW_ASSIGNED_LICENSES", "")
	_, err = e.pools.ResizePool(lic, &licensingv1.ResizePoolRequest{Name: corp, TotalLicenses: 30, SubscriptionVersion: 9})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// SUSPENDED refuses assigning, still takes licenses back; WARNING works.
	if _, err := e.pools.SetPoolState(svc, &licensingv1.SetPoolStateRequest{Name: corp, State: licensingv1.License_SUSPENDED, SubscriptionVersion: 5}); err != nil {
		t.Fatal(err)
	}
	_, err = e.lic.AssignLicenses(lic, &licensingv1.AssignLicensesRequest{Name: corp, Users: members(9, 9)})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "SUBSCRIPTION_NOT_ACTIVE", "")
	if l, err := e.lic.UnassignLicenses(lic, &licensingv1.UnassignLicensesRequest{Name: corp, Users: members(4, 4)}); err != nil || l.AssignedLicenses != 3 {
		t.Fatalf("unassign while suspended: %v %v", l, err)
	}
	if _, err := e.pools.SetPoolState(svc, &licensingv1.SetPoolStateRequest{Name: corp, State: licensingv1.License_WARNING, SubscriptionVersion: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lic.AssignLicenses(lic, &licensingv1.AssignLicensesRequest{Name: corp, Users: members(9, 9)}); err != nil {
		t.Fatalf("assign while WARNING: %v", err)
	}

	// Deleted: assignments gone, LOCKED_OUT, still readable.
	p, err := e.pools.DeletePool(svc, &licensingv1.DeletePoolRequest{Name: corp, SubscriptionVersion: 7})
	if err != nil || !p.Deleted || p.State != licensingv1.License_LOCKED_OUT || p.AssignedLicenses != 0 {
		t.Fatalf("delete: %v %v", p, err)
	}
	mine, err = e.lic.ListUserLicenses(e.member(t, "m01"), &licensingv1.ListUserLicensesRequest{Parent: "organizations/acme/users/m01"})
	if err != nil || len(mine.Assignments) != 0 {
		t.Fatalf("a deleted subscription's user kept a license: %v %v", mine, err)
	}
	_, err = e.lic.AssignLicenses(lic, &licensingv1.AssignLicensesRequest{Name: corp, Users: members(1, 1)})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "SUBSCRIPTION_NOT_ACTIVE", "")
	if p, _ := e.pools.SetPoolState(svc, &licensingv1.SetPoolStateRequest{Name: corp, State: licensingv1.License_ENABLED, SubscriptionVersion: 8}); p.State != licensingv1.License_LOCKED_OUT {
		t.Fatal("a deleted pool came back")
	}
	// Assigned m01-m04, took m04 back, assigned m09, deleted: four events.
	if n, _ := e.comp.Events.Pending(); n != 4 {
		t.Fatalf("audit events waiting for commerce: %d", n)
	}
}

func TestTransferAssignments(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	acme(t, e)
	e.pool(t, "self", licensingv1.Pool_SELF_SERVICE, "buyer", 5)
	e.pool(t, "corp", licensingv1.Pool_ADMIN, "admin", 3)
	svc := e.service(t)
	if _, err := e.lic.AssignLicenses(e.member(t, "buyer"), &licensingv1.AssignLicensesRequest{Name: "organizations/acme/licenses/self", Users: members(1, 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lic.AssignLicenses(e.member(t, "admin", auth.GlobalAdmin), &licensingv1.AssignLicensesRequest{Name: "organizations/acme/licenses/corp", Users: members(3, 4)}); err != nil {
		t.Fatal(err)
	}
	req := &licensingv1.TransferAssignmentsRequest{Source: "organizations/acme/licenses/self", Target: "organizations/acme/licenses/corp", SourceVersion: 2, Actor: "organizations/acme/users/admin"}
	// m01 and m02 need two licenses; corp has one free (m03 holds one already).
	_, err := e.pools.TransferAssignments(svc, req)
	servetest.WantStatus(t, err, codes.FailedPrecondition, "NOT_ENOUGH_LICENSES", "")
	if e.assigned(t, "self") != 3 || e.assigned(t, "corp") != 2 {
		t.Fatal("a refused transfer moved users")
	}
	if _, err := e.pools.ResizePool(svc, &licensingv1.ResizePoolRequest{Name: req.Target, TotalLicenses: 4, SubscriptionVersion: 2}); err != nil {
		t.Fatal(err)
	}
	resp, err := e.pools.TransferAssignments(svc, req)
	if err != nil || len(resp.MovedUsers) != 3 || !resp.Source.Deleted || resp.Target.AssignedLicenses != 4 {
		t.Fatalf("transfer: %v %v", resp, err)
	}
	// Replayed: nothing moves twice.
	again, err := e.pools.TransferAssignments(svc, req)
	if err != nil || len(again.MovedUsers) != 0 || again.Target.AssignedLicenses != 4 {
		t.Fatalf("replayed transfer: %v %v", again, err)
	}
}

func TestConcurrentAssignNeverOverfills(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	acme(t, e)
	e.pool(t, "small", licensingv1.Pool_SELF_SERVICE, "buyer", 5)
	buyer := e.member(t, "buyer")
	const callers = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]int{}
	for i := 1; i <= callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.lic.AssignLicenses(buyer, &licensingv1.AssignLicensesRequest{Name: "organizations/acme/licenses/small", Users: members(i, i)})
			key := "OK"
			if err != nil {
				key = servetest.Reason(err)
			}
			mu.Lock()
			results[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if results["OK"] != 5 || results["NOT_ENOUGH_LICENSES"] != callers-5 || len(results) != 2 {
		t.Fatalf("results %v", results)
	}
	list, err := e.lic.ListAssignments(buyer, &licensingv1.ListAssignmentsRequest{Parent: "organizations/acme/licenses/small"})
	if err != nil || len(list.Assignments) != 5 || e.assigned(t, "small") != 5 {
		t.Fatalf("pool holds %d assignments, %d counted (%v)", len(list.Assignments), e.assigned(t, "small"), err)
	}
}

// TestBatchGetPools: a page's pools in one call, with the assignments of
// those that have some; a pool that is not there is left out; a bad name is
// refused on its own index, and the batch stays in one organization.
func TestBatchGetPools(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	acme(t, e)
	e.pool(t, "s1", licensingv1.Pool_SELF_SERVICE, "buyer", 5)
	e.pool(t, "s2", licensingv1.Pool_SELF_SERVICE, "buyer", 3)
	if _, err := e.lic.AssignLicenses(e.member(t, "buyer"), &licensingv1.AssignLicensesRequest{Name: "organizations/acme/licenses/s2", Users: members(1, 2)}); err != nil {
		t.Fatal(err)
	}
	resp, err := e.pools.BatchGetPools(e.service(t), &licensingv1.BatchGetPoolsRequest{WithAssignments: true,
		Names: []string{"organizations/acme/licenses/s1", "organizations/acme/licenses/gone", "organizations/acme/licenses/s2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetPools()) != 2 || resp.Pools[0].GetName() != "organizations/acme/licenses/s1" || resp.Pools[1].GetAssignedLicenses() != 2 ||
		resp.Pools[1].GetSubscription() != "organizations/acme/subscriptions/s2" {
		t.Fatalf("pools %v", resp.GetPools())
	}
	if len(resp.GetAssignments()) != 2 || resp.Assignments[0].GetLicense() != "organizations/acme/licenses/s2" || resp.Assignments[0].GetUserDisplayName() == "" {
		t.Fatalf("assignments %v", resp.GetAssignments())
	}
	for name, tc := range map[string]struct {
		names         []string
		reason, field string
	}{
		"a bad name": {[]string{"organizations/acme/licenses/s1", "organizations/acme/subscriptions/s2"}, "INVALID_RESOURCE_NAME", "names[1]"},
		"two orgs":   {[]string{"organizations/acme/licenses/s1", "organizations/other/licenses/s2"}, "INVALID_FIELD", "names"},
		"no names":   {nil, "INVALID_FIELD", "names"},
	} {
		_, err := e.pools.BatchGetPools(e.service(t), &licensingv1.BatchGetPoolsRequest{Names: tc.names})
		t.Run(name, func(t *testing.T) { servetest.WantStatus(t, err, codes.InvalidArgument, tc.reason, tc.field) })
	}
}
