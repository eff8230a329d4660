package server

import (
	"context"
	"fmt"

	"github.com/selfserve/selfserve/services/kit/kv"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

// MaxPaymentEvents bounds one RecordPaymentEvents call.
const MaxPaymentEvents = 500

// Payments implements the internal PaymentEventService: billing reports
// what happened to the invoices of subscriptions (paid on a retry, unpaid
// for 30 days); the events are kept and queued for the subscriptions.
type Payments struct {
	commercev1.UnimplementedPaymentEventServiceServer
	Store *store.Store
	// Received is called after new events were queued.
	Received func()
}

// RecordPaymentEvents records each event once, all or nothing.
func (s *Payments) RecordPaymentEvents(ctx context.Context, req *commercev1.RecordPaymentEventsRequest) (*commercev1.RecordPaymentEventsResponse, error) {
	if !auth.FromContext(ctx).IsInternal() {
		return nil, errs.Denied("payment events come from the billing service only")
	}
	if n := len(req.GetEvents()); n == 0 || n > MaxPaymentEvents {
		return nil, errs.Field("events", "a call records 1 to %d payment events", MaxPaymentEvents)
	}
	for i, e := range req.GetEvents() {
		field := fmt.Sprintf("events[%d]", i)
		switch {
		case e.GetName() == "" || len(e.GetName()) > 100:
			return nil, errs.Field(field+".name", "%s.name must be 1 to 100 characters", field)
		case e.GetType() != commercev1.PaymentEvent_INVOICE_PAID && e.GetType() != commercev1.PaymentEvent_INVOICE_UNPAID:
			return nil, errs.Field(field+".type", "%s.type must be INVOICE_PAID or INVOICE_UNPAID", field)
		case e.GetCreateTime() == nil || e.GetCreateTime().CheckValid() != nil:
			return nil, errs.Field(field+".create_time", "%s.create_time is required", field)
		}
		if _, ok := names.Match(e.GetSubscription(), names.Subscription); !ok {
			return nil, errs.Field(field+".subscription", "%s.subscription must be a subscription name", field)
		}
	}
	recorded := int32(0)
	err := s.Store.DB.Update(func(tx kv.Tx) error {
		for _, e := range req.GetEvents() {
			fresh, err := store.InsertPaymentEvent(tx, e)
			if err != nil {
				return err
			}
			if fresh {
				recorded++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if recorded > 0 && s.Received != nil {
		s.Received()
	}
	return &commercev1.RecordPaymentEventsResponse{Recorded: recorded}, nil
}
