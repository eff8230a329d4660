// Package server is the commerce service's gRPC face: it checks requests and
// who may make them, calls the domain rules and the store, and maps errors.
package server

import (
	"context"
	"fmt"

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
}

// ListEvents lists an organization's events, newest first, each described in
// the caller's language. Operators and the organization's admins, including
// GLOBAL_READER.
func (s *Events) ListEvents(ctx context.Context, req *commercev1.ListEventsRequest) (*commercev1.ListEventsResponse, error) {
	ids, err := names.Parse("parent", req.GetParent(), audit.OrganizationPattern)
	if err != nil {
		return nil, err
	}
	org := ids[0]
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
	lang := locale.FromContext(ctx)
	for _, e := range resp.Events {
		e.Description = audit.Describe(e, lang)
	}
	return resp, nil
}
