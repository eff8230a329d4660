// Package billing is the billing component: billing accounts, profiles,
// payment methods, charges and invoices, served over gRPC from its own bbolt
// store.
package billing

import (
	"log/slog"
	"path/filepath"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
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

// Component is a ready-to-serve billing service.
type Component struct {
	*serve.Service
	Store *store.Store
}

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	st, err := store.Open(filepath.Join(cfg.DataDir, "billing.db"))
	if err != nil {
		return nil, err
	}
	svc, err := serve.NewService(serve.ServiceConfig{Name: "billing", Domain: Domain, DB: st.DB, ClockMode: cfg.Clock, Signer: cfg.Signer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	// Accounts, payment methods and invoices come with the billing issue;
	// until then they answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
	billingv1.RegisterBillingAccountServiceServer(svc, billingv1.UnimplementedBillingAccountServiceServer{})
	billingv1.RegisterInvoiceServiceServer(svc, billingv1.UnimplementedInvoiceServiceServer{})
	return &Component{Service: svc, Store: st}, nil
}
