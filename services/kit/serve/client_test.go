package serve_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/serve"
)

func TestOutgoing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		incoming metadata.MD
		id       *auth.Identity
		wantAuth []string
		wantLang []string
	}{
		{
			name:     "verified caller and language",
			incoming: metadata.Pairs("authorization", "Bearer tok-123", "accept-language", "sv-SE"),
			id:       &auth.Identity{Claims: auth.Claims{Subject: "alice", Org: "contoso"}, Token: "tok-123"},
			wantAuth: []string{"Bearer tok-123"},
			wantLang: []string{"sv-SE"},
		},
		{
			name:     "an unverified token is never passed on",
			incoming: metadata.Pairs("authorization", "Bearer forged", "accept-language", "fr"),
			wantLang: []string{"fr"},
		},
		{
			name:     "identity without language",
			incoming: metadata.Pairs("authorization", "Bearer tok-9"),
			id:       &auth.Identity{Claims: auth.Claims{Subject: "op", Roles: []string{auth.Operator}}, Token: "tok-9"},
			wantAuth: []string{"Bearer tok-9"},
		},
		{name: "nothing to pass on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.incoming != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.incoming)
			}
			if tc.id != nil {
				ctx = auth.WithIdentity(ctx, tc.id)
			}
			md, _ := metadata.FromOutgoingContext(serve.Outgoing(ctx))
			if got := md.Get("authorization"); !equal(got, tc.wantAuth) {
				t.Errorf("authorization %q, want %q", got, tc.wantAuth)
			}
			if got := md.Get("accept-language"); !equal(got, tc.wantLang) {
				t.Errorf("accept-language %q, want %q", got, tc.wantLang)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOutgoingOnBehalf has a handler call another service with Outgoing: the
// callee verifies the caller's own token and answers in the caller's
// language, and its error reaches the caller with its code and reason.
func TestOutgoingOnBehalf(t *testing.T) {
	ts := start(t, time.Second)
	client := licensingv1.NewDirectoryServiceClient(ts.conn)
	req := &licensingv1.GetOrganizationRequest{Name: "organizations/clock"}

	op := ts.token(t, auth.Claims{Subject: "op", Roles: []string{auth.Operator}})
	org, err := client.GetOrganization(withMD("authorization", "Bearer "+op), req)
	if err != nil {
		t.Fatalf("operator on behalf: %v", err)
	}
	if org.GetDisplayName() != "2030-01-02T03:04:05Z" {
		t.Errorf("the callee's clock reads %q", org.GetDisplayName())
	}

	admin := ts.token(t, auth.Claims{Subject: "alice", Org: "contoso", Roles: []string{auth.GlobalAdmin}})
	_, err = client.GetOrganization(withMD("authorization", "Bearer "+admin, "accept-language", "sv-SE"), req)
	_, _, msg := wantStatus(t, err, codes.PermissionDenied, errs.PermissionDenied.Name)
	if msg.GetLocale() != "sv" {
		t.Errorf("the callee answered in %q, want sv", msg.GetLocale())
	}
}

func TestDial(t *testing.T) {
	srv := serve.NewServer("licensing", domain, slog.New(slog.DiscardHandler), newSigner(t, 7))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	conn, err := serve.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health over TCP: %v %v", resp, err)
	}
}
