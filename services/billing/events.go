package billing

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/outbox"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// errNoCommerce keeps events pending when no commerce service is configured.
var errNoCommerce = errors.New("no commerce address: events wait in the outbox")

// outboxes sets up the two outboxes to commerce: audit events for the feed,
// payment events for subscriptions.
func (c *Component) outboxes(cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	audit := func(context.Context, []outbox.Message) error { return errNoCommerce }
	payments := audit
	if cfg.CommerceAddr != "" {
		conn, err := serve.DialService(cfg.CommerceAddr, "billing", cfg.Signer)
		if err != nil {
			return err
		}
		c.conns = append(c.conns, conn)
		auditClient := commercev1.NewAuditServiceClient(conn)
		paymentClient := commercev1.NewPaymentEventServiceClient(conn)
		audit = outbox.Tolerant(func(ctx context.Context, batch []outbox.Message) error {
			req := &commercev1.RecordEventsRequest{}
			for _, m := range batch {
				e := &commercev1.Event{}
				if err := proto.Unmarshal(m.Value, e); err != nil {
					return err
				}
				req.Events = append(req.Events, e)
			}
			_, err := auditClient.RecordEvents(ctx, req)
			return err
		}, log)
		payments = outbox.Tolerant(func(ctx context.Context, batch []outbox.Message) error {
			req := &commercev1.RecordPaymentEventsRequest{}
			for _, m := range batch {
				e := &commercev1.PaymentEvent{}
				if err := proto.Unmarshal(m.Value, e); err != nil {
					return err
				}
				req.Events = append(req.Events, e)
			}
			_, err := paymentClient.RecordPaymentEvents(ctx, req)
			return err
		}, log)
	}
	c.Audit = store.NewAuditOutbox(c.Store.DB, audit, log)
	c.Payments = store.NewPaymentOutbox(c.Store.DB, payments, log)
	return nil
}
