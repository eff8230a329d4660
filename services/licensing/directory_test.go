package licensing_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
	"github.com/selfserve/selfserve/services/licensing"
)

func TestOrganizationsAndAccess(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	op := e.operator(t)
	got, err := e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{OrganizationId: "acme", Organization: org("Acme", "FR")})
	if err != nil || got.Name != "organizations/acme" || got.CreateTime == nil {
		t.Fatalf("create: %v %v", got, err)
	}
	_, err = e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{OrganizationId: "acme", Organization: org("Acme again", "FR")})
	servetest.WantStatus(t, err, codes.AlreadyExists, "RESOURCE_ALREADY_EXISTS", "")
	_, err = e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{OrganizationId: "Bad Id", Organization: org("X", "FR")})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
	_, err = e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{Organization: org("X", "ZZ")})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
	gen, err := e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{Organization: org("Generated", "SE")})
	if err != nil || gen.Name == "" {
		t.Fatalf("generated id: %v %v", gen, err)
	}

	member := e.as(t, "acme", "someone")
	if _, err := e.dir.GetOrganization(member, &licensingv1.GetOrganizationRequest{Name: "organizations/acme"}); err != nil {
		t.Fatalf("member get: %v", err)
	}
	_, err = e.dir.CreateOrganization(member, &licensingv1.CreateOrganizationRequest{Organization: org("Mine", "SE")})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	stranger := e.as(t, "other", "eve", auth.GlobalAdmin)
	_, err = e.dir.GetOrganization(stranger, &licensingv1.GetOrganizationRequest{Name: "organizations/acme"})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	// An organization that does not exist answers the same as one not yours.
	_, err = e.dir.GetOrganization(stranger, &licensingv1.GetOrganizationRequest{Name: "organizations/nope"})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = e.dir.GetOrganization(op, &licensingv1.GetOrganizationRequest{Name: "organizations/nope"})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = e.dir.GetOrganization(op, &licensingv1.GetOrganizationRequest{Name: "orgs/acme"})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_RESOURCE_NAME", "")
	_, err = e.dir.ListOrganizations(member, &licensingv1.ListOrganizationsRequest{})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	list, err := e.dir.ListOrganizations(op, &licensingv1.ListOrganizationsRequest{PageSize: 1})
	if err != nil || len(list.Organizations) != 1 || list.NextPageToken == "" {
		t.Fatalf("list page 1: %v %v", list, err)
	}
	list, err = e.dir.ListOrganizations(op, &licensingv1.ListOrganizationsRequest{PageSize: 1, PageToken: list.NextPageToken})
	if err != nil || len(list.Organizations) != 1 || list.NextPageToken != "" {
		t.Fatalf("list page 2: %v %v", list, err)
	}
}

func TestUsersAndRequestIDs(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	op := e.operator(t)
	for _, id := range []string{"acme", "other"} {
		if _, err := e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{OrganizationId: id, Organization: org(id, "SE")}); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.as(t, "acme", "root", auth.GlobalAdmin)
	req := &licensingv1.CreateUserRequest{Parent: "organizations/acme", UserId: "bob", User: user("Bob Stone", "Bob@Acme.example"), RequestId: "req-1"}
	first, err := e.dir.CreateUser(admin, req)
	if err != nil || first.Name != "organizations/acme/users/bob" || first.Email != "bob@acme.example" {
		t.Fatalf("create: %v %v", first, err)
	}
	again, err := e.dir.CreateUser(admin, req)
	if err != nil || again.CreateTime.AsTime() != first.CreateTime.AsTime() {
		t.Fatalf("replay did not return the first response: %v %v", again, err)
	}
	changed := &licensingv1.CreateUserRequest{Parent: "organizations/acme", UserId: "bobby", User: user("Bob Stone", "bobby@acme.example"), RequestId: "req-1"}
	_, err = e.dir.CreateUser(admin, changed)
	servetest.WantStatus(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "")
	// Without a request id, doing it again is a conflict, not a replay.
	req.RequestId = ""
	_, err = e.dir.CreateUser(admin, req)
	servetest.WantStatus(t, err, codes.AlreadyExists, "RESOURCE_ALREADY_EXISTS", "")
	dup := &licensingv1.CreateUserRequest{Parent: "organizations/acme", UserId: "bob2", User: user("Other Bob", "BOB@acme.example")}
	_, err = e.dir.CreateUser(admin, dup)
	servetest.WantStatus(t, err, codes.AlreadyExists, "RESOURCE_ALREADY_EXISTS", "")

	plain := e.as(t, "acme", "bob")
	_, err = e.dir.CreateUser(plain, &licensingv1.CreateUserRequest{Parent: "organizations/acme", User: user("Carl", "carl@acme.example")})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	foreignAdmin := e.as(t, "other", "root", auth.GlobalAdmin)
	_, err = e.dir.CreateUser(foreignAdmin, &licensingv1.CreateUserRequest{Parent: "organizations/acme", User: user("Carl", "carl@acme.example")})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = e.dir.GetUser(foreignAdmin, &licensingv1.GetUserRequest{Name: "organizations/acme/users/bob"})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	if u, err := e.dir.GetUser(plain, &licensingv1.GetUserRequest{Name: "organizations/acme/users/bob"}); err != nil || u.DisplayName != "Bob Stone" {
		t.Fatalf("get: %v %v", u, err)
	}
	_, err = e.dir.CreateUser(op, &licensingv1.CreateUserRequest{Parent: "organizations/ghost", User: user("Carl", "carl@acme.example")})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
}

func TestTypeAheadAndPaging(t *testing.T) {
	e := start(t, t.TempDir(), "system", false)
	op := e.operator(t)
	if _, err := e.dir.CreateOrganization(op, &licensingv1.CreateOrganizationRequest{OrganizationId: "acme", Organization: org("Acme", "SE")}); err != nil {
		t.Fatal(err)
	}
	people := map[string][2]string{
		"u1": {"Lisa Andersson", "lisa@acme.example"},
		"u2": {"Anders Lind", "anders@acme.example"},
		"u3": {"Linnea Berg", "lb@acme.example"},
		"u4": {"Bo Ek", "linus.ek@acme.example"},
		"u5": {"Karl Nilsson", "karl@acme.example"},
		"u6": {"Lin Lin", "lin@acme.example"},
		"u7": {"Eva Svensson", "eva@acme.example"},
	}
	for id, p := range people {
		if _, err := e.dir.CreateUser(op, &licensingv1.CreateUserRequest{Parent: "organizations/acme", UserId: id, User: user(p[0], p[1])}); err != nil {
			t.Fatal(err)
		}
	}
	member := e.as(t, "acme", "u1")
	search := func(q string, size int32) []string {
		var ids []string
		token := ""
		for range 20 {
			resp, err := e.dir.ListUsers(member, &licensingv1.ListUsersRequest{Parent: "organizations/acme", Query: q, PageSize: size, PageToken: token})
			if err != nil {
				t.Fatalf("list %q: %v", q, err)
			}
			if len(resp.Users) > int(size) {
				t.Fatalf("page of %d over size %d", len(resp.Users), size)
			}
			for _, u := range resp.Users {
				ids = append(ids, u.Name[len("organizations/acme/users/"):])
			}
			if token = resp.NextPageToken; token == "" {
				return ids
			}
		}
		t.Fatal("paging never ended")
		return nil
	}
	// "li": Lisa (name), Anders Lind (last name), Linnea, linus.ek (e-mail), Lin Lin (once).
	got := fmt.Sprint(search("LI", 2))
	if got != "[u6 u2 u3 u4 u1]" {
		t.Fatalf("type-ahead li: %s", got)
	}
	if got := fmt.Sprint(search("karl@", 1)); got != "[u5]" {
		t.Fatalf("e-mail prefix: %s", got)
	}
	if got := fmt.Sprint(search("zz", 5)); got != "[]" {
		t.Fatalf("no match: %s", got)
	}
	if got := search("", 3); len(got) != 7 || got[0] != "u1" || got[6] != "u7" {
		t.Fatalf("all users: %v", got)
	}
	first, _ := e.dir.ListUsers(member, &licensingv1.ListUsersRequest{Parent: "organizations/acme", Query: "li", PageSize: 1})
	_, err := e.dir.ListUsers(member, &licensingv1.ListUsersRequest{Parent: "organizations/acme", Query: "an", PageSize: 1, PageToken: first.NextPageToken})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_PAGE_TOKEN", "")
	_, err = e.dir.ListUsers(member, &licensingv1.ListUsersRequest{Parent: "organizations/acme", PageSize: -1})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
}

func TestIssueTokenCarriesStoredRoles(t *testing.T) {
	e := start(t, t.TempDir(), "system", true)
	op := e.operator(t)
	resp, err := e.dir.IssueToken(op, &licensingv1.IssueTokenRequest{Name: "organizations/contoso/users/bruno", Ttl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := e.signer.Verify(resp.Token, time.Now())
	if err != nil || claims.Subject != "bruno" || claims.Org != "contoso" || fmt.Sprint(claims.Roles) != "[BILLING_ADMIN]" {
		t.Fatalf("claims %+v %v", claims, err)
	}
	if d := time.Until(resp.ExpireTime.AsTime()); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expiry %v", d)
	}
	// The issued token works.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+resp.Token)
	if _, err := e.dir.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"}); err != nil {
		t.Fatalf("issued token refused: %v", err)
	}
	_, err = e.dir.IssueToken(ctx, &licensingv1.IssueTokenRequest{Name: "organizations/contoso/users/ada"})
	servetest.WantStatus(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	_, err = e.dir.IssueToken(op, &licensingv1.IssueTokenRequest{Name: "organizations/contoso/users/nobody"})
	servetest.WantStatus(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = e.dir.IssueToken(op, &licensingv1.IssueTokenRequest{Name: "organizations/contoso/users/ada", Ttl: durationpb.New(time.Second)})
	servetest.WantStatus(t, err, codes.InvalidArgument, "INVALID_FIELD", "")
	// No token at all.
	_, err = e.dir.GetOrganization(context.Background(), &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"})
	servetest.WantStatus(t, err, codes.Unauthenticated, "TOKEN_MISSING", "")
}

func TestRestartKeepsDataAndClock(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	signer, _ := auth.NewSigner(key)
	e := startWith(t, dir, "manual", true, signer)
	op := e.operator(t)
	before, err := e.clock.GetClock(op, &operatorv1.GetClockRequest{})
	if err != nil || before.Mode != operatorv1.Clock_MANUAL {
		t.Fatalf("clock %v %v", before, err)
	}
	if _, err := e.clock.AdvanceClock(op, &operatorv1.AdvanceClockRequest{Duration: durationpb.New(72 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.CreateUser(op, &licensingv1.CreateUserRequest{Parent: "organizations/contoso", UserId: "kept", User: user("Kept User", "kept@contoso.example")}); err != nil {
		t.Fatal(err)
	}
	e.stop()

	e = startWith(t, dir, "manual", true, signer)
	op = e.operator(t)
	after, err := e.clock.GetClock(op, &operatorv1.GetClockRequest{})
	if err != nil || !after.Now.AsTime().Equal(before.Now.AsTime().Add(72*time.Hour)) {
		t.Fatalf("clock went back after restart: %v -> %v (%v)", before.Now.AsTime(), after.Now.AsTime(), err)
	}
	if _, err := e.dir.GetUser(op, &licensingv1.GetUserRequest{Name: "organizations/contoso/users/kept"}); err != nil {
		t.Fatalf("user lost on restart: %v", err)
	}
	list, err := e.dir.ListUsers(op, &licensingv1.ListUsersRequest{Parent: "organizations/contoso"})
	if err != nil || len(list.Users) != len(licensing.Demo[0].Users)+1 {
		t.Fatalf("seeding twice: %d users, %v", len(list.Users), err)
	}
}
