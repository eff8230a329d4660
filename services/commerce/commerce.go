// Package commerce is the commerce component: the catalog, self-service
// policies, subscriptions and their lifecycle, and the organization's audit
// feed, served over gRPC from its own bbolt store.
package commerce

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
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

// Component is a running-ready commerce service.
type Component struct {
	Store  *store.Store
	Clock  clock.Clock
	server *serve.Server
}

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	st, err := store.Open(filepath.Join(cfg.DataDir, "commerce.db"))
	if err != nil {
		return nil, err
	}
	clk, err := clockrpc.Open(cfg.Clock, st.DB)
	if err != nil {
		st.Close()
		return nil, err
	}
	srv := serve.NewServer("commerce", Domain, cfg.Logger, cfg.Signer)
	// The catalog, subscriptions and events come with the commerce issue;
	// until then they answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
	commercev1.RegisterCatalogServiceServer(srv, commercev1.UnimplementedCatalogServiceServer{})
	commercev1.RegisterSubscriptionServiceServer(srv, commercev1.UnimplementedSubscriptionServiceServer{})
	commercev1.RegisterEventServiceServer(srv, commercev1.UnimplementedEventServiceServer{})
	operatorv1.RegisterClockServiceServer(srv, &clockrpc.Server{Service: "commerce", Clock: clk})
	return &Component{Store: st, Clock: clk, server: srv}, nil
}

// Serve serves on lis until ctx is done, then stops gracefully.
func (c *Component) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	return c.server.Serve(ctx, lis, grace)
}

// Close closes the store; call it after Serve returned.
func (c *Component) Close() error { return c.Store.Close() }
