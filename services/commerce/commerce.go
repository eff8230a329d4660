// Package commerce is the commerce component: the catalog, self-service
// policies, subscriptions and their lifecycle, the organization's audit
// feed and its webhooks, served over gRPC from its own bbolt store.
package commerce

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/steps"
	"github.com/selfserve/selfserve/services/commerce/subscriptions"
	"github.com/selfserve/selfserve/services/commerce/webhooks"
	"github.com/selfserve/selfserve/services/kit/webhook"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/commerce/server"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// Domain is the ErrorInfo domain of the service's errors.
const Domain = "commerce.selfserve"

// Config configures the component.
type Config struct {
	DataDir string // holds commerce.db
	// Store opens the store; nil means bbolt, the file DataDir/commerce.db.
	Store         kv.Opener
	Clock         string // "system" or "manual"
	Seed          bool   // seed the catalog on first start
	LicensingAddr string // the licensing service it calls
	BillingAddr   string // the billing service it calls
	Signer        *auth.Signer
	Logger        *slog.Logger
	// WebhooksAllowPrivate lets webhook endpoints be http URLs on loopback
	// and private addresses: for tests and closed networks.
	WebhooksAllowPrivate bool
	// AuditRetentionMonths is how many months audit events are kept (by
	// their business time); older ones are removed in the background. 0
	// keeps them forever; Open takes a negative value as 0.
	AuditRetentionMonths int
}

// DefaultAuditRetentionMonths is the audit retention of `selfserve commerce`
// and `selfserve dev`: 13 months, a year and the month before it.
const DefaultAuditRetentionMonths = 13

// Component is a ready-to-serve commerce service.
type Component struct {
	*serve.Service
	Store *store.Store
	// Subscriptions runs the subscriptions; nil without licensing and billing.
	Subscriptions *subscriptions.Service
	// Webhooks sends the feed's events to the organizations' endpoints.
	Webhooks *webhooks.Sender

	conns     []*grpc.ClientConn
	retention int // months
	log       *slog.Logger
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
	svc, err := serve.NewService(serve.ServiceConfig{Name: "commerce", Domain: Domain, DB: st.DB, ClockMode: cfg.Clock, Signer: cfg.Signer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	if cfg.Seed {
		// The seed is the source of truth for the products it defines.
		if err := store.SeedCatalog(st.DB, catalog.Seed); err != nil {
			svc.Close()
			return nil, err
		}
	}
	events := &server.Events{Store: st}
	commercev1.RegisterEventServiceServer(svc, events)
	commercev1.RegisterAuditServiceServer(svc, &server.Audit{Store: st})
	// Payment events wait in the inbox for the subscriptions' lifecycle.
	commercev1.RegisterPaymentEventServiceServer(svc, &server.Payments{Store: st})
	commercev1.RegisterCatalogServiceServer(svc, &server.Catalog{Store: st, Clock: svc.Clock})
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	policy := webhook.Policy{AllowPrivate: cfg.WebhooksAllowPrivate}
	sender := &webhooks.Sender{Store: st, Client: policy.Client(), Describe: events.DescribeForWebhook, Log: log}
	commercev1.RegisterWebhookServiceServer(svc, &server.Webhooks{Store: st, Clock: svc.Clock, Policy: policy, Notify: sender.Notify})
	svc.Go(func(ctx context.Context) { sender.Run(ctx, time.Second) })
	c := &Component{Service: svc, Store: st, Webhooks: sender, retention: max(0, cfg.AuditRetentionMonths), log: log}
	if c.retention > 0 {
		svc.Go(func(ctx context.Context) { c.runRetention(ctx, time.Minute) })
	}
	if cfg.LicensingAddr == "" || cfg.BillingAddr == "" {
		// Without the services it calls, commerce serves its catalog and
		// feed only (as some tests run it); subscriptions answer
		// UNIMPLEMENTED.
		commercev1.RegisterSubscriptionServiceServer(svc, unconfigured{})
		return c, nil
	}
	for _, addr := range []string{cfg.LicensingAddr, cfg.BillingAddr} {
		conn, err := serve.DialService(addr, "commerce", cfg.Signer)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.conns = append(c.conns, conn)
	}
	pools, charges := licensingv1.NewPoolServiceClient(c.conns[0]), billingv1.NewChargeServiceClient(c.conns[1])
	c.Subscriptions = &subscriptions.Service{
		Store: st, Clock: svc.Clock, Log: log,
		Pools: pools, Licenses: licensingv1.NewLicensingServiceClient(c.conns[0]),
		Directory: licensingv1.NewDirectoryServiceClient(c.conns[0]), Charges: charges,
		Steps: &steps.Engine{Store: st, Clock: svc.Clock, Charges: charges, Pools: pools},
	}
	events.UserDisplayName = c.Subscriptions.UserDisplayName
	commercev1.RegisterSubscriptionServiceServer(svc, &server.Subscriptions{Service: c.Subscriptions})
	svc.Clocks.RunDue = c.Subscriptions.RunDue
	svc.Go(func(ctx context.Context) { c.Subscriptions.Run(ctx, time.Second) })
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

// unconfigured is the subscription service of a commerce started without
// licensing and billing.
type unconfigured struct {
	commercev1.UnimplementedSubscriptionServiceServer
}
