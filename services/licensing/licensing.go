// Package licensing is the licensing component: the directory (organizations,
// users, tokens) and the seat pools, served over gRPC from its own bbolt store.
package licensing

import (
	"context"
	"errors"
	"log/slog"
	"time"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/outbox"
	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/licensing/server"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// Domain is the ErrorInfo domain of the service's errors.
const Domain = "licensing.selfserve"

// Config configures the component.
type Config struct {
	DataDir string // holds licensing.db
	// Store opens the store; nil means bbolt, the file DataDir/licensing.db.
	Store kv.Opener
	// CommerceAddr is where the audit events go (commerce's AuditService);
	// when empty they wait in the outbox.
	CommerceAddr string
	Clock        string       // "system" or "manual"
	Seed         bool         // seed the demo directory on first start
	Signer       *auth.Signer // verifies callers and signs issued tokens
	Logger       *slog.Logger
}

// Component is a ready-to-serve licensing service.
type Component struct {
	*serve.Service
	Store *store.Store
	// Events sends audit events to commerce.
	Events *outbox.Outbox

	closeEvents func() error
}

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	open := cfg.Store
	if open == nil {
		open = kv.Bolts(cfg.DataDir)
	}
	st, err := store.OpenWith(open)
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
	events, closeEvents, err := newEventSender(cfg, st)
	if err != nil {
		svc.Close()
		return nil, err
	}
	svc.Go(events.Run)
	licensingv1.RegisterDirectoryServiceServer(svc, &server.Directory{Store: st, Clock: svc.Clock, Signer: cfg.Signer})
	licensingv1.RegisterLicensingServiceServer(svc, &server.Licensing{Store: st, Clock: svc.Clock, Committed: events.Notify})
	licensingv1.RegisterPoolServiceServer(svc, &server.Pools{Store: st, Clock: svc.Clock, Committed: events.Notify})
	licensingv1.RegisterLicenseRequestServiceServer(svc, &server.Requests{Store: st, Clock: svc.Clock, Committed: events.Notify})
	svc.Clocks.RunDue = func(ctx context.Context, now time.Time) error {
		if _, err := server.PurgeRequests(st, now); err != nil {
			return err
		}
		if err := events.Flush(ctx); err != nil {
			svc.Log().Warn("audit events wait for commerce", "err", err)
		}
		return nil
	}
	return &Component{Service: svc, Store: st, Events: events, closeEvents: closeEvents}, nil
}

// Close closes the connection to commerce and the store; call it after
// Serve returned.
func (c *Component) Close() error {
	return errors.Join(c.closeEvents(), c.Service.Close())
}
