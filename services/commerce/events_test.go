package commerce_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/audit"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/locale"
)

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// event is a valid event of org, minutes after epoch.
func event(org, id string, minutes int) *commercev1.Event {
	return &commercev1.Event{
		Name:             "organizations/" + org + "/events/" + id,
		Type:             commercev1.Event_LICENSES_ASSIGNED,
		Actor:            "organizations/" + org + "/users/ada",
		ActorDisplayName: "Ada Lovelace",
		Resource:         "organizations/" + org + "/licenses/s-1",
		CreateTime:       timestamppb.New(epoch.Add(time.Duration(minutes) * time.Minute)),
		Metadata:         map[string]string{audit.MetaCount: "2", audit.MetaUsers: "organizations/" + org + "/users/bob,organizations/" + org + "/users/eve"},
	}
}

func record(t *testing.T, h *harness, ctx context.Context, events ...*commercev1.Event) int32 {
	t.Helper()
	resp, err := h.audit.RecordEvents(ctx, &commercev1.RecordEventsRequest{Events: events})
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	return resp.Recorded
}

// feed reads every page of an organization's feed and returns the event names.
func feed(t *testing.T, h *harness, ctx context.Context, org string, size int32) ([]string, []*commercev1.Event) {
	t.Helper()
	var got []string
	var all []*commercev1.Event
	token := ""
	for range 100 {
		resp, err := h.events.ListEvents(ctx, &commercev1.ListEventsRequest{Parent: "organizations/" + org, PageSize: size, PageToken: token})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(resp.Events) > int(size) {
			t.Fatalf("page of %d over size %d", len(resp.Events), size)
		}
		for _, e := range resp.Events {
			got = append(got, e.Name)
			all = append(all, e)
		}
		if token = resp.NextPageToken; token == "" {
			return got, all
		}
	}
	t.Fatal("paging never ended")
	return nil, nil
}

func TestRecordEvents(t *testing.T) {
	h := serve(t, t.TempDir(), newSigner(t))
	svc := h.service(t)
	batch := []*commercev1.Event{event("acme", "licensing-01", 1), event("acme", "licensing-02", 2), event("acme", "licensing-03", 3)}
	if n := record(t, h, svc, batch...); n != 3 {
		t.Fatalf("recorded %d, want 3", n)
	}
	// A redelivered batch records nothing twice.
	if n := record(t, h, svc, batch...); n != 0 {
		t.Fatalf("redelivery recorded %d, want 0", n)
	}
	// A batch that overlaps, and names one event twice, records only the new.
	if n := record(t, h, svc, batch[2], event("acme", "licensing-04", 4), event("acme", "licensing-04", 4)); n != 1 {
		t.Fatalf("overlap recorded %d, want 1", n)
	}
	// An operator may record too.
	op := h.user(t, "", "root", auth.Operator)
	if n := record(t, h, op, event("acme", "billing-01", 5)); n != 1 {
		t.Fatalf("operator recorded %d, want 1", n)
	}
	admin := h.user(t, "acme", "ada", auth.GlobalAdmin)
	if got, _ := feed(t, h, admin, "acme", 50); len(got) != 5 {
		t.Fatalf("feed holds %d events, want 5: %v", len(got), got)
	}

	// One invalid event and nothing of the batch is written.
	bad := []*commercev1.Event{event("acme", "licensing-10", 10), event("acme", "licensing-11", 11), event("acme", "licensing-12", 12), event("acme", "licensing-13", 13), event("acme", "licensing-14", 14)}
	bad[3].Type = commercev1.Event_TYPE_UNSPECIFIED
	_, err := h.audit.RecordEvents(svc, &commercev1.RecordEventsRequest{Events: bad})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "events[3].type")
	bad[3].Type = commercev1.Event_SUBSCRIPTION_RENEWED
	bad[4].Actor = "organizations/other/users/mallory"
	_, err = h.audit.RecordEvents(svc, &commercev1.RecordEventsRequest{Events: bad})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "events[4].actor")
	bad[4].Actor = ""
	bad[1].Name = "organizations/acme/events/Not_An_Id"
	_, err = h.audit.RecordEvents(svc, &commercev1.RecordEventsRequest{Events: bad})
	wantErr(t, err, codes.InvalidArgument, "INVALID_RESOURCE_NAME", "events[1].name")
	if got, _ := feed(t, h, admin, "acme", 50); len(got) != 5 {
		t.Fatalf("a refused batch wrote: %d events", len(got))
	}
	bad[1].Name = "organizations/acme/events/licensing-11"
	if n := record(t, h, svc, bad...); n != 5 {
		t.Fatalf("corrected batch recorded %d, want 5", n)
	}

	_, err = h.audit.RecordEvents(svc, &commercev1.RecordEventsRequest{})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "events")
	tooMany := make([]*commercev1.Event, audit.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = event("acme", fmt.Sprintf("bulk-%d", i), i)
	}
	_, err = h.audit.RecordEvents(svc, &commercev1.RecordEventsRequest{Events: tooMany})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "events")
	if n := record(t, h, svc, tooMany[:audit.MaxBatch]...); n != audit.MaxBatch {
		t.Fatalf("full batch recorded %d, want %d", n, audit.MaxBatch)
	}

	// Members, admins included, cannot record; nor can anyone unsigned.
	_, err = h.audit.RecordEvents(admin, &commercev1.RecordEventsRequest{Events: batch})
	wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	_, err = h.audit.RecordEvents(h.user(t, "acme", "bob"), &commercev1.RecordEventsRequest{Events: batch})
	wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	_, err = h.audit.RecordEvents(context.Background(), &commercev1.RecordEventsRequest{Events: batch})
	wantErr(t, err, codes.Unauthenticated, "TOKEN_MISSING", "")
}

func TestListEventsNewestFirstInTheCallersLanguage(t *testing.T) {
	h := serve(t, t.TempDir(), newSigner(t))
	svc := h.service(t)
	// Recorded out of order, in two batches: the feed orders by business time.
	minutes := []int{30, 5, 70, 10, 50, 20, 60}
	var batch []*commercev1.Event
	for i, m := range minutes {
		e := event("acme", fmt.Sprintf("licensing-%02d", i), m)
		e.Description = "written by the sender"
		batch = append(batch, e)
	}
	record(t, h, svc, batch[:4]...)
	record(t, h, svc, batch[4:]...)
	// Another organization's events, interleaved in time, never show.
	record(t, h, svc, event("acme-2", "licensing-00", 40), event("acm", "licensing-00", 45))

	admin := h.token(t, auth.Claims{Subject: "ada", Org: "acme", Roles: []string{auth.GlobalAdmin}}, "accept-language", "fr-CA,fr;q=0.9,en;q=0.5")
	var got []string
	var events []*commercev1.Event
	token := ""
	for page := 0; ; page++ {
		resp, err := h.events.ListEvents(admin, &commercev1.ListEventsRequest{Parent: "organizations/acme", PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{3, 3, 1}[page]; len(resp.Events) != want {
			t.Fatalf("page %d holds %d events, want %d", page, len(resp.Events), want)
		}
		for _, e := range resp.Events {
			got = append(got, e.Name)
			events = append(events, e)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	want := []string{"licensing-02", "licensing-06", "licensing-04", "licensing-00", "licensing-05", "licensing-03", "licensing-01"}
	for i := range want {
		want[i] = "organizations/acme/events/" + want[i]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("feed order\n got %v\nwant %v", got, want)
	}
	for _, e := range events {
		fr := audit.Describe(e, locale.French)
		if e.Description != fr || e.Description == audit.Describe(e, locale.English) {
			t.Fatalf("description %q, want the French %q", e.Description, fr)
		}
	}
	if d := events[0].Description; d != "Ada Lovelace a attribué 2 licences de s-1 à bob, eve." {
		t.Fatalf("description %q", d)
	}

	// Without Accept-Language the feed speaks English.
	_, all := feed(t, h, h.user(t, "acme", "ada", auth.GlobalAdmin), "acme", 50)
	if len(all) != 7 || all[0].Description != "Ada Lovelace assigned 2 licenses of s-1 to bob, eve." {
		t.Fatalf("english feed: %d events, first %q", len(all), all[0].Description)
	}
	if all[0].CreateTime.AsTime() != epoch.Add(70*time.Minute) || all[0].Metadata[audit.MetaCount] != "2" || all[0].Actor != "organizations/acme/users/ada" {
		t.Fatalf("stored event %v", all[0])
	}
}

func TestListEventsAccess(t *testing.T) {
	h := serve(t, t.TempDir(), newSigner(t))
	record(t, h, h.service(t), event("acme", "licensing-01", 1), event("acme", "licensing-02", 2), event("other", "licensing-01", 1))
	list := func(ctx context.Context, req *commercev1.ListEventsRequest) (*commercev1.ListEventsResponse, error) {
		if req.Parent == "" {
			req.Parent = "organizations/acme"
		}
		return h.events.ListEvents(ctx, req)
	}
	for _, role := range []string{auth.GlobalAdmin, auth.BillingAdmin, auth.LicenseAdmin, auth.GlobalReader} {
		resp, err := list(h.user(t, "acme", "reader", role), &commercev1.ListEventsRequest{})
		if err != nil || len(resp.Events) != 2 {
			t.Fatalf("%s: %v %v", role, resp, err)
		}
	}
	if resp, err := list(h.user(t, "", "root", auth.Operator), &commercev1.ListEventsRequest{}); err != nil || len(resp.Events) != 2 {
		t.Fatalf("operator: %v %v", resp, err)
	}

	_, err := list(h.user(t, "acme", "bob"), &commercev1.ListEventsRequest{})
	wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	otherAdmin := h.user(t, "other", "root", auth.GlobalAdmin)
	_, err = list(otherAdmin, &commercev1.ListEventsRequest{})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	// An organization that does not exist answers the same.
	_, err = list(otherAdmin, &commercev1.ListEventsRequest{Parent: "organizations/ghost"})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = list(otherAdmin, &commercev1.ListEventsRequest{Parent: "orgs/other"})
	wantErr(t, err, codes.InvalidArgument, "INVALID_RESOURCE_NAME", "parent")
	_, err = list(context.Background(), &commercev1.ListEventsRequest{})
	wantErr(t, err, codes.Unauthenticated, "TOKEN_MISSING", "")

	reader := h.user(t, "acme", "gr", auth.GlobalReader)
	_, err = list(reader, &commercev1.ListEventsRequest{PageToken: "not-a-token"})
	wantErr(t, err, codes.InvalidArgument, "INVALID_PAGE_TOKEN", "page_token")
	_, err = list(reader, &commercev1.ListEventsRequest{PageSize: -1})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "page_size")
	// A token of another organization's feed is refused.
	record(t, h, h.service(t), event("other", "licensing-02", 2))
	first, err := list(otherAdmin, &commercev1.ListEventsRequest{Parent: "organizations/other", PageSize: 1})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("other feed: %v %v", first, err)
	}
	_, err = list(reader, &commercev1.ListEventsRequest{PageSize: 1, PageToken: first.NextPageToken})
	wantErr(t, err, codes.InvalidArgument, "INVALID_PAGE_TOKEN", "page_token")
}

func TestEventsSurviveRestart(t *testing.T) {
	dir, signer := t.TempDir(), newSigner(t)
	h := serve(t, dir, signer)
	batch := []*commercev1.Event{event("acme", "licensing-01", 1), event("acme", "licensing-02", 2)}
	record(t, h, h.service(t), batch...)
	h.stop()

	h = serve(t, dir, signer)
	if n := record(t, h, h.service(t), batch...); n != 0 {
		t.Fatalf("redelivery after restart recorded %d, want 0", n)
	}
	if got, _ := feed(t, h, h.user(t, "acme", "ada", auth.GlobalReader), "acme", 1); len(got) != 2 {
		t.Fatalf("after restart the feed holds %v", got)
	}
}
