// Package licensing is the licensing component: the directory (organizations,
// users, tokens) and the seat pools, served over gRPC from its own bbolt store.
package licensing

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/licensing/server"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// Domain is the ErrorInfo domain of the service's errors.
const Domain = "licensing.selfserve"

// Config configures the component.
type Config struct {
	DataDir string       // holds licensing.db
	Clock   string       // "system" or "manual"
	Seed    bool         // seed the demo directory on first start
	Signer  *auth.Signer // verifies callers and signs issued tokens
	Logger  *slog.Logger
}

// Component is a running-ready licensing service.
type Component struct {
	Store  *store.Store
	Clock  clock.Clock
	server *serve.Server
}

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	st, err := store.Open(filepath.Join(cfg.DataDir, "licensing.db"))
	if err != nil {
		return nil, err
	}
	clk, err := clockrpc.Open(cfg.Clock, st.DB)
	if err != nil {
		st.Close()
		return nil, err
	}
	if cfg.Seed {
		if err := Seed(st, clk); err != nil {
			st.Close()
			return nil, err
		}
	}
	srv := serve.NewServer("licensing", Domain, cfg.Logger, cfg.Signer)
	licensingv1.RegisterDirectoryServiceServer(srv, &server.Directory{Store: st, Clock: clk, Signer: cfg.Signer})
	// Seat pools and license requests come with their own issue; until then
	// they answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
	licensingv1.RegisterLicensingServiceServer(srv, licensingv1.UnimplementedLicensingServiceServer{})
	licensingv1.RegisterLicenseRequestServiceServer(srv, licensingv1.UnimplementedLicenseRequestServiceServer{})
	operatorv1.RegisterClockServiceServer(srv, &clockrpc.Server{Service: "licensing", Clock: clk})
	return &Component{Store: st, Clock: clk, server: srv}, nil
}

// Serve serves on lis until ctx is done, then stops gracefully.
func (c *Component) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	return c.server.Serve(ctx, lis, grace)
}

// Close closes the store; call it after Serve returned.
func (c *Component) Close() error { return c.Store.Close() }
