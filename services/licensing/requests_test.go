package licensing_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

func TestLicenseRequests(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	acme(t, e)
	e.pool(t, "self", licensingv1.Pool_SELF_SERVICE, "buyer", 5)
	e.pool(t, "corp", licensingv1.Pool_ADMIN, "admin", 2)
	if _, err := e.pools.CreatePool(e.service(t), &licensingv1.CreatePoolRequest{SubscriptionVersion: 1, Pool: &licensingv1.Pool{
		Subscription: "organizations/acme/subscriptions/visio", Product: "products/visio", Purchaser: "organizations/acme/users/admin",
		Channel: licensingv1.Pool_ADMIN, TotalLicenses: 10,
	}}); err != nil {
		t.Fatal(err)
	}
	m01 := e.member(t, "m01")
	file := func(ctx any, users []string, msg string) (*licensingv1.LicenseRequest, error) {
		return e.req.CreateLicenseRequest(e.member(t, "m01"), &licensingv1.CreateLicenseRequestRequest{Parent: "organizations/acme",
			LicenseRequest: &licensingv1.LicenseRequest{Product: "products/office", Users: users, Message: msg}})
	}
	r1, err := file(m01, members(2, 3), "we need it for the audit")
	if err != nil || r1.State != licensingv1.LicenseRequest_PENDING || r1.Requester != "organizations/acme/users/m01" || len(r1.Users) != 2 {
		t.Fatalf("create: %v %v", r1, err)
	}
	r2, err := file(m01, nil, "")
	if err != nil || len(r2.Users) != 1 || r2.Users[0] != "organizations/acme/users/m01" {
		t.Fatalf("a request names its requester by default: %v %v", r2, err)
	}
	for name, tc := range map[string]struct {
		users []string
		msg   string
		why   string
	}{
		"guest":     {[]string{"organizations/acme/users/guest"}, "", "GUEST_USER"},
		"other org": {[]string{"organizations/other/users/x"}, "", "USER_NOT_IN_ORGANIZATION"},
		"21 users":  {members(1, 21), "", "TOO_MANY_USERS"},
		"long":      {nil, strings.Repeat("x", 1001), "INVALID_FIELD"},
	} {
		if _, err := file(m01, tc.users, tc.msg); servetest.Reason(err) != tc.why {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = e.req.CreateLicenseRequest(e.member(t, "guest"), &licensingv1.CreateLicenseRequestRequest{Parent: "organizations/acme",
		LicenseRequest: &licensingv1.LicenseRequest{Product: "products/office"}})
	servetest.WantStatus(t, err, codes.FailedPrecondition, "GUEST_USER", "")

	// Who sees what, newest first.
	list, err := e.req.ListLicenseRequests(m01, &licensingv1.ListLicenseRequestsRequest{Parent: "organizations/acme", PageSize: 1})
	if err != nil || len(list.LicenseRequests) != 1 || list.LicenseRequests[0].Name != r2.Name || list.NextPageToken == "" {
		t.Fatalf("own requests page 1: %v %v", list, err)
	}
	list, err = e.req.ListLicenseRequests(m01, &licensingv1.ListLicenseRequestsRequest{Parent: "organizations/acme", PageSize: 1, PageToken: list.NextPageToken})
	if err != nil || len(list.LicenseRequests) != 1 || list.LicenseRequests[0].Name != r1.Name || list.NextPageToken != "" {
		t.Fatalf("own requests page 2: %v %v", list, err)
	}
	if l, _ := e.req.ListLicenseRequests(e.member(t, "m02"), &licensingv1.ListLicenseRequestsRequest{Parent: "organizations/acme"}); len(l.LicenseRequests) != 0 {
		t.Fatal("a member sees another's requests")
	}
	if l, _ := e.req.ListLicenseRequests(e.member(t, "reader", auth.GlobalReader), &licensingv1.ListLicenseRequestsRequest{Parent: "organizations/acme"}); len(l.LicenseRequests) != 2 {
		t.Fatal("a reader does not see every request")
	}
	_, err = e.req.GetLicenseRequest(e.member(t, "m02"), &licensingv1.GetLicenseRequestRequest{Name: r1.Name})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")

	// Deciding.
	admin := e.member(t, "admin", auth.GlobalAdmin)
	approve := func(ctx any, sub string) (*licensingv1.LicenseRequest, error) {
		c := admin
		if ctx != nil {
			c = e.member(t, ctx.(string), auth.GlobalReader)
		}
		return e.req.ApproveLicenseRequest(c, &licensingv1.ApproveLicenseRequestRequest{Name: r1.Name, Subscription: "organizations/acme/subscriptions/" + sub})
	}
	_, err = approve("reader", "corp")
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	_, err = approve(nil, "self")
	servetest.WantStatus(t, err, codes.PermissionDenied, "ADMIN_READ_ONLY", "")
	_, err = approve(nil, "visio")
	servetest.WantStatus(t, err, codes.FailedPrecondition, "PRODUCT_MISMATCH", "")
	_, err = approve(nil, "ghost")
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	if _, err := e.lic.AssignLicenses(admin, &licensingv1.AssignLicensesRequest{Name: "organizations/acme/licenses/corp", Users: members(9, 9)}); err != nil {
		t.Fatal(err)
	}
	_, err = approve(nil, "corp")
	servetest.WantStatus(t, err, codes.FailedPrecondition, "NOT_ENOUGH_LICENSES", "")
	if got, _ := e.req.GetLicenseRequest(admin, &licensingv1.GetLicenseRequestRequest{Name: r1.Name}); got.State != licensingv1.LicenseRequest_PENDING {
		t.Fatal("a failed approval decided the request")
	}
	if _, err := e.pools.ResizePool(e.service(t), &licensingv1.ResizePoolRequest{Name: "organizations/acme/licenses/corp", TotalLicenses: 3, SubscriptionVersion: 2}); err != nil {
		t.Fatal(err)
	}
	done, err := approve(nil, "corp")
	if err != nil || done.State != licensingv1.LicenseRequest_APPROVED || done.Decider != "organizations/acme/users/admin" || done.DecideTime == nil {
		t.Fatalf("approve: %v %v", done, err)
	}
	if e.assigned(t, "corp") != 3 {
		t.Fatal("approval did not assign")
	}
	_, err = approve(nil, "corp")
	servetest.WantStatus(t, err, codes.FailedPrecondition, "LICENSE_REQUEST_DECIDED", "")
	denied, err := e.req.DenyLicenseRequest(e.member(t, "licadmin", auth.LicenseAdmin), &licensingv1.DenyLicenseRequestRequest{Name: r2.Name, Message: "use the shared seat"})
	if err != nil || denied.State != licensingv1.LicenseRequest_DENIED || denied.DecisionMessage != "use the shared seat" {
		t.Fatalf("deny: %v %v", denied, err)
	}
}

func TestLicenseRequestsArePurgedAfterTwelveMonths(t *testing.T) {
	e := start(t, t.TempDir(), "manual", false)
	acme(t, e)
	file := func() *licensingv1.LicenseRequest {
		r, err := e.req.CreateLicenseRequest(e.member(t, "m01"), &licensingv1.CreateLicenseRequestRequest{Parent: "organizations/acme",
			LicenseRequest: &licensingv1.LicenseRequest{Product: "products/office"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	old := file()
	advance := func(d time.Duration) {
		if _, err := e.clock.AdvanceClock(e.operatorTB(t), &operatorv1.AdvanceClockRequest{Duration: durationpb.New(d)}); err != nil {
			t.Fatal(err)
		}
	}
	advance(200 * 24 * time.Hour)
	recent := file()
	advance(170 * 24 * time.Hour) // old is now 370 days old, recent 170
	admin := e.member(t, "admin", auth.GlobalAdmin)
	_, err := e.req.GetLicenseRequest(admin, &licensingv1.GetLicenseRequestRequest{Name: old.Name})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	if _, err := e.req.GetLicenseRequest(admin, &licensingv1.GetLicenseRequestRequest{Name: recent.Name}); err != nil {
		t.Fatalf("a recent request was purged: %v", err)
	}
	if l, _ := e.req.ListLicenseRequests(e.member(t, "m01"), &licensingv1.ListLicenseRequestsRequest{Parent: "organizations/acme"}); len(l.LicenseRequests) != 1 {
		t.Fatalf("own list after purge: %v", l)
	}
}
