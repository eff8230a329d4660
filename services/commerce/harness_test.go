package commerce_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

// harness is a commerce component served over bufconn, through the real
// interceptor chain, on a bbolt file in a temporary directory.
type harness struct {
	servetest.Tokens
	signer *auth.Signer
	events commercev1.EventServiceClient
	audit  commercev1.AuditServiceClient
	pay    commercev1.PaymentEventServiceClient
	hooks  commercev1.WebhookServiceClient
	comp   *commerce.Component
	stop   func()
}

// catalogHarness is a harness with the catalog seeded, as `selfserve dev`
// starts.
type catalogHarness struct {
	*harness
	catalog commercev1.CatalogServiceClient
}

func newSigner(t *testing.T) *auth.Signer { return servetest.NewSigner(t) }

func open(t *testing.T, dataDir string, signer *auth.Signer, seed bool, with ...func(*commerce.Config)) *catalogHarness {
	t.Helper()
	cfg := commerce.Config{DataDir: dataDir, Clock: "system", Seed: seed, Signer: signer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, w := range with {
		w(&cfg)
	}
	c, err := commerce.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := servetest.Serve(t, c.Serve, c.Close)
	return &catalogHarness{
		harness: &harness{Tokens: servetest.Tokens{Signer: signer}, signer: signer, comp: c, stop: stop,
			events: commercev1.NewEventServiceClient(conn), audit: commercev1.NewAuditServiceClient(conn),
			pay: commercev1.NewPaymentEventServiceClient(conn), hooks: commercev1.NewWebhookServiceClient(conn)},
		catalog: commercev1.NewCatalogServiceClient(conn),
	}
}

// serve runs a commerce component without a seeded catalog.
func serve(t *testing.T, dataDir string, signer *auth.Signer) *harness {
	t.Helper()
	return open(t, dataDir, signer, false).harness
}

// serveCatalog is serve with Config.Seed set.
func serveCatalog(t *testing.T, dataDir string, signer *auth.Signer) *catalogHarness {
	t.Helper()
	return open(t, dataDir, signer, true)
}

// token returns an outgoing context carrying a signed token, plus any extra
// metadata pairs (such as accept-language).
func (h *harness) token(t *testing.T, c auth.Claims, md ...string) context.Context {
	return h.As(t, c, md...)
}

func (h *harness) service(t *testing.T) context.Context { return h.Service(t, "licensing") }

func (h *harness) user(t *testing.T, org, sub string, roles ...string) context.Context {
	return h.User(t, org, sub, roles...)
}

// wantErr checks the code, the ErrorInfo reason and, when field is set, the
// field the error names, and that the error is commerce's.
func wantErr(t *testing.T, err error, code codes.Code, reason, field string) {
	t.Helper()
	servetest.WantStatus(t, err, code, reason, field)
	if d := servetest.ErrorInfo(err).GetDomain(); d != commerce.Domain {
		t.Fatalf("domain %q, want %q: %v", d, commerce.Domain, err)
	}
}
