package billing_test

import (
	"context"
	"google.golang.org/protobuf/proto"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/billing"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
	"github.com/selfserve/selfserve/services/licensing"
)

type env struct {
	servetest.Tokens
	signer   *auth.Signer
	comp     *billing.Component
	dataDir  string
	logs     *servetest.Buffer
	accounts billingv1.BillingAccountServiceClient
	invoices billingv1.InvoiceServiceClient
	charges  billingv1.ChargeServiceClient
	clock    operatorv1.ClockServiceClient
	stop     func()
}

// start runs the seeded licensing directory and a billing service over
// loopback, with the manual clock, logging into one buffer.
func start(t *testing.T) *env {
	t.Helper()
	signer := servetest.NewSigner(t)
	logs := &servetest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lic, err := licensing.Open(licensing.Config{DataDir: t.TempDir(), Clock: "manual", Seed: true, Signer: signer, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	licAddr, _ := servetest.ServeTCP(t, lic.Serve, lic.Close)
	dir := t.TempDir()
	comp, err := billing.Open(billing.Config{DataDir: dir, Clock: "manual", LicensingAddr: licAddr, Signer: signer, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := servetest.Serve(t, comp.Serve, comp.Close)
	return &env{Tokens: servetest.Tokens{Signer: signer}, signer: signer, comp: comp, dataDir: dir, logs: logs, stop: stop,
		accounts: billingv1.NewBillingAccountServiceClient(conn), invoices: billingv1.NewInvoiceServiceClient(conn),
		charges: billingv1.NewChargeServiceClient(conn), clock: operatorv1.NewClockServiceClient(conn)}
}

func (e *env) as(t *testing.T, org, sub string, roles ...string) context.Context {
	return e.User(t, org, sub, roles...)
}

func (e *env) service(t *testing.T) context.Context { return e.Service(t, "commerce") }

func (e *env) advance(t *testing.T, d time.Duration) {
	t.Helper()
	if _, err := e.clock.AdvanceClock(e.Operator(t), &operatorv1.AdvanceClockRequest{Duration: durationpb.New(d)}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) account(t *testing.T, ctx context.Context, country string) *billingv1.BillingAccount {
	t.Helper()
	a, err := e.accounts.CreateBillingAccount(ctx, &billingv1.CreateBillingAccountRequest{Parent: "organizations/" + orgOf(ctx, t, e),
		BillingAccount: &billingv1.BillingAccount{DisplayName: "My account", SoldTo: &billingv1.Address{CountryCode: country, City: "Stockholm"}}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// orgOf reads the organization of a test context's token.
func orgOf(ctx context.Context, t *testing.T, e *env) string {
	md, _ := metadata.FromOutgoingContext(ctx)
	tok := md.Get("authorization")[0][len("Bearer "):]
	c, err := e.signer.Verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.Org
}

func card(number, code string, month, year int32) *billingv1.PaymentMethod {
	return &billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Card{Card: &billingv1.Card{
		Number: proto.String(number), SecurityCode: proto.String(code), ExpMonth: month, ExpYear: year, HolderName: "Max Holm",
		Address: &billingv1.Address{CountryCode: "SE", City: "Stockholm"}}}}
}

func (e *env) addCard(t *testing.T, ctx context.Context, account, number, code string) *billingv1.PaymentMethod {
	t.Helper()
	pm, err := e.accounts.CreatePaymentMethod(ctx, &billingv1.CreatePaymentMethodRequest{Parent: account, PaymentMethod: card(number, code, 12, int32(time.Now().Year()+2))})
	if err != nil {
		t.Fatalf("add card ending %s: %v", number[len(number)-4:], err)
	}
	return pm
}

func (e *env) useMethods(t *testing.T, ctx context.Context, profile, primary, backup string) {
	t.Helper()
	_, err := e.accounts.UpdateBillingProfile(ctx, &billingv1.UpdateBillingProfileRequest{
		BillingProfile: &billingv1.BillingProfile{Name: profile, PaymentMethod: primary, BackupPaymentMethod: backup},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"payment_method", "backup_payment_method"}}})
	if err != nil {
		t.Fatal(err)
	}
}
