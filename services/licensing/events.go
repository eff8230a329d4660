package licensing

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/outbox"
	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// errNoCommerce keeps events pending when no commerce service is configured.
var errNoCommerce = errors.New("no commerce address: audit events wait in the outbox")

// newEventSender delivers the store's audit events to commerce's AuditService.
// The returned close func closes its connection.
func newEventSender(cfg Config, st *store.Store) (*outbox.Outbox, func() error, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	deliver := func(context.Context, []outbox.Message) error { return errNoCommerce }
	closeConn := func() error { return nil }
	if cfg.CommerceAddr != "" {
		conn, err := serve.DialService(cfg.CommerceAddr, "licensing", cfg.Signer)
		if err != nil {
			return nil, nil, err
		}
		closeConn = conn.Close
		audit := commercev1.NewAuditServiceClient(conn)
		deliver = outbox.Tolerant(func(ctx context.Context, batch []outbox.Message) error {
			req := &commercev1.RecordEventsRequest{}
			for _, m := range batch {
				e := &commercev1.Event{}
				if err := proto.Unmarshal(m.Value, e); err != nil {
					return err
				}
				req.Events = append(req.Events, e)
			}
			_, err := audit.RecordEvents(ctx, req)
			return err
		}, log)
	}
	return store.NewEventOutbox(st.DB, deliver, log), closeConn, nil
}
