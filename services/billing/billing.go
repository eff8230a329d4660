// Package billing is the billing component: billing accounts, profiles,
// payment methods, charges and invoices, served over gRPC from its own bbolt
// store.
package billing

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/billing/invoicepdf"
	"github.com/selfserve/selfserve/services/billing/processor"
	"github.com/selfserve/selfserve/services/billing/server"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/outbox"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// Domain is the ErrorInfo domain of the service's errors.
const Domain = "billing.selfserve"

// Config configures the component.
type Config struct {
	DataDir string // holds billing.db
	// Store opens the store; nil means bbolt, the file DataDir/billing.db.
	Store         kv.Opener
	Clock         string // "system" or "manual"
	LicensingAddr string // the directory: organizations' clouds, users' types
	CommerceAddr  string // where audit and payment events go
	Signer        *auth.Signer
	Logger        *slog.Logger
	// Processor charges payment methods; the deterministic simulator when nil.
	Processor processor.Processor
	// CJKFont is the font file Chinese invoice PDFs are set in (see
	// invoicepdf.LoadCJKFont); when empty, the first usable one of
	// invoicepdf.CJKFontPaths. Without any, Chinese characters have no glyphs
	// until SetCJKFont gives one.
	CJKFont string
}

// Component is a ready-to-serve billing service.
type Component struct {
	*serve.Service
	Store *store.Store
	// Audit and Payments send events to commerce.
	Audit, Payments *outbox.Outbox
	// Charges runs the payment retries.
	Charges *server.Charges

	conns []*grpc.ClientConn
	deps  *server.Deps
}

// SetCJKFont changes the font Chinese invoice PDFs are set in.
func (c *Component) SetCJKFont(f *invoicepdf.Font) { c.deps.CJKFont.Store(f) }

// CJKFont is the font Chinese invoice PDFs are set in, or nil.
func (c *Component) CJKFont() *invoicepdf.Font { return c.deps.CJKFont.Load() }

// Open opens the store, the clock and the gRPC server.
func Open(cfg Config) (*Component, error) {
	if cfg.LicensingAddr == "" {
		return nil, errors.New("billing: the licensing address is required")
	}
	open := cfg.Store
	if open == nil {
		open = kv.Bolts(cfg.DataDir)
	}
	st, err := store.OpenWith(open)
	if err != nil {
		return nil, err
	}
	svc, err := serve.NewService(serve.ServiceConfig{Name: "billing", Domain: Domain, DB: st.DB, ClockMode: cfg.Clock, Signer: cfg.Signer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	c := &Component{Service: svc, Store: st}
	licensingConn, err := serve.DialService(cfg.LicensingAddr, "billing", cfg.Signer)
	if err != nil {
		svc.Close()
		return nil, err
	}
	c.conns = append(c.conns, licensingConn)
	if err := c.outboxes(cfg); err != nil {
		c.Close()
		return nil, err
	}
	proc := cfg.Processor
	if proc == nil {
		proc = processor.NewSimulator()
	}
	deps := &server.Deps{
		Store: st, Clock: svc.Clock, Directory: newDirectory(licensingConn), Processor: proc,
		Secret:    cfg.Signer.Derive("billing request fingerprints"),
		Committed: func() { c.Audit.Notify(); c.Payments.Notify() },
	}
	if cfg.CJKFont != "" {
		f, err := invoicepdf.LoadCJKFont(cfg.CJKFont)
		if err != nil {
			c.Close()
			return nil, err
		}
		deps.CJKFont.Store(f)
	} else if f, err := invoicepdf.FindCJKFont(); err == nil {
		deps.CJKFont.Store(f)
	}
	if f := deps.CJKFont.Load(); f != nil {
		svc.Log().Info("Chinese invoices set in", "font", f.Path)
	} else {
		svc.Log().Warn("no font with Chinese glyphs: Chinese invoice PDFs show missing-glyph boxes; install fonts-wqy-microhei or give --cjk-font")
	}
	c.deps = deps
	c.Charges = &server.Charges{Deps: deps}
	billingv1.RegisterBillingAccountServiceServer(svc, &server.Accounts{Deps: deps})
	billingv1.RegisterInvoiceServiceServer(svc, &server.Invoices{Deps: deps})
	billingv1.RegisterChargeServiceServer(svc, c.Charges)
	svc.Clocks.RunDue = func(ctx context.Context, now time.Time) error {
		if err := c.Charges.RunDue(ctx, now); err != nil {
			return err
		}
		// What the retries found goes to commerce before the clock move
		// answers, so that commerce acts on it in the same move.
		for _, o := range []*outbox.Outbox{c.Payments, c.Audit} {
			if err := o.Flush(ctx); err != nil {
				svc.Log().Warn("events wait for commerce", "err", err)
			}
		}
		return nil
	}
	svc.Go(c.Audit.Run)
	svc.Go(c.Payments.Run)
	return c, nil
}

// Close closes the connections and the store; call it after Serve returned.
func (c *Component) Close() error {
	var errList []error
	for _, conn := range c.conns {
		errList = append(errList, conn.Close())
	}
	return errors.Join(append(errList, c.Service.Close())...)
}
