package licensing_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
	"github.com/selfserve/selfserve/services/licensing"
)

// env is a licensing component served over bufconn, through the real
// interceptor chain, on a bbolt file.
type env struct {
	servetest.Tokens
	signer *auth.Signer
	comp   *licensing.Component
	dir    licensingv1.DirectoryServiceClient
	lic    licensingv1.LicensingServiceClient
	pools  licensingv1.PoolServiceClient
	req    licensingv1.LicenseRequestServiceClient
	clock  operatorv1.ClockServiceClient
	conn   *grpc.ClientConn
	stop   func()
}

// start runs a licensing component on bufconn over a bbolt file in dataDir.
func start(t testing.TB, dataDir string, clockMode string, seed bool) *env {
	t.Helper()
	return startWith(t, dataDir, clockMode, seed, servetest.NewSigner(t))
}

func startWith(t testing.TB, dataDir, clockMode string, seed bool, signer *auth.Signer) *env {
	t.Helper()
	c, err := licensing.Open(licensing.Config{DataDir: dataDir, Clock: clockMode, Seed: seed, Signer: signer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := servetest.Serve(t, c.Serve, c.Close)
	return &env{Tokens: servetest.Tokens{Signer: signer}, signer: signer, comp: c, conn: conn, stop: stop,
		dir: licensingv1.NewDirectoryServiceClient(conn), clock: operatorv1.NewClockServiceClient(conn),
		lic: licensingv1.NewLicensingServiceClient(conn), pools: licensingv1.NewPoolServiceClient(conn),
		req: licensingv1.NewLicenseRequestServiceClient(conn)}
}

func (e *env) as(t *testing.T, org, sub string, roles ...string) context.Context {
	return e.User(t, org, sub, roles...)
}

func (e *env) asTB(t testing.TB, org, sub string, roles ...string) context.Context {
	return e.User(t, org, sub, roles...)
}

func (e *env) operator(t *testing.T) context.Context { return e.Operator(t) }

func org(name, cc string) *licensingv1.Organization {
	return &licensingv1.Organization{DisplayName: name, CountryCode: cc, Cloud: licensingv1.Organization_GLOBAL}
}

func user(name, email string, roles ...licensingv1.User_Role) *licensingv1.User {
	return &licensingv1.User{DisplayName: name, Email: email, UserType: licensingv1.User_MEMBER, UsageLocation: "SE", Roles: roles}
}
