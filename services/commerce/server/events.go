// Package server is the commerce service's gRPC face: it checks requests and
// who may make them, calls the domain rules and the store, and maps errors.
package server

import (
	"context"
	"fmt"

	"golang.org/x/text/language"

	"github.com/selfserve/selfserve/services/kit/kv"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/audit"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
)

// Audit implements the internal AuditService: licensing and billing deliver
// their events to the feed through it.
type Audit struct {
	commercev1.UnimplementedAuditServiceServer
	Store *store.Store
}

// RecordEvents records a batch of events, all or nothing, each once: a
// redelivered batch records nothing twice. Services and operators only.
func (a *Audit) RecordEvents(ctx context.Context, req *commercev1.RecordEventsRequest) (*commercev1.RecordEventsResponse, error) {
	if !auth.FromContext(ctx).IsInternal() {
		return nil, errs.Denied("only a selfserve service or an operator may record events")
	}
	in := req.GetEvents()
	if len(in) == 0 || len(in) > audit.MaxBatch {
		return nil, errs.Field("events", "events must hold 1 to %d events", audit.MaxBatch)
	}
	// Every event is checked before anything is written.
	events := make([]*commercev1.Event, len(in))
	for i, e := range in {
		n, err := audit.Normalize(fmt.Sprintf("events[%d]", i), e)
		if err != nil {
			return nil, err
		}
		events[i] = n
	}
	var recorded int32
	err := a.Store.DB.Update(func(tx kv.Tx) error {
		for _, e := range events {
			isNew, err := store.InsertEvent(tx, e)
			if err != nil {
				return err
			}
			if isNew {
				recorded++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &commercev1.RecordEventsResponse{Recorded: recorded}, nil
}

// Events implements EventService, the organization's audit feed.
type Events struct {
	commercev1.UnimplementedEventServiceServer
	Store *store.Store
	// UserDisplayName names a user of the directory ("" when unknown), so
	// that every event names people alike, whether its source knew the
	// name or not. Nil: people without a recorded name are named by id.
	UserDisplayName func(ctx context.Context, user string) string
}

// ListEvents lists an organization's events, newest first, each described in
// the caller's language. Operators and the organization's admins, including
// GLOBAL_READER.
func (s *Events) ListEvents(ctx context.Context, req *commercev1.ListEventsRequest) (*commercev1.ListEventsResponse, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), audit.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if !caller.Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	if !caller.IsOperator() && !caller.IsAdmin() {
		return nil, errs.Denied("only an admin or GLOBAL_READER may read the audit feed")
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListEvents", org)
	if err != nil {
		return nil, err
	}
	resp := &commercev1.ListEventsResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		events, next, err := store.ListEvents(tx, org, pg.After, pg.Size)
		resp.Events = events
		resp.NextPageToken = pg.Next(next)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.describe(ctx, org, locale.FromContext(ctx), resp.Events...)
	return resp, nil
}

// describe fills the description (in lang) and the actor's display name of
// events of org.
func (s *Events) describe(ctx context.Context, org string, lang language.Tag, events ...*commercev1.Event) {
	known := s.names(ctx, org)
	for _, e := range events {
		e.Description = audit.DescribeNamed(e, lang, known)
		if e.ActorDisplayName == "" && e.Actor != "" {
			e.ActorDisplayName = known.User(e.Actor)
		}
	}
}

// DescribeForWebhook fills an event's description, in English, and its
// actor's display name, as the feed shows them: what a webhook sends.
func (s *Events) DescribeForWebhook(ctx context.Context, e *commercev1.Event) {
	var org string
	if names.Scan(e.GetName(), audit.EventPattern, &org) {
		s.describe(ctx, org, locale.English, e)
	}
}

// names tells the feed of org the display names of its users, of the
// catalog's products (in the reader's language) and of its subscriptions
// (their product's), each looked up once a request; nothing of another
// organization is named.
func (s *Events) names(ctx context.Context, org string) audit.Names {
	users := map[string]string{}
	user := func(name string) string {
		if d, ok := users[name]; ok {
			return d
		}
		d := ""
		var of string
		if names.Scan(name, audit.UserPattern, &of) && of == org && s.UserDisplayName != nil {
			d = s.UserDisplayName(ctx, name)
		}
		users[name] = d
		return d
	}
	product := func(name string, lang language.Tag) string {
		var id string
		if !names.Scan(name, audit.ProductPattern, &id) {
			return ""
		}
		var d string
		_ = s.Store.DB.View(func(tx kv.Tx) error {
			if p, err := store.GetProduct(tx, id); err == nil {
				d = p.DisplayName(lang)
			}
			return nil
		})
		return d
	}
	subscription := func(name string, lang language.Tag) string {
		var of, id string
		if !names.Scan(name, audit.SubscriptionPattern, &of, &id) || of != org {
			return ""
		}
		var sub *commercev1.Subscription
		_ = s.Store.DB.View(func(tx kv.Tx) (err error) {
			sub, _, err = store.GetSubscription(tx, org, id)
			return err
		})
		if sub == nil {
			return ""
		}
		if d := product(sub.GetProduct(), lang); d != "" {
			return d
		}
		return sub.GetProductDisplayName()
	}
	return audit.Names{User: user, Product: product, Subscription: subscription}
}
