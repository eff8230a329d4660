// Package licensing is the licensing component: the directory (organizations,
// users, tokens) and the seat pools, served over gRPC from its own bbolt store.
package licensing

import (
	"log/slog"
	"path/filepath"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
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

// Component is a ready-to-serve licensing service.
type Component struct {
	*serve.Service
	Store *store.Store
}

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	st, err := store.Open(filepath.Join(cfg.DataDir, "licensing.db"))
	if err != nil {
		return nil, err
	}
	svc, err := serve.NewService(serve.ServiceConfig{Name: "licensing", Domain: Domain, DB: st.DB, ClockMode: cfg.Clock, Signer: cfg.Signer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	if cfg.Seed {
		if err := Seed(st, svc.Clock); err != nil {
			svc.Close()
			return nil, err
		}
	}
	licensingv1.RegisterDirectoryServiceServer(svc, &server.Directory{Store: st, Clock: svc.Clock, Signer: cfg.Signer})
	// Seat pools and license requests come with their own issue; until then
	// they answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
	licensingv1.RegisterLicensingServiceServer(svc, licensingv1.UnimplementedLicensingServiceServer{})
	licensingv1.RegisterLicenseRequestServiceServer(svc, licensingv1.UnimplementedLicenseRequestServiceServer{})
	return &Component{Service: svc, Store: st}, nil
}
