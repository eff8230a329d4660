package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/audit"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
	"github.com/selfserve/selfserve/services/kit/webhook"
)

// MaxWebhookDescription bounds an endpoint's description, in characters.
const MaxWebhookDescription = 200

// Webhooks implements WebhookService: an organization's endpoints and their
// delivery logs. The sending itself is the webhooks package's.
type Webhooks struct {
	commercev1.UnimplementedWebhookServiceServer
	Store *store.Store
	Clock clock.Clock
	// Policy says which URLs may be registered.
	Policy webhook.Policy
	// Notify wakes the sender after a redelivery; nil: it finds it on its
	// next round.
	Notify func()
	// Now is the sender's wall clock, which schedules deliveries; nil is
	// time.Now.
	Now func() time.Time
}

func (s *Webhooks) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// webhookAdmin checks that the caller may manage org's webhooks: a
// GLOBAL_ADMIN or BILLING_ADMIN of org, or, to read, an operator. Callers
// from elsewhere learn nothing of org (NOT_FOUND for name).
func webhookAdmin(caller *auth.Identity, org, name string, read bool) error {
	if read && caller.IsOperator() {
		return nil
	}
	if !caller.Sees(org) {
		return errs.NotFound(name)
	}
	if !caller.MemberOf(org) || !caller.HasRole(auth.GlobalAdmin, auth.BillingAdmin) {
		return errs.Denied("only a GLOBAL_ADMIN or BILLING_ADMIN may manage webhooks")
	}
	return nil
}

// withoutSecret is an endpoint as every answer but CreateWebhook's shows it.
func withoutSecret(w *commercev1.Webhook) *commercev1.Webhook {
	w = proto.Clone(w).(*commercev1.Webhook)
	w.Secret = ""
	return w
}

// CreateWebhook registers an endpoint: an https URL on the public internet
// (unless the policy allows private addresses), the event types it takes
// (none: all), and a description. The answer carries its secret, the only
// time it is shown; a retry with the same request id answers the same.
func (s *Webhooks) CreateWebhook(ctx context.Context, req *commercev1.CreateWebhookRequest) (*commercev1.Webhook, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), audit.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if err := webhookAdmin(caller, org, req.GetParent(), false); err != nil {
		return nil, err
	}
	in := req.GetWebhook()
	if in.GetUrl() == "" {
		return nil, errs.Field("webhook.url", "webhook.url is required")
	}
	if err := s.Policy.CheckURL(ctx, in.GetUrl()); err != nil {
		return nil, errs.Field("webhook.url", "webhook.url cannot receive webhooks: %v", err)
	}
	var types []commercev1.Event_Type
	for _, t := range in.GetEventTypes() {
		if _, known := commercev1.Event_Type_name[int32(t)]; !known || t == commercev1.Event_TYPE_UNSPECIFIED {
			return nil, errs.Field("webhook.event_types", "webhook.event_types may hold only the types of Event.Type, not %v", t)
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if utf8.RuneCountInString(in.GetDescription()) > MaxWebhookDescription {
		return nil, errs.Field("webhook.description", "webhook.description is longer than %d characters", MaxWebhookDescription)
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	var r [2]byte
	_, _ = rand.Read(r[:])
	now := s.Clock.Now()
	id := store.NewWebhookID(now, binary.BigEndian.Uint16(r[:]))
	w := &commercev1.Webhook{
		Name:        store.WebhookName(org, id),
		Url:         in.GetUrl(),
		EventTypes:  types,
		Description: in.GetDescription(),
		Secret:      secret,
		CreateTime:  timestamppb.New(now),
		Creator:     caller.UserName(),
	}
	resp := &commercev1.Webhook{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("CreateWebhook", catalogPrincipal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		if err := store.CreateWebhook(tx, org, id, w); err != nil {
			return err
		}
		proto.Merge(resp, w)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// GetWebhook reads an endpoint, without its secret.
func (s *Webhooks) GetWebhook(ctx context.Context, req *commercev1.GetWebhookRequest) (*commercev1.Webhook, error) {
	var org, webhook string
	err := names.ParseInto("name", req.GetName(), store.WebhookPattern, &org, &webhook)
	if err != nil {
		return nil, err
	}
	if err := webhookAdmin(auth.FromContext(ctx), org, req.GetName(), true); err != nil {
		return nil, err
	}
	var w *commercev1.Webhook
	err = s.Store.DB.View(func(tx kv.Tx) (err error) {
		w, err = store.GetWebhook(tx, org, webhook)
		return err
	})
	if err != nil {
		return nil, err
	}
	return withoutSecret(w), nil
}

// ListWebhooks lists the organization's endpoints, oldest first, without
// their secrets.
func (s *Webhooks) ListWebhooks(ctx context.Context, req *commercev1.ListWebhooksRequest) (*commercev1.ListWebhooksResponse, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), audit.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	if err := webhookAdmin(auth.FromContext(ctx), org, req.GetParent(), true); err != nil {
		return nil, err
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListWebhooks", org)
	if err != nil {
		return nil, err
	}
	resp := &commercev1.ListWebhooksResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		hooks, next, err := store.ListWebhooks(tx, org, pg.After, pg.Size)
		for _, w := range hooks {
			resp.Webhooks = append(resp.Webhooks, withoutSecret(w))
		}
		resp.NextPageToken = pg.Next(next)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// DeleteWebhook removes an endpoint with its queue and delivery log:
// nothing more is sent to it, attempts in flight aside.
func (s *Webhooks) DeleteWebhook(ctx context.Context, req *commercev1.DeleteWebhookRequest) (*emptypb.Empty, error) {
	var org, webhook string
	err := names.ParseInto("name", req.GetName(), store.WebhookPattern, &org, &webhook)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if err := webhookAdmin(caller, org, req.GetName(), false); err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	resp := &emptypb.Empty{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("DeleteWebhook", catalogPrincipal(caller), rid), s.Clock.Now(), req, resp, func(tx kv.Tx) error {
		return store.DeleteWebhook(tx, org, webhook)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ListWebhookDeliveries lists an endpoint's deliveries, newest first.
func (s *Webhooks) ListWebhookDeliveries(ctx context.Context, req *commercev1.ListWebhookDeliveriesRequest) (*commercev1.ListWebhookDeliveriesResponse, error) {
	var org, webhook string
	err := names.ParseInto("parent", req.GetParent(), store.WebhookPattern, &org, &webhook)
	if err != nil {
		return nil, err
	}
	if err := webhookAdmin(auth.FromContext(ctx), org, req.GetParent(), true); err != nil {
		return nil, err
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListWebhookDeliveries", org, webhook)
	if err != nil {
		return nil, err
	}
	resp := &commercev1.ListWebhookDeliveriesResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		ds, next, err := store.ListDeliveries(tx, org, webhook, pg.After, pg.Size)
		resp.Deliveries = ds
		resp.NextPageToken = pg.Next(next)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// RedeliverWebhookDelivery queues a delivery again, due at once, with a
// fresh three days of retries; it keeps its event, so the endpoint sees the
// same Selfserve-Event again.
func (s *Webhooks) RedeliverWebhookDelivery(ctx context.Context, req *commercev1.RedeliverWebhookDeliveryRequest) (*commercev1.WebhookDelivery, error) {
	var org, webhook, delivery string
	err := names.ParseInto("name", req.GetName(), store.DeliveryPattern, &org, &webhook, &delivery)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if err := webhookAdmin(caller, org, req.GetName(), false); err != nil {
		return nil, err
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	// The schedule runs on the wall clock, as the sender's does.
	now := s.now()
	resp := &commercev1.WebhookDelivery{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("RedeliverWebhookDelivery", catalogPrincipal(caller), rid), s.Clock.Now(), req, resp, func(tx kv.Tx) error {
		d, err := store.Redeliver(tx, org, webhook, delivery, now)
		if err != nil {
			return err
		}
		proto.Merge(resp, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.Notify != nil {
		s.Notify()
	}
	return resp, nil
}
