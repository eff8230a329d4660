// Package commerce is the commerce component: the catalog, self-service
// policies, subscriptions and their lifecycle, and the organization's audit
// feed, served over gRPC from its own bbolt store.
package commerce

import (
	"log/slog"
	"path/filepath"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/server"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// Domain is the ErrorInfo domain of the service's errors.
const Domain = "commerce.selfserve"

// Config configures the component.
type Config struct {
	DataDir       string // holds commerce.db
	Clock         string // "system" or "manual"
	Seed          bool   // seed the catalog on first start
	LicensingAddr string // the licensing service it calls
	BillingAddr   string // the billing service it calls
	Signer        *auth.Signer
	Logger        *slog.Logger
}

// Component is a ready-to-serve commerce service.
type Component struct {
	*serve.Service
	Store *store.Store
}

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	st, err := store.Open(filepath.Join(cfg.DataDir, "commerce.db"))
	if err != nil {
		return nil, err
	}
	svc, err := serve.NewService(serve.ServiceConfig{Name: "commerce", Domain: Domain, DB: st.DB, ClockMode: cfg.Clock, Signer: cfg.Signer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	commercev1.RegisterEventServiceServer(svc, &server.Events{Store: st})
	commercev1.RegisterAuditServiceServer(svc, &server.Audit{Store: st})
	// Payment events wait in the inbox for the subscriptions' lifecycle.
	commercev1.RegisterPaymentEventServiceServer(svc, &server.Payments{Store: st})
	// The catalog and subscriptions come with their own issue; until then
	// they answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
	commercev1.RegisterCatalogServiceServer(svc, commercev1.UnimplementedCatalogServiceServer{})
	commercev1.RegisterSubscriptionServiceServer(svc, commercev1.UnimplementedSubscriptionServiceServer{})
	return &Component{Service: svc, Store: st}, nil
}
