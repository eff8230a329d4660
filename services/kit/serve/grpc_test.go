package serve_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/serve"
)

const (
	domain        = "licensing.selfserve"
	directoryName = "selfserve.licensing.v1.DirectoryService"
	clockName     = "selfserve.operator.v1.ClockService"
	backupName    = "selfserve.operator.v1.BackupService"
)

// directory is a DirectoryService whose GetOrganization does what the
// organization id in the request asks, so that one registered service covers
// every path through the interceptors.
type directory struct {
	licensingv1.UnimplementedDirectoryServiceServer

	// clock is a connection to a ClockService called on the caller's behalf.
	clock *grpc.ClientConn
	// entered is told when a "block" call is in its handler; release ends it.
	entered chan struct{}
	release chan struct{}

	mu    sync.Mutex
	calls int
	seen  *auth.Identity
}

func (d *directory) GetOrganization(ctx context.Context, req *licensingv1.GetOrganizationRequest) (*licensingv1.Organization, error) {
	d.mu.Lock()
	d.calls++
	d.seen = auth.FromContext(ctx)
	d.mu.Unlock()
	switch strings.TrimPrefix(req.GetName(), "organizations/") {
	case "panic":
		panic("boom: the handler fell over")
	case "secret":
		return nil, errors.New("secret detail: password=hunter2")
	case "too-many":
		return nil, errs.New(errs.TooManyUsers, "21 users given, at most 20").With("max", "20")
	case "deadline":
		return nil, context.DeadlineExceeded
	case "block":
		d.entered <- struct{}{}
		select {
		case <-d.release:
			return &licensingv1.Organization{Name: req.GetName()}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "clock":
		c, err := operatorv1.NewClockServiceClient(d.clock).GetClock(serve.Outgoing(ctx), &operatorv1.GetClockRequest{})
		if err != nil {
			return nil, err
		}
		return &licensingv1.Organization{Name: req.GetName(), DisplayName: c.GetNow().AsTime().Format(time.RFC3339)}, nil
	}
	return &licensingv1.Organization{Name: req.GetName()}, nil
}

func (d *directory) lastCall() (int, *auth.Identity) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls, d.seen
}

// backups is a BackupService whose stream does what the request's name asks,
// so that a registered server stream goes through the stream interceptors.
type backups struct {
	operatorv1.UnimplementedBackupServiceServer

	mu    sync.Mutex
	calls int
	seen  *auth.Identity
}

func (b *backups) Backup(req *operatorv1.BackupRequest, stream grpc.ServerStreamingServer[operatorv1.BackupChunk]) error {
	b.mu.Lock()
	b.calls++
	b.seen = auth.FromContext(stream.Context())
	b.mu.Unlock()
	switch req.GetName() {
	case "panic":
		panic("boom: the stream fell over")
	case "secret":
		return errors.New("secret detail: password=hunter2")
	case "denied":
		return errs.Denied("not yours")
	}
	for _, part := range []string{"one", "two"} {
		if err := stream.Send(&operatorv1.BackupChunk{Data: []byte(part)}); err != nil {
			return err
		}
	}
	return nil
}

func (b *backups) lastCall() (int, *auth.Identity) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls, b.seen
}

type testServer struct {
	signer  *auth.Signer
	dir     *directory
	backups *backups
	conn    *grpc.ClientConn
	logs    *logRecorder
	cancel  context.CancelFunc
	// done is closed when Serve has returned serveErr.
	done     chan struct{}
	serveErr error
}

// stop cancels Serve's context and returns what Serve returned.
func (s *testServer) stop(t *testing.T, within time.Duration) error {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
		return s.serveErr
	case <-time.After(within):
		t.Fatalf("Serve did not return within %v of cancel", within)
		return nil
	}
}

func newSigner(t *testing.T, b byte) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs a real server on an in-memory listener with the DirectoryService
// and BackupService fakes and a manual ClockService, and a client connected
// to it.
func start(t *testing.T, grace time.Duration) *testServer {
	t.Helper()
	logs := &logRecorder{}
	signer := newSigner(t, 7)
	srv := serve.NewServer("licensing", domain, slog.New(logs), signer)
	dir := &directory{entered: make(chan struct{}, 1), release: make(chan struct{})}
	licensingv1.RegisterDirectoryServiceServer(srv, dir)
	bk := &backups{}
	operatorv1.RegisterBackupServiceServer(srv, bk)
	operatorv1.RegisterClockServiceServer(srv, &clockrpc.Server{
		Service: "licensing",
		Clock:   clock.NewManual(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), nil),
	})
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{signer: signer, dir: dir, backups: bk, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		ts.serveErr = srv.Serve(ctx, lis, grace)
		close(ts.done)
	}()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	dir.clock = conn
	ts.conn = conn
	t.Cleanup(func() {
		conn.Close()
		cancel()
		select {
		case <-ts.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return at cleanup")
		}
	})
	return ts
}

func (s *testServer) token(t *testing.T, c auth.Claims) string {
	t.Helper()
	if c.Expires == 0 {
		c.IssuedAt = time.Now().Unix()
		c.Expires = time.Now().Add(time.Hour).Unix()
	}
	tok, err := s.signer.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// withMD returns a context with outgoing metadata of key, value pairs.
func withMD(kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), kv...)
}

// details returns the ErrorInfo and LocalizedMessage of an error's status.
func details(t *testing.T, err error) (*status.Status, *errdetails.ErrorInfo, *errdetails.LocalizedMessage) {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status: %v", err)
	}
	var info *errdetails.ErrorInfo
	var msg *errdetails.LocalizedMessage
	for _, d := range s.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.LocalizedMessage:
			msg = d
		}
	}
	if info == nil || msg == nil {
		t.Fatalf("status %v lacks ErrorInfo or LocalizedMessage: %v", s.Code(), s.Details())
	}
	return s, info, msg
}

// wantStatus checks an error's code, reason and domain.
func wantStatus(t *testing.T, err error, code codes.Code, reason string) (*status.Status, *errdetails.ErrorInfo, *errdetails.LocalizedMessage) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %s", code, reason)
	}
	s, info, msg := details(t, err)
	if s.Code() != code || info.GetReason() != reason || info.GetDomain() != domain {
		t.Fatalf("got %v %s (domain %q) %q, want %v %s (domain %q)", s.Code(), info.GetReason(), info.GetDomain(), s.Message(), code, reason, domain)
	}
	return s, info, msg
}

func TestAuthRefusals(t *testing.T) {
	ts := start(t, time.Second)
	other := newSigner(t, 8)
	foreign, err := other.Sign(auth.Claims{Subject: "mallory", Org: "contoso", Roles: []string{auth.GlobalAdmin}, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expired := ts.token(t, auth.Claims{Subject: "alice", Org: "contoso", IssuedAt: time.Now().Add(-2 * time.Hour).Unix(), Expires: time.Now().Add(-time.Minute).Unix()})
	valid := ts.token(t, auth.Claims{Subject: "alice", Org: "contoso"})

	for _, tc := range []struct {
		name     string
		md       []string
		reason   errs.Reason
		wantLang string
	}{
		{"no metadata", nil, errs.TokenMissing, "en"},
		{"no token, Swedish", []string{"accept-language", "sv-SE"}, errs.TokenMissing, "sv"},
		{"no token, French with quality", []string{"accept-language", "de;q=0.9, fr-CA;q=0.8"}, errs.TokenMissing, "fr"},
		{"no token, Chinese", []string{"accept-language", "zh-Hans"}, errs.TokenMissing, "zh-CN"},
		{"no token, unsupported language", []string{"accept-language", "ja"}, errs.TokenMissing, "en"},
		{"empty authorization", []string{"authorization", ""}, errs.TokenMissing, "en"},
		{"basic scheme", []string{"authorization", "Basic xyz"}, errs.TokenInvalid, "en"},
		{"basic scheme with a valid token", []string{"authorization", "Basic " + valid}, errs.TokenInvalid, "en"},
		{"bearer without token", []string{"authorization", "Bearer"}, errs.TokenMissing, "en"},
		{"bearer blank token", []string{"authorization", "Bearer   "}, errs.TokenMissing, "en"},
		{"bare token", []string{"authorization", valid}, errs.TokenInvalid, "en"},
		{"garbage", []string{"authorization", "Bearer not-a-jwt"}, errs.TokenInvalid, "en"},
		{"tampered signature", []string{"authorization", "Bearer " + valid[:len(valid)-4] + "AAAA"}, errs.TokenInvalid, "en"},
		{"other key", []string{"authorization", "Bearer " + foreign, "accept-language", "fr"}, errs.TokenInvalid, "fr"},
		{"expired", []string{"authorization", "Bearer " + expired, "accept-language", "sv-SE"}, errs.TokenExpired, "sv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := ts.dir.lastCall()
			_, err := licensingv1.NewDirectoryServiceClient(ts.conn).GetOrganization(withMD(tc.md...), &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"})
			_, _, msg := wantStatus(t, err, codes.Unauthenticated, tc.reason.Name)
			if msg.GetLocale() != tc.wantLang {
				t.Errorf("LocalizedMessage locale %q, want %q", msg.GetLocale(), tc.wantLang)
			}
			if want := errs.Localize(tc.reason, locale.Match(tc.wantLang)); msg.GetMessage() != want || want == "" {
				t.Errorf("LocalizedMessage %q, want %q", msg.GetMessage(), want)
			}
			if after, _ := ts.dir.lastCall(); after != before {
				t.Error("the handler ran for a refused caller")
			}
		})
	}
}

func TestAuthVerifiedCaller(t *testing.T) {
	ts := start(t, time.Second)
	tok := ts.token(t, auth.Claims{Subject: "alice", Org: "contoso", Roles: []string{auth.GlobalAdmin, auth.BillingAdmin}})
	for name, header := range map[string]string{
		"bearer":            "Bearer " + tok,
		"lower-case scheme": "bearer " + tok,
		"extra spaces":      "Bearer  " + tok + " ",
	} {
		t.Run(name, func(t *testing.T) {
			org, err := licensingv1.NewDirectoryServiceClient(ts.conn).GetOrganization(withMD("authorization", header), &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"})
			if err != nil {
				t.Fatal(err)
			}
			if org.GetName() != "organizations/contoso" {
				t.Errorf("response %v", org)
			}
			_, id := ts.dir.lastCall()
			if id == nil {
				t.Fatal("handler saw no identity")
			}
			if id.Subject != "alice" || id.Org != "contoso" || !slices.Equal(id.Roles, []string{auth.GlobalAdmin, auth.BillingAdmin}) {
				t.Errorf("identity %+v", id.Claims)
			}
			if id.Token != tok {
				t.Errorf("identity token %q, want the bearer token %q", id.Token, tok)
			}
		})
	}
}

// backup runs a Backup stream to its end and returns the data it carried.
func (s *testServer) backup(ctx context.Context, name string) (string, error) {
	stream, err := operatorv1.NewBackupServiceClient(s.conn).Backup(ctx, &operatorv1.BackupRequest{Name: name})
	if err != nil {
		return "", err
	}
	var got []byte
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return string(got), nil
		}
		if err != nil {
			return string(got), err
		}
		got = append(got, c.GetData()...)
	}
}

func TestStreamAuth(t *testing.T) {
	ts := start(t, time.Second)
	expired := ts.token(t, auth.Claims{Subject: "alice", IssuedAt: time.Now().Add(-2 * time.Hour).Unix(), Expires: time.Now().Add(-time.Minute).Unix()})
	for _, tc := range []struct {
		name     string
		md       []string
		reason   errs.Reason
		wantLang string
	}{
		{"no token", nil, errs.TokenMissing, "en"},
		{"no token, Swedish", []string{"accept-language", "sv-SE"}, errs.TokenMissing, "sv"},
		{"garbage", []string{"authorization", "Bearer not-a-jwt", "accept-language", "fr"}, errs.TokenInvalid, "fr"},
		{"expired", []string{"authorization", "Bearer " + expired}, errs.TokenExpired, "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := ts.backups.lastCall()
			got, err := ts.backup(withMD(tc.md...), "")
			_, _, msg := wantStatus(t, err, codes.Unauthenticated, tc.reason.Name)
			if msg.GetLocale() != tc.wantLang {
				t.Errorf("LocalizedMessage locale %q, want %q", msg.GetLocale(), tc.wantLang)
			}
			if got != "" {
				t.Errorf("a refused stream carried %q", got)
			}
			if after, _ := ts.backups.lastCall(); after != before {
				t.Error("the handler ran for a refused caller")
			}
		})
	}

	tok := ts.token(t, auth.Claims{Subject: "root", Roles: []string{auth.Operator}})
	got, err := ts.backup(withMD("authorization", "Bearer "+tok), "")
	if err != nil || got != "onetwo" {
		t.Fatalf("stream: %q %v", got, err)
	}
	_, id := ts.backups.lastCall()
	if id == nil || id.Subject != "root" || !id.IsOperator() || id.Token != tok {
		t.Fatalf("the stream handler saw identity %+v", id)
	}
	logged := false
	for _, r := range ts.logs.all() {
		if r.Message == "rpc" && r.attrs["method"] == operatorv1.BackupService_Backup_FullMethodName && r.attrs["code"] == codes.OK.String() {
			logged = r.attrs["sub"] == "root"
		}
	}
	if !logged {
		t.Errorf("no log line of the stream naming its caller; have %v", ts.logs.all())
	}
}

func TestStreamHandlerErrors(t *testing.T) {
	ts := start(t, time.Second)
	ctx := withMD("authorization", "Bearer "+ts.token(t, auth.Claims{Subject: "root", Roles: []string{auth.Operator}}), "accept-language", "fr-FR")
	for _, tc := range []struct {
		name   string
		code   codes.Code
		reason errs.Reason
	}{
		{"panic", codes.Internal, errs.Internal},
		{"secret", codes.Internal, errs.Internal},
		{"denied", codes.PermissionDenied, errs.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.backup(ctx, tc.name)
			s, info, msg := wantStatus(t, err, tc.code, tc.reason.Name)
			if msg.GetLocale() != "fr" || msg.GetMessage() != errs.Localize(tc.reason, locale.French) {
				t.Errorf("LocalizedMessage %s %q", msg.GetLocale(), msg.GetMessage())
			}
			for _, leak := range []string{"hunter2", "secret", "boom"} {
				if strings.Contains(s.Message(), leak) || strings.Contains(info.String(), leak) {
					t.Errorf("status leaks %q: %v", leak, s.Proto())
				}
			}
		})
	}
	if got, err := ts.backup(ctx, ""); err != nil || got != "onetwo" {
		t.Fatalf("stream after a panic: %q %v", got, err)
	}
	if !ts.logs.has(slog.LevelError, "panic") || !ts.logs.has(slog.LevelError, "rpc failed") {
		t.Error("the panic or the internal error was not logged as an error")
	}
}

func TestHandlerErrors(t *testing.T) {
	ts := start(t, time.Second)
	ctx := withMD("authorization", "Bearer "+ts.token(t, auth.Claims{Subject: "alice", Org: "contoso"}), "accept-language", "fr-FR")
	client := licensingv1.NewDirectoryServiceClient(ts.conn)

	for _, tc := range []struct {
		org    string
		code   codes.Code
		reason errs.Reason
	}{
		{"panic", codes.Internal, errs.Internal},
		{"secret", codes.Internal, errs.Internal},
		{"too-many", codes.InvalidArgument, errs.TooManyUsers},
		{"deadline", codes.DeadlineExceeded, errs.DeadlineExceeded},
	} {
		t.Run(tc.org, func(t *testing.T) {
			_, err := client.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/" + tc.org})
			s, info, msg := wantStatus(t, err, tc.code, tc.reason.Name)
			if msg.GetLocale() != "fr" || msg.GetMessage() != errs.Localize(tc.reason, locale.French) {
				t.Errorf("LocalizedMessage %s %q", msg.GetLocale(), msg.GetMessage())
			}
			for _, leak := range []string{"hunter2", "secret", "boom"} {
				if strings.Contains(s.Message(), leak) || strings.Contains(msg.GetMessage(), leak) || strings.Contains(info.String(), leak) {
					t.Errorf("status leaks %q: %v", leak, s.Proto())
				}
			}
			if tc.reason == errs.TooManyUsers && info.GetMetadata()["max"] != "20" {
				t.Errorf("metadata %v, want max=20", info.GetMetadata())
			}
		})
	}

	// The server survived the panic and serves the next call.
	if _, err := client.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"}); err != nil {
		t.Fatalf("call after a panic: %v", err)
	}
	if !ts.logs.has(slog.LevelError, "panic") {
		t.Error("the panic was not logged as an error")
	}
}

func TestUnimplemented(t *testing.T) {
	ts := start(t, time.Second)
	ctx := withMD("authorization", "Bearer "+ts.token(t, auth.Claims{Subject: "alice", Org: "contoso"}), "accept-language", "sv")
	_, err := licensingv1.NewDirectoryServiceClient(ts.conn).ListUsers(ctx, &licensingv1.ListUsersRequest{Parent: "organizations/contoso"})
	_, _, msg := wantStatus(t, err, codes.Unimplemented, errs.NotImplemented.Name)
	if msg.GetLocale() != "sv" {
		t.Errorf("locale %q", msg.GetLocale())
	}

	// A method no service registers still answers with an ErrorInfo, and
	// tells an unauthenticated caller nothing but that it lacks a token.
	var out licensingv1.Organization
	err = ts.conn.Invoke(ctx, "/"+directoryName+"/NoSuchMethod", &licensingv1.GetOrganizationRequest{}, &out)
	wantStatus(t, err, codes.Unimplemented, errs.NotImplemented.Name)
	err = ts.conn.Invoke(ctx, "/selfserve.nosuch.v1.Service/Get", &licensingv1.GetOrganizationRequest{}, &out)
	wantStatus(t, err, codes.Unimplemented, errs.NotImplemented.Name)
	err = ts.conn.Invoke(context.Background(), "/selfserve.nosuch.v1.Service/Get", &licensingv1.GetOrganizationRequest{}, &out)
	wantStatus(t, err, codes.Unauthenticated, errs.TokenMissing.Name)
	// Under a public prefix the stream interceptors let it through to the
	// unknown-method handler.
	err = ts.conn.Invoke(context.Background(), "/grpc.health.v1.Health/NoSuchMethod", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	wantStatus(t, err, codes.Unimplemented, errs.NotImplemented.Name)
}

func TestHealthWithoutToken(t *testing.T) {
	ts := start(t, time.Second)
	health := healthpb.NewHealthClient(ts.conn)
	for _, name := range []string{"", directoryName, clockName} {
		resp, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
		if err != nil {
			t.Fatalf("Check(%q): %v", name, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, want SERVING", name, resp.GetStatus())
		}
	}
	_, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "selfserve.nosuch.v1.Service"})
	wantStatus(t, err, codes.NotFound, errs.ResourceNotFound.Name)
}

func TestReflectionWithoutToken(t *testing.T) {
	ts := start(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{directoryName, clockName, backupName, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListServices = %v, lacks %s", names, want)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
}

func TestServeStopsGracefully(t *testing.T) {
	ts := start(t, 5*time.Second)
	ctx := withMD("authorization", "Bearer "+ts.token(t, auth.Claims{Subject: "alice", Org: "contoso"}))
	client := licensingv1.NewDirectoryServiceClient(ts.conn)
	if _, err := client.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"}); err != nil {
		t.Fatal(err)
	}

	// A call in flight when the server stops is allowed to finish.
	result := make(chan error, 1)
	go func() {
		_, err := client.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/block"})
		result <- err
	}()
	<-ts.dir.entered
	ts.cancel()
	select {
	case <-ts.done:
		t.Fatalf("Serve returned (%v) with a call in flight", ts.serveErr)
	case <-time.After(100 * time.Millisecond):
	}
	close(ts.dir.release)
	if err := <-result; err != nil {
		t.Fatalf("call in flight during a graceful stop: %v", err)
	}
	start := time.Now()
	if err := ts.stop(t, 4*time.Second); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("Serve took %v to return after its calls ended", waited)
	}
	if _, err := client.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"}); status.Code(err) != codes.Unavailable {
		t.Errorf("call after stop: %v, want Unavailable", err)
	}
}

func TestServeCutsOffAfterGrace(t *testing.T) {
	const grace = 300 * time.Millisecond
	ts := start(t, grace)
	ctx := withMD("authorization", "Bearer "+ts.token(t, auth.Claims{Subject: "alice", Org: "contoso"}))
	result := make(chan error, 1)
	go func() {
		_, err := licensingv1.NewDirectoryServiceClient(ts.conn).GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/block"})
		result <- err
	}()
	<-ts.dir.entered
	begin := time.Now()
	if err := ts.stop(t, grace+3*time.Second); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if waited := time.Since(begin); waited < grace {
		t.Errorf("Serve returned after %v, before the grace period of %v", waited, grace)
	}
	select {
	case err := <-result:
		if err == nil {
			t.Error("the call that outlived the grace period succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the call that outlived the grace period was not cut off")
	}
	if !ts.logs.has(slog.LevelWarn, "graceful stop timed out; stopping") {
		t.Error("the forced stop was not logged")
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	srv := serve.NewServer("licensing", domain, slog.New(slog.DiscardHandler), newSigner(t, 7))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), lis, time.Second) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve on a closed listener returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on a closed listener did not return")
	}
}

func TestLogsCallerNotRequest(t *testing.T) {
	ts := start(t, time.Second)
	ctx := withMD("authorization", "Bearer "+ts.token(t, auth.Claims{Subject: "alice", Org: "contoso"}))
	_, err := licensingv1.NewDirectoryServiceClient(ts.conn).GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/secret"})
	if status.Code(err) != codes.Internal {
		t.Fatalf("got %v", err)
	}
	r, ok := ts.logs.find("rpc", licensingv1.DirectoryService_GetOrganization_FullMethodName)
	if !ok {
		t.Fatalf("no rpc log line; have %v", ts.logs.all())
	}
	if r.Level != slog.LevelError || r.attrs["code"] != codes.Internal.String() || r.attrs["reason"] != errs.Internal.Name {
		t.Errorf("rpc log line %v %v", r.Level, r.attrs)
	}
	if r.attrs["sub"] != "alice" || r.attrs["org"] != "contoso" {
		t.Errorf("rpc log line does not name the caller: %v", r.attrs)
	}
	for _, rec := range ts.logs.all() {
		for k, v := range rec.attrs {
			if k != "err" && strings.Contains(v, "organizations/secret") {
				t.Errorf("log %q carries the request in %s=%q", rec.Message, k, v)
			}
		}
	}
}

// logRecorder is a slog.Handler that keeps every record with its attributes
// as strings.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	Level   slog.Level
	Message string
	attrs   map[string]string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Message: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) all() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs)
}

func (l *logRecorder) has(level slog.Level, msg string) bool {
	for _, r := range l.all() {
		if r.Level == level && r.Message == msg {
			return true
		}
	}
	return false
}

func (l *logRecorder) find(msg, method string) (logRecord, bool) {
	for _, r := range l.all() {
		if r.Message == msg && r.attrs["method"] == method {
			return r, true
		}
	}
	return logRecord{}, false
}
