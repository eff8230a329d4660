package clockrpc_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/serve"
)

const domain = "commerce.selfserve"

var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

func openDB(t *testing.T, path string) kv.DB {
	t.Helper()
	db, err := kv.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenSystem(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "c.db"))
	for _, mode := range []string{"", "system"} {
		c, err := clockrpc.Open(mode, db)
		if err != nil {
			t.Fatalf("Open(%q): %v", mode, err)
		}
		if _, ok := c.(clock.System); !ok {
			t.Errorf("Open(%q) = %T, want clock.System", mode, c)
		}
	}
	if at, err := kv.LoadClock(db); err != nil || !at.IsZero() {
		t.Errorf("a system clock stored a position: %v %v", at, err)
	}
}

func TestOpenRefusesUnknownMode(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "c.db"))
	for _, mode := range []string{"bogus", "Manual", "manual "} {
		if c, err := clockrpc.Open(mode, db); err == nil {
			t.Errorf("Open(%q) = %T, want an error", mode, c)
		}
	}
}

func TestOpenManualFirstStart(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "c.db"))
	before := time.Now().UTC().Truncate(time.Second)
	c, err := clockrpc.Open("manual", db)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()
	if _, ok := c.(*clock.Manual); !ok {
		t.Fatalf("Open(manual) = %T", c)
	}
	now := c.Now()
	if now.Before(before) || now.After(after) || now.Location() != time.UTC {
		t.Errorf("a new manual clock starts at %v, want now (%v..%v) in UTC", now, before, after)
	}
	stored, err := kv.LoadClock(db)
	if err != nil || !stored.Equal(now) {
		t.Errorf("stored position %v (%v), want %v", stored, err, now)
	}
}

func TestOpenManualResumes(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "c.db"))
	if err := kv.SaveClock(db, t0); err != nil {
		t.Fatal(err)
	}
	c, err := clockrpc.Open("manual", db)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Now().Equal(t0) {
		t.Errorf("resumed at %v, want the stored %v", c.Now(), t0)
	}
}

// dueRecorder is a RunDue that records the times it was called with.
type dueRecorder struct {
	mu    sync.Mutex
	times []time.Time
	err   error
}

func (d *dueRecorder) run(_ context.Context, now time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.times = append(d.times, now)
	return d.err
}

func (d *dueRecorder) calls() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.times)
}

type fixture struct {
	path   string
	db     kv.DB
	clock  clock.Clock
	due    *dueRecorder
	client operatorv1.ClockServiceClient
	signer *auth.Signer
}

// serveClock runs the ClockService of a manual clock (or a system one) stored
// in a bbolt file, on a real server over an in-memory listener.
func serveClock(t *testing.T, mode string) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "commerce.db")
	db := openDB(t, path)
	if mode == "manual" {
		if err := kv.SaveClock(db, t0); err != nil {
			t.Fatal(err)
		}
	}
	c, err := clockrpc.Open(mode, db)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	due := &dueRecorder{}
	srv := serve.NewServer("commerce", domain, slog.New(slog.DiscardHandler), signer)
	operatorv1.RegisterClockServiceServer(srv, &clockrpc.Server{Service: "commerce", Clock: c, RunDue: due.run})
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, time.Second) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after openDB's cleanup, so it runs first: the server stops
	// before its store closes.
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &fixture{path: path, db: db, clock: c, due: due, client: operatorv1.NewClockServiceClient(conn), signer: signer}
}

// as returns a context whose calls carry a token with roles.
func (f *fixture) as(t *testing.T, org string, roles ...string) context.Context {
	t.Helper()
	tok, err := f.signer.Sign(auth.Claims{Subject: "u1", Org: org, Roles: roles, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func (f *fixture) operator(t *testing.T) context.Context { return f.as(t, "", auth.Operator) }

// stored reads the clock position from the store.
func (f *fixture) stored(t *testing.T) time.Time {
	t.Helper()
	at, err := kv.LoadClock(f.db)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func wantReason(t *testing.T, err error, code codes.Code, reason string) *errdetails.ErrorInfo {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok || err == nil {
		t.Fatalf("got %v, want %v %s", err, code, reason)
	}
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if s.Code() != code || info.GetReason() != reason || info.GetDomain() != domain {
				t.Fatalf("got %v %s (%s) %q, want %v %s (%s)", s.Code(), info.GetReason(), info.GetDomain(), s.Message(), code, reason, domain)
			}
			return info
		}
	}
	t.Fatalf("status %v %q has no ErrorInfo", s.Code(), s.Message())
	return nil
}

func TestAdvanceByDuration(t *testing.T) {
	f := serveClock(t, "manual")
	got, err := f.client.AdvanceClock(f.operator(t), &operatorv1.AdvanceClockRequest{Duration: durationpb.New(36 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want := t0.Add(36 * time.Hour)
	if !got.GetNow().AsTime().Equal(want) || got.GetMode() != operatorv1.Clock_MANUAL || got.GetName() != "clock" || !slices.Equal(got.GetServices(), []string{"commerce"}) {
		t.Errorf("AdvanceClock = %v, want now %v MANUAL clock [commerce]", got, want)
	}
	if !f.clock.Now().Equal(want) {
		t.Errorf("the clock reads %v, want %v", f.clock.Now(), want)
	}
	if at := f.stored(t); !at.Equal(want) {
		t.Errorf("stored %v, want %v", at, want)
	}
	if calls := f.due.calls(); len(calls) != 1 || !calls[0].Equal(want) {
		t.Errorf("RunDue called with %v, want once with %v", calls, want)
	}
	read, err := f.client.GetClock(f.operator(t), &operatorv1.GetClockRequest{Name: "clock"})
	if err != nil || !read.GetNow().AsTime().Equal(want) {
		t.Errorf("GetClock = %v, %v", read, err)
	}

	// A second move adds to the first.
	if _, err := f.client.AdvanceClock(f.operator(t), &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if want = want.Add(time.Second); !f.clock.Now().Equal(want) {
		t.Errorf("after a second move the clock reads %v, want %v", f.clock.Now(), want)
	}
}

func TestAdvanceSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "billing.db")
	db, err := kv.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clockrpc.Open("manual", db)
	if err != nil {
		t.Fatal(err)
	}
	srv := &clockrpc.Server{Service: "billing", Clock: c}
	ctx := auth.WithIdentity(context.Background(), &auth.Identity{Claims: auth.Claims{Subject: "op", Roles: []string{auth.Operator}}})
	moved, err := srv.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Duration: durationpb.New(400 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, path).(*kv.Bolt)
	again, err := clockrpc.Open("manual", db)
	if err != nil {
		t.Fatal(err)
	}
	if want := moved.GetNow().AsTime(); !again.Now().Equal(want) {
		t.Errorf("after a restart the clock reads %v, want %v", again.Now(), want)
	}
}

func TestAdvanceUntil(t *testing.T) {
	f := serveClock(t, "manual")
	ctx := f.operator(t)
	target := t0.Add(72*time.Hour + 30*time.Minute)
	got, err := f.client.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Until: timestamppb.New(target)})
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetNow().AsTime().Equal(target) || !f.stored(t).Equal(target) {
		t.Errorf("until %v: clock %v, stored %v", target, got.GetNow().AsTime(), f.stored(t))
	}

	// A retried or late until moves nothing, and still runs what is due now.
	for _, until := range []time.Time{target, target.Add(-time.Hour), t0} {
		got, err := f.client.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Until: timestamppb.New(until)})
		if err != nil {
			t.Fatalf("until %v: %v", until, err)
		}
		if !got.GetNow().AsTime().Equal(target) || !f.clock.Now().Equal(target) || !f.stored(t).Equal(target) {
			t.Errorf("until %v moved the clock to %v (stored %v), want it to stay at %v", until, f.clock.Now(), f.stored(t), target)
		}
	}
	calls := f.due.calls()
	if len(calls) != 4 {
		t.Fatalf("RunDue called %d times, want 4", len(calls))
	}
	for _, c := range calls {
		if !c.Equal(target) {
			t.Errorf("RunDue called with %v, want %v", c, target)
		}
	}
}

func TestAdvanceLimits(t *testing.T) {
	f := serveClock(t, "manual")
	ctx := f.operator(t)
	if _, err := f.client.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Duration: durationpb.New(clockrpc.MaxAdvance)}); err != nil {
		t.Fatalf("a move of exactly %v: %v", clockrpc.MaxAdvance, err)
	}
	want := t0.Add(clockrpc.MaxAdvance)
	if _, err := f.client.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Until: timestamppb.New(want.Add(clockrpc.MaxAdvance))}); err != nil {
		t.Fatalf("until exactly %v ahead: %v", clockrpc.MaxAdvance, err)
	}
	if want = want.Add(clockrpc.MaxAdvance); !f.clock.Now().Equal(want) {
		t.Errorf("clock %v, want %v", f.clock.Now(), want)
	}
}

func TestAdvanceRefusesBadRequests(t *testing.T) {
	f := serveClock(t, "manual")
	ctx := f.operator(t)
	for _, tc := range []struct {
		name  string
		req   *operatorv1.AdvanceClockRequest
		field string
	}{
		{"neither", &operatorv1.AdvanceClockRequest{}, "duration"},
		{"both", &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Hour), Until: timestamppb.New(t0.Add(2 * time.Hour))}, "duration"},
		{"zero duration", &operatorv1.AdvanceClockRequest{Duration: durationpb.New(0)}, "duration"},
		{"negative duration", &operatorv1.AdvanceClockRequest{Duration: durationpb.New(-time.Hour)}, "duration"},
		{"over 3660 days", &operatorv1.AdvanceClockRequest{Duration: durationpb.New(clockrpc.MaxAdvance + time.Second)}, "duration"},
		{"ten thousand years", &operatorv1.AdvanceClockRequest{Duration: &durationpb.Duration{Seconds: 315_576_000_000}}, "duration"},
		{"invalid duration", &operatorv1.AdvanceClockRequest{Duration: &durationpb.Duration{Seconds: 1, Nanos: -1}}, "duration"},
		{"until too far", &operatorv1.AdvanceClockRequest{Until: timestamppb.New(t0.Add(clockrpc.MaxAdvance + time.Second))}, "until"},
		{"invalid until", &operatorv1.AdvanceClockRequest{Until: &timestamppb.Timestamp{Seconds: t0.Unix(), Nanos: 2_000_000_000}}, "until"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.AdvanceClock(ctx, tc.req)
			info := wantReason(t, err, codes.InvalidArgument, errs.InvalidField.Name)
			if info.GetMetadata()["field"] != tc.field {
				t.Errorf("field %q, want %q", info.GetMetadata()["field"], tc.field)
			}
		})
	}
	if !f.clock.Now().Equal(t0) || !f.stored(t).Equal(t0) {
		t.Errorf("refused requests moved the clock to %v (stored %v)", f.clock.Now(), f.stored(t))
	}
	if calls := f.due.calls(); len(calls) != 0 {
		t.Errorf("refused requests ran RunDue: %v", calls)
	}
}

func TestSystemClockDoesNotMove(t *testing.T) {
	f := serveClock(t, "system")
	_, err := f.client.AdvanceClock(f.operator(t), &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Hour)})
	wantReason(t, err, codes.FailedPrecondition, errs.ClockNotManual.Name)
	if calls := f.due.calls(); len(calls) != 0 {
		t.Errorf("RunDue ran: %v", calls)
	}
	before := time.Now()
	got, err := f.client.GetClock(f.operator(t), &operatorv1.GetClockRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMode() != operatorv1.Clock_SYSTEM || got.GetNow().AsTime().Before(before.Add(-time.Second)) || got.GetNow().AsTime().After(time.Now()) {
		t.Errorf("GetClock = %v, want SYSTEM at the current time", got)
	}
}

func TestOperatorOnly(t *testing.T) {
	f := serveClock(t, "manual")
	for _, tc := range []struct {
		name  string
		org   string
		roles []string
	}{
		{"member", "contoso", nil},
		{"global admin", "contoso", []string{auth.GlobalAdmin}},
		{"every admin role", "contoso", []string{auth.GlobalAdmin, auth.BillingAdmin, auth.LicenseAdmin, auth.GlobalReader}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := f.as(t, tc.org, tc.roles...)
			_, err := f.client.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Hour)})
			wantReason(t, err, codes.PermissionDenied, errs.PermissionDenied.Name)
			_, err = f.client.GetClock(ctx, &operatorv1.GetClockRequest{})
			wantReason(t, err, codes.PermissionDenied, errs.PermissionDenied.Name)
		})
	}
	_, err := f.client.AdvanceClock(context.Background(), &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Hour)})
	wantReason(t, err, codes.Unauthenticated, errs.TokenMissing.Name)
	if !f.clock.Now().Equal(t0) || len(f.due.calls()) != 0 {
		t.Errorf("a refused caller moved the clock to %v or ran RunDue", f.clock.Now())
	}
}

func TestGetClockName(t *testing.T) {
	f := serveClock(t, "manual")
	for _, name := range []string{"", "clock"} {
		got, err := f.client.GetClock(f.operator(t), &operatorv1.GetClockRequest{Name: name})
		if err != nil {
			t.Fatalf("GetClock(%q): %v", name, err)
		}
		if !got.GetNow().AsTime().Equal(t0) || got.GetMode() != operatorv1.Clock_MANUAL {
			t.Errorf("GetClock(%q) = %v", name, got)
		}
	}
	_, err := f.client.GetClock(f.operator(t), &operatorv1.GetClockRequest{Name: "clocks/other"})
	wantReason(t, err, codes.NotFound, errs.ResourceNotFound.Name)
}

func TestRunDueError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"domain error keeps its reason", errs.New(errs.Unavailable, "billing is down"), codes.Unavailable, errs.Unavailable.Name},
		{"plain error is internal", errors.New("renewal job: disk full"), codes.Internal, errs.Internal.Name},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := serveClock(t, "manual")
			f.due.mu.Lock()
			f.due.err = tc.err
			f.due.mu.Unlock()
			_, err := f.client.AdvanceClock(f.operator(t), &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Hour)})
			wantReason(t, err, tc.code, tc.reason)
			if calls := f.due.calls(); len(calls) != 1 || !calls[0].Equal(t0.Add(time.Hour)) {
				t.Errorf("RunDue calls %v", calls)
			}
			// The move stands, so a retry with until runs the jobs again
			// without moving twice.
			f.due.mu.Lock()
			f.due.err = nil
			f.due.mu.Unlock()
			got, err := f.client.AdvanceClock(f.operator(t), &operatorv1.AdvanceClockRequest{Until: timestamppb.New(t0.Add(time.Hour))})
			if err != nil || !got.GetNow().AsTime().Equal(t0.Add(time.Hour)) {
				t.Fatalf("retry: %v %v", got, err)
			}
		})
	}
}

func TestAdvanceWithoutRunDue(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "c.db"))
	if err := kv.SaveClock(db, t0); err != nil {
		t.Fatal(err)
	}
	c, err := clockrpc.Open("manual", db)
	if err != nil {
		t.Fatal(err)
	}
	srv := &clockrpc.Server{Service: "licensing", Clock: c}
	ctx := auth.WithIdentity(context.Background(), &auth.Identity{Claims: auth.Claims{Subject: "op", Roles: []string{auth.Operator}}})
	got, err := srv.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Minute)})
	if err != nil || !got.GetNow().AsTime().Equal(t0.Add(time.Minute)) {
		t.Fatalf("AdvanceClock = %v, %v", got, err)
	}
}

// TestConcurrentAdvances checks that moves by duration add up: each is
// relative to the position it lands on, none is lost to another in flight.
func TestConcurrentAdvances(t *testing.T) {
	f := serveClock(t, "manual")
	ctx := f.operator(t)
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := f.client.AdvanceClock(ctx, &operatorv1.AdvanceClockRequest{Duration: durationpb.New(time.Hour)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	want := t0.Add(n * time.Hour)
	if !f.clock.Now().Equal(want) || !f.stored(t).Equal(want) {
		t.Errorf("%d moves of an hour took the clock to %v (stored %v), want %v", n, f.clock.Now(), f.stored(t), want)
	}
}
