// Package billing is the billing component: billing accounts, profiles,
// payment methods, charges and invoices, served over gRPC from its own bbolt
// store.
package billing

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// Domain is the ErrorInfo domain of the service's errors.
const Domain = "billing.selfserve"

// Config configures the component.
type Config struct {
	DataDir      string // holds billing.db
	Clock        string // "system" or "manual"
	CommerceAddr string // the commerce service it tells of unpaid invoices
	Signer       *auth.Signer
	Logger       *slog.Logger
}

// Component is a running-ready billing service.
type Component struct {
	Store  *store.Store
	Clock  clock.Clock
	server *serve.Server
}

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	st, err := store.Open(filepath.Join(cfg.DataDir, "billing.db"))
	if err != nil {
		return nil, err
	}
	clk, err := clockrpc.Open(cfg.Clock, st.DB)
	if err != nil {
		st.Close()
		return nil, err
	}
	srv := serve.NewServer("billing", Domain, cfg.Logger, cfg.Signer)
	// Accounts, payment methods and invoices come with the billing issue;
	// until then they answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
	billingv1.RegisterBillingAccountServiceServer(srv, billingv1.UnimplementedBillingAccountServiceServer{})
	billingv1.RegisterInvoiceServiceServer(srv, billingv1.UnimplementedInvoiceServiceServer{})
	operatorv1.RegisterClockServiceServer(srv, &clockrpc.Server{Service: "billing", Clock: clk})
	return &Component{Store: st, Clock: clk, server: srv}, nil
}

// Serve serves on lis until ctx is done, then stops gracefully.
func (c *Component) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	return c.server.Serve(ctx, lis, grace)
}

// Close closes the store; call it after Serve returned.
func (c *Component) Close() error { return c.Store.Close() }
